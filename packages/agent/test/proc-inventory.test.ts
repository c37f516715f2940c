import assert from "node:assert/strict";
import { test } from "node:test";
import {
  joinCommandLine,
  parseBootTime,
  parseCmdline,
  parseProcStat,
  parseStatusUids,
  startTimeIso,
} from "../src/sensors/proc-inventory/parse.ts";
import { readProcInventory } from "../src/sensors/proc-inventory/source.ts";

test("/proc/<pid>/stat with spaces and parentheses in comm", () => {
  // Captured: /proc/<pid>/stat of a process renamed with prctl(PR_SET_NAME, "a) (b c").
  const text =
    "4242 (a) (b c) S 17 4242 17 34816 4242 4194304 96 0 0 0 0 0 0 0 20 0 1 0 305123 2490368 240 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  assert.deepEqual(parseProcStat(text), { pid: 4242, comm: "a) (b c", state: "S", ppid: 17, startTicks: 305123 });
  assert.equal(parseProcStat("garbage"), undefined);
});

test("status uids, cmdline, btime, start time, command line quoting", () => {
  assert.deepEqual(parseStatusUids("Name:\tsleep\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n"), {
    uid: 1000,
    euid: 0,
  });
  assert.deepEqual(parseCmdline(Buffer.from("/bin/sh\0-c\0echo a b\0")), ["/bin/sh", "-c", "echo a b"]);
  assert.deepEqual(parseCmdline(Buffer.alloc(0)), []);
  assert.equal(parseBootTime("cpu  1 2 3\nbtime 1732400000\nprocesses 9\n"), 1732400000);
  assert.equal(startTimeIso(1732400000, 250), "2024-11-23T22:13:22.500Z");
  assert.equal(joinCommandLine(["/bin/sh", "-c", "echo a b", ""]), '/bin/sh -c "echo a b" ""');
});

test("the live inventory includes this test process with its argv (works unprivileged)", async () => {
  const inventory = await readProcInventory();
  const self = inventory.find((p) => p.pid === process.pid);
  assert.ok(self !== undefined);
  assert.equal(self.ppid, process.ppid);
  assert.equal(self.exe, process.execPath);
  assert.ok(self.argv.some((a) => a.endsWith("proc-inventory.test.ts")));
  assert.equal(self.cwd, process.cwd());
  assert.ok(Math.abs(Date.parse(self.startTime) - (Date.now() - process.uptime() * 1000)) < 5000);
});
