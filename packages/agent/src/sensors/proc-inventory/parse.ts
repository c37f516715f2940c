/**
 * /proc/<pid>/stat: "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
 * utime stime cutime cstime priority nice num_threads itrealvalue starttime …" (proc(5)). comm may contain
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export type ProcStat = {
  readonly pid: number;
  readonly comm: string;
  /** R running, S sleeping, D disk sleep, T stopped, t tracing stop, Z zombie, X dead, I idle (kernel). */
  readonly state: string;
  readonly ppid: number;
  readonly startTicks: number;
};

export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is state (field 3), so field n is rest[n - 3]: ppid 4, starttime 22.
  const ppid = Number(rest[1]);
  const startTicks = Number(rest[19]);
  if (!Number.isFinite(ppid) || !Number.isFinite(startTicks)) return undefined;
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "",
    ppid,
    startTicks,
  };
}

/** "Uid:\t1000\t1000\t1000\t1000" (real, effective, saved, filesystem) from /proc/<pid>/status. */
export function parseStatusUids(text: string): { readonly uid: number; readonly euid: number } | undefined {
  const match = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return match === null ? undefined : { uid: Number(match[1]), euid: Number(match[2]) };
}

/** /proc/<pid>/cmdline: NUL-separated argv with a trailing NUL; empty for kernel threads. */
export function parseCmdline(bytes: Buffer): string[] {
  const text = bytes.toString("utf8");
  const trimmed = text.endsWith("\0") ? text.slice(0, -1) : text;
  return trimmed.length === 0 ? [] : trimmed.split("\0");
}

/** "btime 1732400000" from /proc/stat: boot time in seconds since the epoch. */
export function parseBootTime(procStat: string): number | undefined {
  const match = /^btime\s+(\d+)$/m.exec(procStat);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Process start as ISO time. starttime is in clock ticks since boot; USER_HZ is 100 on every architecture
 * Linux exposes it to user space on (sysconf(_SC_CLK_TCK)), so no native call is needed.
 */
export function startTimeIso(bootTimeSeconds: number, startTicks: number, ticksPerSecond = 100): string {
  return new Date(bootTimeSeconds * 1000 + (startTicks * 1000) / ticksPerSecond).toISOString();
}

/**
 * A command line as one string, the way Sysmon for Linux and auditd users read it: arguments joined by
 * spaces, quoted only when they contain a space or are empty.
 */
export function joinCommandLine(argv: readonly string[]): string {
  return argv.map((arg) => (arg === "" || /[\s"]/.test(arg) ? `"${arg.replaceAll('"', '\\"')}"` : arg)).join(" ");
}
