import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessTree } from "../src/process-tree.ts";

const T = "2026-01-01T00:00:00.000Z";

test("fork inherits the parent's image until exec; ancestry walks up", () => {
  const tree = new ProcessTree();
  tree.addSnapshot(1, 0, T, { image: "/sbin/init", commandLine: "/sbin/init" });
  tree.addSnapshot(100, 1, T, { image: "/usr/bin/bash", commandLine: "bash", auid: 1000 });
  const child = tree.fork(100, 200, T);
  assert.equal(child.image, "/usr/bin/bash");
  assert.equal(child.auid, 1000);
  tree.exec(200, T, { image: "/usr/bin/echo", argv: ["/bin/echo", "x"], commandLine: "/bin/echo x", cwd: "/tmp" });
  assert.equal(tree.get(200)?.commandLine, "/bin/echo x");
  assert.equal(tree.get(200)?.auid, 1000);
  assert.deepEqual(
    tree.ancestry(200).map((p) => p.pid),
    [100, 1],
  );
  // A snapshot never overwrites what events said.
  tree.addSnapshot(200, 1, T, { image: "/stale" });
  assert.equal(tree.get(200)?.image, "/usr/bin/echo");
});

test("exec of an unknown pid (connector missed the fork) takes ppid from audit", () => {
  const tree = new ProcessTree();
  tree.addSnapshot(10, 1, T, { image: "/usr/bin/sh" });
  tree.exec(11, T, { image: "/usr/bin/id", ppid: 10 });
  assert.deepEqual(
    tree.ancestry(11).map((p) => p.pid),
    [10],
  );
});

test("an execve read before its fork keeps its image; a fork replaces an older process of the pid", () => {
  const tree = new ProcessTree();
  tree.addSnapshot(10, 1, T, { image: "/usr/bin/dash" });
  // Audit's execve of pid 11 arrives first (the node is created from it), then the connector's fork and exit.
  tree.exec(11, "2026-01-01T00:00:01.005Z", { image: "/usr/bin/true", ppid: 10 });
  const child = tree.fork(10, 11, "2026-01-01T00:00:01.004Z");
  assert.equal(child.image, "/usr/bin/true");
  assert.equal(tree.exit(11, "2026-01-01T00:00:01.006Z", 1)?.image, "/usr/bin/true");
  // Pid 11 again, later: the exited entry belongs to the earlier process and is replaced by the fork.
  const again = tree.fork(10, 11, "2026-01-01T00:00:09.000Z");
  assert.equal(again.image, "/usr/bin/dash");
  assert.equal(again.exitTime, undefined);
  // A live entry older than the fork (its exit was never seen) is replaced too.
  tree.exec(12, "2026-01-01T00:00:02.000Z", { image: "/usr/bin/sleep", ppid: 10 });
  assert.equal(tree.fork(10, 12, "2026-01-01T00:00:05.000Z").image, "/usr/bin/dash");
});

test("exited processes age out after the retention; live ones stay", () => {
  const tree = new ProcessTree({ retentionMs: 1000 });
  tree.addSnapshot(1, 0, T, {});
  tree.fork(1, 2, T);
  tree.exit(2, T, 5000);
  assert.equal(tree.sweep(5999), 0);
  assert.equal(tree.get(2)?.exitTime, T);
  assert.equal(tree.sweep(6000), 1);
  assert.equal(tree.get(2), undefined);
  assert.ok(tree.get(1) !== undefined);
});

test("the cap evicts exited processes first, then the oldest", () => {
  const tree = new ProcessTree({ maxProcesses: 3 });
  tree.addSnapshot(1, 0, T, {});
  tree.fork(1, 2, T);
  tree.exit(2, T);
  tree.fork(1, 3, T);
  tree.fork(1, 4, T);
  assert.equal(tree.size, 3);
  assert.equal(tree.get(2), undefined);
  tree.fork(1, 5, T);
  assert.deepEqual(
    [1, 3, 4, 5].map((pid) => tree.get(pid) !== undefined),
    [false, true, true, true],
  );
});

test("a pid loop in ppid does not hang ancestry", () => {
  const tree = new ProcessTree();
  tree.addSnapshot(5, 6, T, {});
  tree.addSnapshot(6, 5, T, {});
  assert.deepEqual(
    tree.ancestry(5).map((p) => p.pid),
    [6],
  );
});
