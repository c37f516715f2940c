import { readFile, readdir } from "node:fs/promises";
import type { ProcStat } from "../sensors/proc-inventory/parse.ts";
import { parseProcStat } from "../sensors/proc-inventory/parse.ts";

/** /proc/<pid>/stat now, or undefined when there is no such process (or it is a zombie already reaped). */
export async function readStat(pid: number, procRoot = "/proc"): Promise<ProcStat | undefined> {
  const text = await readFile(`${procRoot}/${pid}/stat`, "utf8").catch(() => undefined);
  return text === undefined ? undefined : parseProcStat(text);
}

/** A process is gone for an action's purpose once its pid is free, reused, or it is a zombie (it runs no more). */
export async function isGone(pid: number, startTicks: number, procRoot = "/proc"): Promise<boolean> {
  const stat = await readStat(pid, procRoot);
  return stat === undefined || stat.startTicks !== startTicks || stat.state === "Z" || stat.state === "X";
}

/** Every process's stat, read in slices so a host with 50k processes does not open them all at once. */
export async function scanProcesses(procRoot = "/proc"): Promise<ProcStat[]> {
  const pids = (await readdir(procRoot)).filter((name) => /^\d+$/.test(name)).map(Number);
  const out: ProcStat[] = [];
  for (let i = 0; i < pids.length; i += 128) {
    const slice = await Promise.all(pids.slice(i, i + 128).map((pid) => readStat(pid, procRoot)));
    for (const stat of slice) if (stat !== undefined) out.push(stat);
  }
  return out;
}

/**
 * The processes under `roots` in `all` (a scan), parents before children, the roots included when present.
 * Zombies are left out: they run no code and cannot be signalled away.
 */
export function descendants(roots: Iterable<number>, all: readonly ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  const byPid = new Map<number, ProcStat>();
  for (const stat of all) {
    byPid.set(stat.pid, stat);
    const list = children.get(stat.ppid);
    if (list === undefined) children.set(stat.ppid, [stat]);
    else list.push(stat);
  }
  const out: ProcStat[] = [];
  const seen = new Set<number>();
  const queue: ProcStat[] = [];
  for (const pid of roots) {
    const stat = byPid.get(pid);
    if (stat !== undefined && !seen.has(pid)) {
      seen.add(pid);
      queue.push(stat);
    }
  }
  for (let i = 0; i < queue.length; i++) {
    const stat = queue[i]!;
    if (stat.state !== "Z") out.push(stat);
    for (const child of children.get(stat.pid) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      queue.push(child);
    }
  }
  return out;
}

/** `pid` and every ancestor up to PID 1. */
export async function lineage(pid: number, procRoot = "/proc"): Promise<Set<number>> {
  const out = new Set<number>();
  let current = pid;
  while (current > 0 && !out.has(current)) {
    out.add(current);
    const stat = await readStat(current, procRoot);
    if (stat === undefined) break;
    current = stat.ppid;
  }
  return out;
}
