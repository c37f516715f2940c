// Exec blocking by hash with the native exec guard. Every guard here marks only a tmpfs this test mounts
// under its own temp dir (a mount mark), so no exec elsewhere on the host ever waits on it; the mounts are
// unmounted whatever happens. vm.memfd_noexec is raised only inside a pid namespace of the test's own.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { ActionResult } from "@ring3/protocol";
import type { ExecDenial } from "../src/response/response-addon.ts";
import { loadResponseAddon } from "../src/response/response-addon.ts";
import { ResponseExecutor } from "../src/response/response-executor.ts";
import { waitFor } from "./agent-harness.ts";
import { show, tempStateDir } from "./response-harness.ts";

const load = loadResponseAddon();
const skip =
  process.getuid?.() !== 0 ? "needs root (fanotify permission events, mount)" : load.ok ? false : load.reason;
const HOLDER = join(import.meta.dirname, "fixtures", "exec-guard-holder.ts");

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

type Lab = { dir: string; mnt: string; blocked: string; other: string; cleanup: () => void };

/** A tmpfs under a temp dir with two executables: a copy of true (to block) and a copy of echo. */
function makeLab(): Lab {
  const state = tempStateDir("ring3-block-");
  const mnt = join(state.dir, "mnt");
  mkdirSync(mnt);
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=32m", "ring3-test", mnt]);
  if (mounted.status !== 0) {
    state.cleanup();
    throw new Error(`mount: ${mounted.stderr.toString()}`);
  }
  const blocked = join(mnt, "blocked-true");
  const other = join(mnt, "other-echo");
  copyFileSync("/bin/true", blocked);
  copyFileSync("/bin/echo", other);
  return {
    dir: state.dir,
    mnt,
    blocked,
    other,
    cleanup: () => {
      spawnSync("umount", ["-l", mnt]);
      state.cleanup();
    },
  };
}

/** Runs `path`; "ok", or the spawn error code (EPERM when the guard denied it). Never hangs past 10 s. */
function run(path: string): string {
  const result = spawnSync(path, ["x"], { timeout: 10_000 });
  if (result.error !== undefined) return (result.error as NodeJS.ErrnoException).code ?? "error";
  return result.status === 0 ? "ok" : `exit ${result.status}`;
}

test(
  "block: the hash fails to execute with EPERM (any name), other files run, unblock runs it again",
  { skip },
  async () => {
    const lab = makeLab();
    const denials: ExecDenial[] = [];
    const executor = new ResponseExecutor({
      stateDir: join(lab.dir, "state"),
      execMarks: [{ path: lab.mnt, filesystem: false }],
      memfdNoexec: false,
      onExecDenied: (denial) => denials.push(denial),
    });
    try {
      const hash = sha256(lab.blocked);
      assert.equal(run(lab.blocked), "ok");
      const blocked = await executor.execute({ action: "block", sha256: hash.toUpperCase() }, { origin: "local" });
      assert.equal(blocked.ok, true, show(blocked));
      assert.equal(blocked.details?.enforced, true);
      assert.equal(run(lab.blocked), "EPERM");
      // Same bytes under another name are the same executable.
      const renamed = join(lab.mnt, "innocent-name");
      copyFileSync(lab.blocked, renamed);
      assert.equal(run(renamed), "EPERM");
      // One byte more is another hash (and the cache, keyed by inode and times, must notice the change).
      appendFileSync(renamed, "\0");
      assert.equal(run(renamed), "ok");
      assert.equal(run(lab.other), "ok");
      assert.equal(run("/bin/true"), "ok", "outside the marked mount nothing is judged");
      await waitFor("the denials to reach JavaScript", () => (denials.length >= 2 ? true : undefined));
      assert.deepEqual(
        denials.map((d) => [d.path, d.sha256]),
        [
          [lab.blocked, hash],
          [join(lab.mnt, "innocent-name"), hash],
        ],
      );

      const listed = await executor.execute({ action: "list" });
      const stats = (listed.details?.blocked as { guard: { denied: number; cacheHits: number } }).guard;
      assert.equal(stats.denied, 2);

      const unblocked = await executor.execute({ action: "unblock", sha256: hash });
      assert.equal(unblocked.ok, true, show(unblocked));
      assert.equal(run(lab.blocked), "ok");
    } finally {
      await executor.stop();
      lab.cleanup();
    }
  },
);

/** The holder fixture as a child: resolved with its block result once it is blocking. */
async function startHolder(
  lab: Lab,
  hash: string,
  mode: "hold" | "stall",
  prefix: readonly string[] = [],
  extra: readonly string[] = [],
): Promise<{ child: ChildProcess; result: ActionResult; output: () => string }> {
  const args = [...prefix, process.execPath, HOLDER, join(lab.dir, "state"), lab.mnt, hash, mode, ...extra];
  const child = spawn(args[0]!, args.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const line = await waitFor(
    "the holder to block",
    () => (out.includes("\n") ? out.split("\n")[0] : undefined),
    15_000,
  );
  return { child, result: JSON.parse(line) as ActionResult, output: () => out };
}

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve()),
  );

test("SIGKILL of the blocking process: executions work again at once, none is left hanging", { skip }, async () => {
  const lab = makeLab();
  let holder: ChildProcess | undefined;
  try {
    const hash = sha256(lab.blocked);
    const started = await startHolder(lab, hash, "hold");
    holder = started.child;
    assert.equal(started.result.ok, true, show(started.result));
    assert.equal(run(lab.blocked), "EPERM");
    // Executions under way while the agent dies must complete, not freeze.
    const inFlight = Array.from({ length: 20 }, () => {
      const child = spawn(lab.other, ["x"], { stdio: "ignore" });
      return new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    });
    holder.kill("SIGKILL");
    await exited(holder);
    assert.deepEqual(
      await Promise.all(inFlight),
      inFlight.map(() => 0),
    );
    assert.equal(run(lab.blocked), "ok", "no agent, no block");
    assert.equal(run(lab.other), "ok");
  } finally {
    holder?.kill("SIGKILL");
    lab.cleanup();
  }
});

test(
  "a stalled agent (no heartbeat) fails open after failOpenMs: executions are allowed, never frozen",
  { skip },
  async () => {
    const lab = makeLab();
    let holder: ChildProcess | undefined;
    try {
      const hash = sha256(lab.blocked);
      const started = await startHolder(lab, hash, "stall");
      holder = started.child;
      assert.equal(started.result.ok, true, show(started.result));
      // Its last heartbeat is at most 500 ms old: the native decider still enforces the block by itself.
      assert.equal(run(lab.blocked), "EPERM");
      // The holder's event loop is now busy for good; its last heartbeat ages out after 1 s (failOpenMs).
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const before = Date.now();
      assert.equal(run(lab.blocked), "ok");
      assert.ok(Date.now() - before < 1000, "the exec was answered at once");
      assert.equal(run(lab.other), "ok");
    } finally {
      holder?.kill("SIGKILL");
      if (holder !== undefined) await exited(holder);
      lab.cleanup();
    }
  },
);

const memfdSkip =
  skip !== false
    ? skip
    : !existsSync("/proc/sys/vm/memfd_noexec")
      ? "kernel without vm.memfd_noexec (before 6.3)"
      : spawnSync("python3", ["--version"]).error !== undefined
        ? "needs python3 (memfd_create from a script)"
        : spawnSync("unshare", ["--pid", "--fork", "true"]).status !== 0
          ? "needs unshare --pid"
          : false;

test(
  "while blocking, vm.memfd_noexec is 2 (memfd execution refused); it goes back when blocking stops",
  { skip: memfdSkip },
  () => {
    const lab = makeLab();
    try {
      const hash = sha256(lab.blocked);
      // A pid namespace of its own: vm.memfd_noexec is per pid namespace, so the host's stays as it is.
      const script = `
      set -e
      echo "before $(cat /proc/sys/vm/memfd_noexec)"
      "$@" > "$OUT" &
      holder=$!
      for i in $(seq 300); do grep -q '"ok"' "$OUT" 2>/dev/null && break; sleep 0.05; done
      echo "during $(cat /proc/sys/vm/memfd_noexec)"
      python3 -c '
import os
fd = os.memfd_create("payload")
os.write(fd, open("/bin/true", "rb").read())
try:
    os.execv("/proc/self/fd/%d" % fd, ["payload"])
except OSError as e:
    print("memfd exec", e.errno)
'
      kill -TERM $holder
      wait $holder || true
      echo "after $(cat /proc/sys/vm/memfd_noexec)"`;
      const out = join(lab.dir, "holder.out");
      const result = spawnSync(
        "unshare",
        [
          "--pid",
          "--fork",
          "sh",
          "-c",
          script,
          "sh",
          process.execPath,
          HOLDER,
          join(lab.dir, "state"),
          lab.mnt,
          hash,
          "hold",
          "memfd",
        ],
        { encoding: "utf8", env: { ...process.env, OUT: out }, timeout: 60_000 },
      );
      assert.equal(result.status, 0, result.stderr);
      const holderResult = JSON.parse(readFileSync(out, "utf8").split("\n")[0]!) as ActionResult;
      assert.equal(holderResult.details?.memfdNoexec, 2, show(holderResult));
      assert.match(result.stdout, /^during 2$/m);
      assert.match(result.stdout, /^memfd exec 13$/m, "EACCES: the memfd was sealed non-executable");
      const before = /^before (\d)$/m.exec(result.stdout)?.[1];
      assert.notEqual(before, undefined, result.stdout);
      assert.match(result.stdout, new RegExp(`^after ${before}$`, "m"), "restored to what it was");
    } finally {
      lab.cleanup();
    }
  },
);
