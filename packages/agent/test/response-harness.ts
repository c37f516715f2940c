import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ActionResult } from "@ring3/protocol";
import type { ProcStat } from "../src/sensors/proc-inventory/parse.ts";
import { descendants, readStat, scanProcesses } from "../src/response/process-scan.ts";

/** A temporary state directory, removed by `cleanup`. */
export function tempStateDir(prefix = "ring3-response-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real process tree under `sh -c script`, returned once it has `size` live members (root included). */
export async function spawnTree(script: string, size: number): Promise<{ child: ChildProcess; tree: ProcStat[] }> {
  const child = spawn("/bin/sh", ["-c", script], { stdio: "ignore" });
  const root = child.pid;
  if (root === undefined) throw new Error("spawn failed");
  let tree: ProcStat[] = [];
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    tree = descendants([root], await scanProcesses());
    if (tree.length >= size) return { child, tree };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill("SIGKILL");
  throw new Error(`the tree grew to ${tree.length} processes, not ${size}`);
}

/** The pids among `pids` that still run (not gone, not zombies). */
export async function alive(pids: readonly number[]): Promise<number[]> {
  const out: number[] = [];
  for (const pid of pids) {
    const stat = await readStat(pid);
    if (stat !== undefined && stat.state !== "Z") out.push(pid);
  }
  return out;
}

/** Kills what a test left running, each only while its pid still has the start time the test saw. */
export async function killLeftovers(stats: readonly ProcStat[]): Promise<void> {
  for (const stat of stats) {
    const now = await readStat(stat.pid);
    if (now?.startTicks !== stat.startTicks) continue;
    try {
      process.kill(stat.pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

/** A readable assertion message for a result. */
export const show = (result: ActionResult): string => JSON.stringify(result, null, 2);
