/**
 * What response actions cost: `npm run bench:response` (as root, addon built, nft/ss/ip installed).
 *
 *   isolate       — the isolate action inside a network namespace this bench creates (nft transaction, state
 *                   write, ss -K), and its release; the host's own network is never touched.
 *   kill tree     — kill --tree of 100 processes (sh + 99 sleeps), with the cgroup jail and with signals.
 *   quarantine    — a 100 MB file, same filesystem (rename + hash) and into a tmpfs store (copy + fsync).
 *   exec slowdown — 2,000 execs of a binary on a tmpfs the bench mounts, without and with the exec guard
 *                   marking that mount while it blocks another hash (every exec judged: hashed once, then
 *                   cached). Rounds alternate; medians are compared. Target: under 15 %.
 * Each number is the action's own durationMs (what the agent spends), the median of RING3_BENCH_ROUNDS (5).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ActionResult } from "@ring3/protocol";
import { ResponseExecutor } from "../src/response/response-executor.ts";
import { loadResponseAddon } from "../src/response/response-addon.ts";
import { descendants, scanProcesses } from "../src/response/process-scan.ts";

const ROUNDS = Number(process.env.RING3_BENCH_ROUNDS ?? 5);
const RUNNER = join(import.meta.dirname, "..", "test", "fixtures", "response-runner.ts");

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};
const ms = (value: number): string => `${value.toFixed(1)} ms`;

function check(result: ActionResult): ActionResult {
  if (!result.ok) throw new Error(`${result.action} failed: ${result.code} ${result.message}`);
  return result;
}

function run(args: readonly string[]): string {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

function benchIsolate(work: string): void {
  const ns = `r3b-host-${randomBytes(3).toString("hex")}`;
  run(["ip", "netns", "add", ns]);
  try {
    run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    // Both ends of a veth pair inside the namespace: an interface with an address, as a host has.
    run(["ip", "-n", ns, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
    run(["ip", "-n", ns, "addr", "add", "10.250.0.1/24", "dev", "veth0"]);
    run(["ip", "-n", ns, "link", "set", "veth0", "up"]);
    run(["ip", "-n", ns, "link", "set", "veth1", "up"]);
    const state = join(work, "isolate-state");
    const isolate: number[] = [];
    const release: number[] = [];
    const execute = (request: unknown): ActionResult =>
      check(
        JSON.parse(
          run([
            "ip",
            "netns",
            "exec",
            ns,
            process.execPath,
            RUNNER,
            state,
            "execute",
            JSON.stringify(request),
            "server",
          ]),
        ) as ActionResult,
      );
    for (let i = 0; i < ROUNDS; i++) {
      isolate.push(execute({ action: "isolate", allow: ["10.250.0.2:8443", "10.250.0.3:443"] }).durationMs);
      release.push(execute({ action: "release" }).durationMs);
    }
    console.log(`isolate (netns):          ${ms(median(isolate))}   release: ${ms(median(release))}`);
  } finally {
    spawnSync("ip", ["netns", "del", ns]);
  }
}

async function spawnHundred(): Promise<number> {
  const child = spawn("/bin/sh", ["-c", "for i in $(seq 99); do sleep 300 & done; wait"], { stdio: "ignore" });
  const root = child.pid!;
  for (;;) {
    if (descendants([root], await scanProcesses()).length >= 100) return root;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function benchKill(work: string): Promise<void> {
  for (const method of ["cgroup", "signal"] as const) {
    const executor = new ResponseExecutor({
      stateDir: join(work, `kill-${method}`),
      ...(method === "signal" ? { cgroupMount: null } : {}),
    });
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const root = await spawnHundred();
      const result = check(await executor.execute({ action: "kill", pid: root, tree: true }));
      const killed = (result.details?.killed as number[]).length;
      if (killed !== 100) throw new Error(`killed ${killed} of 100`);
      times.push(result.durationMs);
    }
    console.log(`kill --tree, 100 (${method}): ${ms(median(times))}`);
  }
}

async function benchQuarantine(work: string): Promise<void> {
  const size = 100 * 1024 * 1024;
  const content = randomBytes(size);
  const tmpfs = join(work, "tmpfs-store");
  mkdirSync(tmpfs);
  run(["mount", "-t", "tmpfs", "-o", "size=256m", "ring3-bench", tmpfs]);
  try {
    for (const [label, stateDir] of [
      ["same filesystem (rename)", join(work, "q-state")],
      ["into tmpfs (copy+fsync)", tmpfs],
    ] as const) {
      const executor = new ResponseExecutor({ stateDir });
      const times: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const file = join(work, `payload-${i}.bin`);
        writeFileSync(file, content);
        const result = check(await executor.execute({ action: "quarantine", path: file }));
        times.push(result.durationMs);
        check(await executor.execute({ action: "restore", id: result.details?.id as string }));
        rmSync(file);
      }
      const t = median(times);
      console.log(`quarantine 100 MB, ${label}: ${ms(t)} (${((size / 1e6 / t) * 1000).toFixed(0)} MB/s)`);
    }
  } finally {
    spawnSync("umount", ["-l", tmpfs]);
  }
}

/** Seconds for `count` sequential execs of `binary` by one shell (fork + exec each, as a script does). */
function execLoop(binary: string, count: number): number {
  const start = performance.now();
  run(["/bin/sh", "-c", `i=0; while [ $i -lt ${count} ]; do ${binary}; i=$((i+1)); done`]);
  return performance.now() - start;
}

async function benchExec(work: string): Promise<void> {
  const load = loadResponseAddon();
  if (!load.ok) {
    console.log(`exec slowdown: skipped (${load.reason})`);
    return;
  }
  const mnt = join(work, "exec-mnt");
  mkdirSync(mnt);
  run(["mount", "-t", "tmpfs", "-o", "size=16m", "ring3-bench", mnt]);
  const binary = join(mnt, "true");
  copyFileSync("/bin/true", binary);
  const executor = new ResponseExecutor({
    stateDir: join(work, "exec-state"),
    execMarks: [{ path: mnt, filesystem: false }],
    memfdNoexec: false,
  });
  const count = 2000;
  try {
    execLoop(binary, 200); // warm the page cache and the shell
    const off: number[] = [];
    const on: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      off.push(execLoop(binary, count));
      check(await executor.execute({ action: "block", sha256: "00".repeat(32) }));
      on.push(execLoop(binary, count));
      check(await executor.execute({ action: "unblock", sha256: "00".repeat(32) }));
    }
    check(await executor.execute({ action: "block", sha256: "00".repeat(32) }));
    execLoop(binary, 100);
    const stats = (
      check(await executor.execute({ action: "list" })).details?.blocked as {
        guard: { events: number; decisionMs: number; hashed: number; cacheHits: number };
      }
    ).guard;
    const base = median(off);
    const guarded = median(on);
    const slowdown = ((guarded - base) / base) * 100;
    console.log(
      `exec x${count}: guard off ${ms(base)} (${((base / count) * 1000).toFixed(0)} µs/exec), on ${ms(guarded)} (${((guarded / count) * 1000).toFixed(0)} µs/exec): slowdown ${slowdown.toFixed(1)} % (target < 15 %) ${slowdown < 15 ? "OK" : "OVER TARGET"}`,
    );
    console.log(
      `  decider: ${((stats.decisionMs / Math.max(1, stats.events)) * 1000).toFixed(1)} µs/decision over ${stats.events} events (${stats.hashed} hashed, ${stats.cacheHits} from the cache)`,
    );
  } finally {
    await executor.stop();
    spawnSync("umount", ["-l", mnt]);
  }
}

if (process.getuid?.() !== 0) {
  console.log("bench:response needs root (netns, cgroups, mounts, fanotify permission events)");
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), "ring3-bench-response-"));
try {
  console.log(`bench:response — median of ${ROUNDS} rounds`);
  benchIsolate(work);
  await benchKill(work);
  await benchQuarantine(work);
  await benchExec(work);
} finally {
  rmSync(work, { recursive: true, force: true });
}
