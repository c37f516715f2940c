// Quarantine and restore of real files in a temporary directory: same filesystem (rename) and across
// filesystems (the store on a tmpfs this test mounts and unmounts; root only).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  openSync,
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Guardrails } from "../src/response/guardrails.ts";
import { ResponseExecutor } from "../src/response/response-executor.ts";
import { show, tempStateDir } from "./response-harness.ts";

const root = process.getuid?.() === 0;

type Snapshot = { bytes: Buffer; mode: number; uid: number; gid: number; mtimeMs: number; atimeMs: number };

/** O_NOATIME: looking at the file must not move the access time the test compares. */
function snapshot(path: string): Snapshot {
  const info = lstatSync(path);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOATIME);
  let bytes: Buffer;
  try {
    bytes = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  return {
    bytes,
    mode: info.mode & 0o7777,
    uid: info.uid,
    gid: info.gid,
    mtimeMs: info.mtimeMs,
    atimeMs: info.atimeMs,
  };
}

/** A file with content, owner, mode and times unlike any default, so a restore that loses one shows. */
function makeSample(path: string): Snapshot {
  writeFileSync(path, randomBytes(300_000));
  if (root) chownSync(path, 1234, 5678);
  chmodSync(path, 0o2751);
  utimesSync(path, new Date("2021-03-04T05:06:07.250Z"), new Date("2020-01-02T03:04:05.125Z"));
  return snapshot(path);
}

async function roundTrip(stateDir: string, file: string, method: "rename" | "copy"): Promise<void> {
  const before = makeSample(file);
  const executor = new ResponseExecutor({ stateDir });
  const quarantined = await executor.execute({ action: "quarantine", path: file }, { origin: "local" });
  assert.equal(quarantined.ok, true, show(quarantined));
  assert.equal(quarantined.details?.method, method);
  const id = quarantined.details?.id as string;
  assert.match(id, /^[0-9a-f]{16}$/);
  assert.equal(existsSync(file), false, "the file left its place");
  const blob = join(stateDir, "quarantine", `${id}.bin`);
  assert.equal(lstatSync(blob).mode & 0o7777, 0, "the quarantined content has no permissions");
  assert.equal(lstatSync(join(stateDir, "quarantine")).mode & 0o777, 0o700);
  const expectedHash = createHash("sha256").update(before.bytes).digest("hex");
  assert.equal(quarantined.details?.sha256, expectedHash);

  const listed = await executor.execute({ action: "list" });
  const entries = listed.details?.quarantined as { id: string; path: string }[];
  assert.deepEqual(
    entries.map((e) => [e.id, e.path]),
    [[id, file]],
  );

  const restored = await executor.execute({ action: "restore", id }, { origin: "local" });
  assert.equal(restored.ok, true, show(restored));
  const after = snapshot(file);
  assert.ok(after.bytes.equals(before.bytes), "byte-identical");
  assert.deepEqual({ ...after, bytes: null }, { ...before, bytes: null });
  assert.equal(existsSync(blob), false);
}

test("quarantine and restore on one filesystem (rename): bytes, owner, mode, times come back", async () => {
  const state = tempStateDir();
  try {
    const dir = join(state.dir, "victim");
    mkdirSync(dir);
    await roundTrip(join(state.dir, "state"), join(dir, "dropper.bin"), "rename");
  } finally {
    state.cleanup();
  }
});

test(
  "quarantine and restore across filesystems (copy + fsync + unlink)",
  { skip: root ? false : "needs root (mount)" },
  async () => {
    const state = tempStateDir();
    const store = join(state.dir, "tmpfs-state");
    mkdirSync(store);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64m,mode=0700", "ring3-test", store]);
    assert.equal(mounted.status, 0, mounted.stderr.toString());
    try {
      await roundTrip(store, join(state.dir, "payload.elf"), "copy");
    } finally {
      spawnSync("umount", [store]);
      state.cleanup();
    }
  },
);

test("refusals: critical paths (also through a symlinked directory), non-files, bad ids, occupied restore", async () => {
  const state = tempStateDir();
  try {
    const stateDir = join(state.dir, "state");
    const executor = new ResponseExecutor({ stateDir });
    const before = readFileSync("/etc/passwd");
    const critical = await executor.execute({ action: "quarantine", path: "/etc/passwd" });
    assert.equal(critical.code, "R3_ERR_RESPONSE_CRITICAL_PATH", show(critical));
    assert.ok(readFileSync("/etc/passwd").equals(before));
    symlinkSync("/usr/bin", join(state.dir, "bin"));
    const viaLink = await executor.execute({ action: "quarantine", path: join(state.dir, "bin", "env") });
    assert.equal(viaLink.code, "R3_ERR_RESPONSE_CRITICAL_PATH", show(viaLink));
    assert.ok(existsSync("/usr/bin/env"));

    mkdirSync(join(state.dir, "dir"));
    symlinkSync("/etc/hostname", join(state.dir, "link"));
    const cases: [string, string][] = [
      [join(state.dir, "dir"), "R3_ERR_RESPONSE_NOT_A_FILE"],
      [join(state.dir, "link"), "R3_ERR_RESPONSE_NOT_A_FILE"],
      [join(state.dir, "missing"), "R3_ERR_RESPONSE_NO_SUCH_FILE"],
      ["relative/path", "R3_ERR_RESPONSE_INVALID"],
    ];
    for (const [path, code] of cases) {
      const result = await executor.execute({ action: "quarantine", path });
      assert.equal(result.code, code, `${path}: ${show(result)}`);
    }

    // ring3's own state is off limits even with force.
    writeFileSync(join(stateDir, "note"), "x");
    const own = await executor.execute({ action: "quarantine", path: join(stateDir, "note"), force: true });
    assert.equal(own.code, "R3_ERR_RESPONSE_CRITICAL_PATH", show(own));

    for (const id of ["../../etc/passwd", "0123456789abcdef"]) {
      const result = await executor.execute({ action: "restore", id });
      assert.equal(result.code, "R3_ERR_RESPONSE_QUARANTINE_NOT_FOUND", show(result));
    }

    const file = join(state.dir, "sample");
    writeFileSync(file, "original");
    const q = await executor.execute({ action: "quarantine", path: file });
    assert.equal(q.ok, true, show(q));
    writeFileSync(file, "something new");
    const occupied = await executor.execute({ action: "restore", id: q.details?.id as string });
    assert.equal(occupied.code, "R3_ERR_RESPONSE_RESTORE_EXISTS", show(occupied));
    assert.equal(readFileSync(file, "utf8"), "something new", "the new file is untouched");

    // A damaged store is reported and left as it is, never restored.
    rmSync(file);
    const blob = join(stateDir, "quarantine", `${q.details?.id as string}.bin`);
    chmodSync(blob, 0o600);
    writeFileSync(blob, "tampered");
    const damaged = await executor.execute({ action: "restore", id: q.details?.id as string });
    assert.equal(damaged.code, "R3_ERR_RESPONSE_FAILED", show(damaged));
    assert.match(damaged.message, /does not match its recorded SHA-256/);
    assert.ok(existsSync(blob));
  } finally {
    state.cleanup();
  }
});

test("dry run hashes in place and moves nothing; force lifts the critical-path refusal only", async () => {
  const state = tempStateDir();
  try {
    const file = join(state.dir, "x");
    writeFileSync(file, "abc");
    const executor = new ResponseExecutor({ stateDir: join(state.dir, "state") });
    const dry = await executor.execute({ action: "quarantine", path: file, dryRun: true });
    assert.equal(dry.ok, true, show(dry));
    assert.equal(dry.details?.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.ok(existsSync(file));
    const guardrails = new Guardrails({ ownPaths: [join(state.dir, "state")] });
    assert.match((await guardrails.pathReason("/usr/bin/env", false)) ?? "", /system-critical directory/);
    assert.equal(await guardrails.pathReason("/usr/bin/env", true), undefined);
    assert.match((await guardrails.pathReason(join(state.dir, "state", "q"), true)) ?? "", /ring3's own state/);
  } finally {
    state.cleanup();
  }
});
