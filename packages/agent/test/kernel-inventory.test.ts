import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { KernelInventoryTracker, decodeTaint, parseProcModules } from "../src/sensors/kernel-inventory/parse.ts";
import {
  kernelChangeEvent,
  kernelInventoryEvents,
  readKernelSnapshot,
} from "../src/sensors/kernel-inventory/source.ts";

const MODULES = `nf_tables 348160 0 - Live 0xffffffffc0a00000
nfnetlink 20480 3 nf_tables,nft_ct, Live 0x0000000000000000
vboxdrv 696320 2 vboxnetadp,vboxnetflt, Live 0xffffffffc0800000 (OE)
diamorphine 16384 0 - Loading 0xffffffffc0700000 (OE)
`;

test("parseProcModules: name, size, users, state and the module's own taint letters", () => {
  const modules = parseProcModules(MODULES);
  assert.equal(modules.length, 4);
  assert.deepEqual(modules[0], { name: "nf_tables", size: 348160, refcount: 0, usedBy: [], state: "Live", taint: "" });
  assert.deepEqual(modules[1]!.usedBy, ["nf_tables", "nft_ct"]);
  assert.equal(modules[2]!.taint, "OE");
  assert.equal(modules[3]!.state, "Loading");
  assert.deepEqual(parseProcModules("\n  \n"), []);
});

test("decodeTaint: bits to letters, unknown bits kept", () => {
  assert.deepEqual(decodeTaint(0), []);
  // 4096 O (out-of-tree) + 8192 E (unsigned) + 1 P (proprietary)
  assert.deepEqual(
    decodeTaint(4096 + 8192 + 1).map((f) => f.letter),
    ["P", "O", "E"],
  );
  assert.deepEqual(decodeTaint(2 ** 30), [{ bit: 30, letter: "?", meaning: "unknown taint bit 30" }]);
});

test("KernelInventoryTracker: baseline at start, new modules and taint changes after it", () => {
  const tracker = new KernelInventoryTracker();
  const base = parseProcModules(MODULES).slice(0, 3);
  assert.deepEqual(tracker.observe(base, 0), []);
  assert.deepEqual(tracker.observe(base, 0), []);
  const rootkit = parseProcModules(MODULES)[3]!;
  assert.deepEqual(tracker.observe([...base, rootkit], 12288), [
    { kind: "module-loaded", module: rootkit },
    { kind: "taint-changed", previous: 0, taint: 12288 },
  ]);
  // Still loaded: reported once. Unloaded: reported. Loaded again: reported again.
  assert.deepEqual(tracker.observe([...base, rootkit], 12288), []);
  assert.deepEqual(tracker.observe(base, 12288), [{ kind: "module-unloaded", name: "diamorphine" }]);
  assert.deepEqual(tracker.observe([...base, rootkit], 12288), [{ kind: "module-loaded", module: rootkit }]);
  // A start-time module unloaded and loaded again is not new.
  assert.deepEqual(tracker.observe([base[1]!, base[2]!, rootkit], 12288), [
    { kind: "module-unloaded", name: "nf_tables" },
  ]);
  assert.deepEqual(tracker.observe([...base, rootkit], 12288), []);
});

test("KernelInventoryTracker: no /proc/modules still compares taint", () => {
  const tracker = new KernelInventoryTracker();
  assert.deepEqual(tracker.observe(undefined, 0), []);
  assert.deepEqual(tracker.observe(undefined, 512), [{ kind: "taint-changed", previous: 0, taint: 512 }]);
});

test("inventory events: ring3-inventory service, one per module plus taint; changes as alert types", async () => {
  const proc = mkdtempSync(join(tmpdir(), "ring3-kinv-"));
  try {
    mkdirSync(join(proc, "sys", "kernel"), { recursive: true });
    writeFileSync(join(proc, "modules"), MODULES);
    writeFileSync(join(proc, "sys", "kernel", "tainted"), "12288\n");
    const snapshot = await readKernelSnapshot(proc);
    let n = 0;
    const ctx = { host: "h", nextId: () => `id-${++n}` };
    const events = kernelInventoryEvents(ctx, snapshot);
    assert.equal(events.length, 5);
    assert.deepEqual(events[0]!.logsource, { product: "linux", service: "ring3-inventory" });
    assert.equal(events[2]!.fields.ModuleTaint, "OE");
    assert.deepEqual(events[4]!.fields, {
      EventType: "KernelTaint",
      Taint: 12288,
      TaintFlags: "OE",
      TaintReasons: ["externally-built (out-of-tree) module loaded", "unsigned module loaded"],
    });
    const change = kernelChangeEvent(ctx, { kind: "taint-changed", previous: 0, taint: 4096 });
    assert.equal(change.fields.EventType, "KernelTaintChanged");
    assert.equal(change.fields.TaintFlags, "O");
    assert.deepEqual((await readKernelSnapshot(join(proc, "missing"))).modules, undefined);
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});
