// Kill, suspend and resume on real process trees this test spawns (sh and sleep). The cgroup variants need
// root and a cgroup v2 hierarchy; every test kills what it started, whatever happens.
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cgroup2Mount, parseV2Cgroup } from "../src/response/cgroup-jail.ts";
import { readStat } from "../src/response/process-scan.ts";
import { ResponseExecutor } from "../src/response/response-executor.ts";
import { alive, killLeftovers, show, spawnTree, tempStateDir } from "./response-harness.ts";

const root = process.getuid?.() === 0;
const cgroupSkip = !root
  ? "needs root (cgroup v2 writes)"
  : cgroup2Mount() === undefined
    ? "no cgroup v2 hierarchy"
    : false;

const TREE = "sleep 300 & sleep 300 & sh -c 'sleep 300 & sleep 300 & wait' & wait";

async function withState<T>(run: (stateDir: string) => Promise<T>): Promise<T> {
  const state = tempStateDir();
  try {
    return await run(state.dir);
  } finally {
    state.cleanup();
  }
}

for (const method of ["cgroup", "signal"] as const) {
  test(
    `kill --tree (${method}): the whole tree is gone, the result lists every pid`,
    { skip: method === "cgroup" ? cgroupSkip : false },
    () =>
      withState(async (stateDir) => {
        const { tree } = await spawnTree(TREE, 6);
        try {
          const executor = new ResponseExecutor({ stateDir, ...(method === "signal" ? { cgroupMount: null } : {}) });
          const result = await executor.execute({ action: "kill", pid: tree[0]!.pid, tree: true }, { origin: "local" });
          assert.equal(result.ok, true, show(result));
          assert.equal(result.details?.method, method);
          assert.deepEqual(
            result.details?.killed,
            tree.map((s) => s.pid).sort((a, b) => a - b),
          );
          assert.deepEqual(await alive(tree.map((s) => s.pid)), []);
          assert.equal(result.details?.escalated, false, "sh and sleep exit on SIGTERM");
        } finally {
          await killLeftovers(tree);
        }
      }),
  );
}

test("kill: a tree that ignores SIGTERM gets SIGKILL after the grace period", { skip: cgroupSkip }, () =>
  withState(async (stateDir) => {
    // An ignored signal stays ignored across fork and exec, so the sleeps ignore SIGTERM too.
    const { tree } = await spawnTree("trap '' TERM; sleep 300 & sleep 300 & wait", 3);
    try {
      const executor = new ResponseExecutor({ stateDir, killGraceMs: 300 });
      const result = await executor.execute({ action: "kill", pid: tree[0]!.pid, tree: true });
      assert.equal(result.ok, true, show(result));
      assert.equal(result.details?.escalated, true);
      assert.deepEqual(await alive(tree.map((s) => s.pid)), []);
    } finally {
      await killLeftovers(tree);
    }
  }),
);

test("kill of one process (pidfd): SIGTERM, and its children stay", () =>
  withState(async (stateDir) => {
    const { tree } = await spawnTree("sleep 300 & wait", 2);
    try {
      const executor = new ResponseExecutor({ stateDir });
      const result = await executor.execute({ action: "kill", pid: tree[0]!.pid });
      assert.equal(result.ok, true, show(result));
      assert.deepEqual(await alive([tree[0]!.pid]), []);
      assert.deepEqual(await alive([tree[1]!.pid]), [tree[1]!.pid], "the child was not part of the request");
    } finally {
      await killLeftovers(tree);
    }
  }));

test("kill with a start time that does not match: refused as pid reuse, the process lives", () =>
  withState(async (stateDir) => {
    const { tree } = await spawnTree("sleep 300", 1);
    try {
      const executor = new ResponseExecutor({ stateDir });
      const target = tree[0]!;
      const result = await executor.execute({ action: "kill", pid: target.pid, startTime: target.startTicks + 1 });
      assert.equal(result.ok, false);
      assert.equal(result.code, "R3_ERR_RESPONSE_PID_REUSED", show(result));
      assert.deepEqual(await alive([target.pid]), [target.pid]);
      const matching = await executor.execute({ action: "kill", pid: target.pid, startTime: target.startTicks });
      assert.equal(matching.ok, true, show(matching));
    } finally {
      await killLeftovers(tree);
    }
  }));

test("guardrails: PID 1, the agent, its parent are refused; a critical process needs force", () =>
  withState(async (stateDir) => {
    const executor = new ResponseExecutor({ stateDir });
    for (const pid of [1, process.pid, process.ppid]) {
      const result = await executor.execute({ action: "kill", pid, force: true });
      assert.equal(result.code, "R3_ERR_RESPONSE_PROTECTED", `pid ${pid}: ${show(result)}`);
    }
    // A process whose comm is "sshd" (a copy of sleep under that name) is on the critical list.
    const binary = join(stateDir, "sshd");
    copyFileSync("/bin/sleep", binary);
    const { tree } = await spawnTree(`exec ${binary} 300`, 1);
    try {
      const refused = await executor.execute({ action: "kill", pid: tree[0]!.pid });
      assert.equal(refused.code, "R3_ERR_RESPONSE_PROTECTED", show(refused));
      assert.match(refused.message, /critical process 'sshd'/);
      assert.deepEqual(await alive([tree[0]!.pid]), [tree[0]!.pid]);
      const forced = await executor.execute({ action: "kill", pid: tree[0]!.pid, force: true });
      assert.equal(forced.ok, true, show(forced));
      assert.deepEqual(await alive([tree[0]!.pid]), []);
    } finally {
      await killLeftovers(tree);
    }
  }));

test("dry run: the plan lists the tree, nothing is signalled", () =>
  withState(async (stateDir) => {
    const { tree } = await spawnTree(TREE, 6);
    try {
      const executor = new ResponseExecutor({ stateDir });
      const result = await executor.execute({ action: "kill", pid: tree[0]!.pid, tree: true, dryRun: true });
      assert.equal(result.ok, true, show(result));
      assert.equal(result.dryRun, true);
      assert.equal((result.details?.targets as unknown[]).length, 6);
      assert.equal((await alive(tree.map((s) => s.pid))).length, 6);
    } finally {
      await killLeftovers(tree);
    }
  }));

/** A shell that appends to `file` every 20 ms: it grows exactly while the tree runs. */
const writer = (file: string): string => `while :; do echo x >> ${file}; sleep 0.02; done`;
const sizeOf = (file: string): number => statSync(file, { throwIfNoEntry: false })?.size ?? 0;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test(
  "suspend --tree (cgroup freezer) stops the tree, resume puts it back in its cgroup running",
  { skip: cgroupSkip },
  () =>
    withState(async (stateDir) => {
      const file = join(stateDir, "ticks");
      writeFileSync(file, "");
      const { tree } = await spawnTree(writer(file), 1);
      const target = tree[0]!;
      const home = parseV2Cgroup(readFileSync(`/proc/${target.pid}/cgroup`, "utf8"));
      try {
        const executor = new ResponseExecutor({ stateDir });
        const suspended = await executor.execute({ action: "suspend", pid: target.pid, tree: true });
        assert.equal(suspended.ok, true, show(suspended));
        assert.equal(suspended.details?.method, "cgroup");
        const jail = suspended.details?.jail as string;
        assert.match(readFileSync(join(jail, "cgroup.events"), "utf8"), /^frozen 1$/m);
        const frozenSize = sizeOf(file);
        await pause(300);
        assert.equal(sizeOf(file), frozenSize, "a frozen tree writes nothing");

        // A new executor on the same state dir: the suspension outlives the agent that made it.
        const restarted = new ResponseExecutor({ stateDir });
        const resumed = await restarted.execute({ action: "resume", pid: target.pid });
        assert.equal(resumed.ok, true, show(resumed));
        await pause(300);
        assert.ok(sizeOf(file) > frozenSize, "the resumed tree writes again");
        assert.equal(parseV2Cgroup(readFileSync(`/proc/${target.pid}/cgroup`, "utf8")), home);
        const again = await restarted.execute({ action: "resume", pid: target.pid });
        assert.equal(again.code, "R3_ERR_RESPONSE_NOT_SUSPENDED", show(again));
      } finally {
        await killLeftovers([target]);
      }
    }),
);

test("suspend without cgroup v2: SIGSTOP (state T), resume: SIGCONT", () =>
  withState(async (stateDir) => {
    const { tree } = await spawnTree("sleep 300 & sleep 300 & wait", 3);
    try {
      const executor = new ResponseExecutor({ stateDir, cgroupMount: null });
      const suspended = await executor.execute({ action: "suspend", pid: tree[0]!.pid, tree: true });
      assert.equal(suspended.ok, true, show(suspended));
      assert.equal(suspended.details?.method, "signal");
      for (const stat of tree) assert.equal((await readStat(stat.pid))?.state, "T", `pid ${stat.pid}`);
      const resumed = await executor.execute({ action: "resume", pid: tree[0]!.pid });
      assert.equal(resumed.ok, true, show(resumed));
      assert.equal(resumed.details?.resumed, 3);
      for (const stat of tree) assert.notEqual((await readStat(stat.pid))?.state, "T", `pid ${stat.pid}`);
    } finally {
      await killLeftovers(tree);
    }
  }));

test("every action is in the log; invalid requests are refused and logged too", () =>
  withState(async (stateDir) => {
    const executor = new ResponseExecutor({ stateDir });
    const invalid = await executor.execute({ action: "kill", pid: -4 });
    assert.equal(invalid.code, "R3_ERR_RESPONSE_INVALID");
    const unknown = await executor.execute({ action: "format-disk" });
    assert.equal(unknown.code, "R3_ERR_RESPONSE_INVALID");
    assert.match(unknown.message, /unknown action "format-disk"/);
    const missing = await executor.execute({ action: "kill", pid: 4_000_000 });
    assert.equal(missing.code, "R3_ERR_RESPONSE_NO_SUCH_PROCESS");
    const lines = readFileSync(join(stateDir, "actions.jsonl"), "utf8").trim().split("\n");
    assert.equal(lines.length, 3);
    const entries = lines.map((l) => JSON.parse(l) as { request: unknown; result: { code?: string }; origin: string });
    assert.deepEqual(entries[0]!.request, { action: "kill", pid: -4 });
    assert.deepEqual(
      entries.map((e) => e.result.code),
      ["R3_ERR_RESPONSE_INVALID", "R3_ERR_RESPONSE_INVALID", "R3_ERR_RESPONSE_NO_SUCH_PROCESS"],
    );
  }));

test("timeout: an action over its limit returns R3_ERR_RESPONSE_TIMEOUT", () =>
  withState(async (stateDir) => {
    const { tree } = await spawnTree("trap '' TERM; sleep 300", 1);
    try {
      const executor = new ResponseExecutor({ stateDir, killGraceMs: 5000, timeoutsMs: { kill: 200 } });
      const result = await executor.execute({ action: "kill", pid: tree[0]!.pid });
      assert.equal(result.code, "R3_ERR_RESPONSE_TIMEOUT", show(result));
      assert.ok(result.durationMs < 2000, `${result.durationMs} ms`);
    } finally {
      await killLeftovers(tree);
    }
  }));

test("automatic actions are rate limited, operators' are not", () =>
  withState(async (stateDir) => {
    const executor = new ResponseExecutor({ stateDir, automaticLimits: { kill: { max: 1, perMs: 60_000 } } });
    const first = await executor.execute({ action: "kill", pid: 4_000_000 }, { origin: "playbook" });
    assert.equal(first.code, "R3_ERR_RESPONSE_NO_SUCH_PROCESS");
    const second = await executor.execute({ action: "kill", pid: 4_000_000 }, { origin: "playbook" });
    assert.equal(second.code, "R3_ERR_RESPONSE_RATE_LIMITED");
    const operator = await executor.execute({ action: "kill", pid: 4_000_000 }, { origin: "local" });
    assert.equal(operator.code, "R3_ERR_RESPONSE_NO_SUCH_PROCESS");
  }));
