import { readFileSync, readlinkSync } from "node:fs";
import { readFile, readdir, readlink } from "node:fs/promises";
import type { ProcStat } from "./parse.ts";
import { parseBootTime, parseCmdline, parseProcStat, parseStatusUids, startTimeIso } from "./parse.ts";

/** A process as /proc shows it; fields a non-root reader may not see (exe, cwd of others) are undefined. */
export type ProcessSnapshot = {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly exe: string | undefined;
  readonly argv: readonly string[];
  readonly cwd: string | undefined;
  readonly uid: number | undefined;
  readonly startTime: string;
  /** Kernel threads: no cmdline, children of kthreadd (pid 2). */
  readonly kernelThread: boolean;
};

const optional = <T>(promise: Promise<T>): Promise<T | undefined> => promise.catch(() => undefined);

/** One process read from /proc, or undefined when it exited meanwhile. */
export async function readProcess(
  pid: number,
  bootTime: number,
  procRoot = "/proc",
): Promise<ProcessSnapshot | undefined> {
  const dir = `${procRoot}/${pid}`;
  const statText = await optional(readFile(`${dir}/stat`, "utf8"));
  const stat: ProcStat | undefined = statText === undefined ? undefined : parseProcStat(statText);
  if (stat === undefined) return undefined;
  const [exe, cmdline, cwd, status] = await Promise.all([
    optional(readlink(`${dir}/exe`)),
    optional(readFile(`${dir}/cmdline`)),
    optional(readlink(`${dir}/cwd`)),
    optional(readFile(`${dir}/status`, "utf8")),
  ]);
  const argv = cmdline === undefined ? [] : parseCmdline(cmdline);
  return {
    pid,
    ppid: stat.ppid,
    comm: stat.comm,
    exe,
    argv,
    cwd,
    uid: status === undefined ? undefined : parseStatusUids(status)?.uid,
    startTime: startTimeIso(bootTime, stat.startTicks),
    kernelThread: argv.length === 0 && (stat.ppid === 2 || pid === 2),
  };
}

function optionalSync<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/**
 * The same as `readProcess`, synchronously: for an event whose process the tree has not met yet (its fork
 * notification is still queued behind the file or network event), read before the process can exit, so the
 * event still carries its image and ancestry. Rare, and a handful of small /proc reads.
 */
export function readProcessSync(pid: number, bootTime: number, procRoot = "/proc"): ProcessSnapshot | undefined {
  const dir = `${procRoot}/${pid}`;
  const statText = optionalSync(() => readFileSync(`${dir}/stat`, "utf8"));
  const stat = statText === undefined ? undefined : parseProcStat(statText);
  if (stat === undefined) return undefined;
  const cmdline = optionalSync(() => readFileSync(`${dir}/cmdline`));
  const status = optionalSync(() => readFileSync(`${dir}/status`, "utf8"));
  const argv = cmdline === undefined ? [] : parseCmdline(cmdline);
  return {
    pid,
    ppid: stat.ppid,
    comm: stat.comm,
    exe: optionalSync(() => readlinkSync(`${dir}/exe`)),
    argv,
    cwd: optionalSync(() => readlinkSync(`${dir}/cwd`)),
    uid: status === undefined ? undefined : parseStatusUids(status)?.uid,
    startTime: startTimeIso(bootTime, stat.startTicks),
    kernelThread: argv.length === 0 && (stat.ppid === 2 || pid === 2),
  };
}

export async function readBootTime(procRoot = "/proc"): Promise<number> {
  return parseBootTime(await readFile(`${procRoot}/stat`, "utf8")) ?? 0;
}

/**
 * Every process running now. Works unprivileged: exe and cwd of other users' processes are then
 * undefined (EACCES), cmdline and stat stay readable (unless /proc is mounted hidepid).
 */
export async function readProcInventory(procRoot = "/proc"): Promise<ProcessSnapshot[]> {
  const bootTime = await readBootTime(procRoot);
  const pids = (await readdir(procRoot)).filter((name) => /^\d+$/.test(name)).map(Number);
  const out: ProcessSnapshot[] = [];
  // In slices, so a host with 50k processes does not open 200k files at once.
  for (let i = 0; i < pids.length; i += 64) {
    const slice = await Promise.all(pids.slice(i, i + 64).map((pid) => readProcess(pid, bootTime, procRoot)));
    for (const p of slice) if (p !== undefined) out.push(p);
  }
  return out;
}
