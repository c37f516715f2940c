import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/*
 * One writer per state directory. Two agents appending to one spool would interleave sequence numbers and
 * acknowledge each other's records. Node has no flock(2), so the lock is a file naming its holder by pid and
 * the pid's start time (/proc/<pid>/stat field 22): a holder killed with SIGKILL leaves the file behind, and
 * the next open sees that the pid is gone, or now belongs to another process, and takes the lock over.
 */

const LOCK_FILE = "lock";

export class DirLockedError extends Error {
  readonly code = "R3_ERR_SPOOL_LOCKED";
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function holder(path: string): { pid: number; start: string } | undefined {
  try {
    const [pid, start] = readFileSync(path, "utf8").trim().split(" ");
    const n = Number(pid);
    return Number.isSafeInteger(n) && n > 0 && start !== undefined ? { pid: n, start } : undefined;
  } catch {
    return undefined;
  }
}

export function acquireDirLock(dir: string, what: string): void {
  const path = join(dir, LOCK_FILE);
  const mine = `${process.pid} ${startTime(process.pid) ?? "?"}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx", mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const held = holder(path);
    if (held !== undefined && startTime(held.pid) === held.start)
      throw new DirLockedError(`the ${what} in ${dir} is in use by process ${held.pid}`);
    // Stale (its holder is gone) or unreadable: take it over.
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new DirLockedError(`cannot take the lock of ${dir}: another process keeps taking it`);
}

export function releaseDirLock(dir: string): void {
  const path = join(dir, LOCK_FILE);
  if (holder(path)?.pid !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
