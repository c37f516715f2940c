import { closeSync } from "node:fs";
import { constants } from "node:os";
import type { ResponseAddon } from "./response-addon.ts";
import { isGone, readStat } from "./process-scan.ts";

/**
 * One process as an action means it: a pid together with its start time (/proc/<pid>/stat field 22), so a pid
 * reused by another process is never signalled. With the addon the handle is a pidfd opened *before* the start
 * time is checked: once that check passes, the fd can only ever reach this process (pidfd_send_signal fails
 * with ESRCH after it exits, whoever gets the pid next). Without the addon it is a start-time check right
 * before kill(2), which leaves a window of microseconds.
 */
export class ProcessHandle {
  readonly pid: number;
  readonly startTicks: number;
  private readonly addon: ResponseAddon | undefined;
  private fd: number | undefined;

  private constructor(pid: number, startTicks: number, addon: ResponseAddon | undefined, fd: number | undefined) {
    this.pid = pid;
    this.startTicks = startTicks;
    this.addon = addon;
    this.fd = fd;
  }

  /** A handle, or undefined when that process (that pid with that start time) no longer runs. */
  static async open(
    addon: ResponseAddon | undefined,
    pid: number,
    startTicks: number,
    procRoot = "/proc",
  ): Promise<ProcessHandle | undefined> {
    let fd: number | undefined;
    if (addon !== undefined) {
      try {
        fd = addon.pidfdOpen(pid);
      } catch (error) {
        // ESRCH (3): no such process. Anything else (ENOSYS before Linux 5.3): the start-time check alone.
        if ((error as NodeJS.ErrnoException).code === "3") return undefined;
      }
    }
    const stat = await readStat(pid, procRoot);
    if (stat === undefined || stat.startTicks !== startTicks || stat.state === "Z") {
      if (fd !== undefined) closeSync(fd);
      return undefined;
    }
    return new ProcessHandle(pid, startTicks, addon, fd);
  }

  /** Sends `signal`; false when the process has exited (nothing was signalled). */
  async signal(signal: NodeJS.Signals): Promise<boolean> {
    const number = constants.signals[signal];
    if (this.addon !== undefined && this.fd !== undefined) {
      try {
        this.addon.pidfdSignal(this.fd, number);
        return true;
      } catch {
        return false;
      }
    }
    if (await isGone(this.pid, this.startTicks)) return false;
    try {
      process.kill(this.pid, number);
      return true;
    } catch {
      return false;
    }
  }

  async exited(): Promise<boolean> {
    if (this.addon !== undefined && this.fd !== undefined) {
      // A zombie's pidfd is readable too: it has terminated, only its parent's wait() is missing.
      return this.addon.pidfdExited(this.fd);
    }
    return isGone(this.pid, this.startTicks);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Polls `probe` every `intervalMs` until it holds or `timeoutMs` passes (or `signal` aborts). */
export async function pollUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  signal?: AbortSignal,
  intervalMs = 20,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= until || signal?.aborted === true) return false;
    await sleep(Math.min(intervalMs, Math.max(1, until - Date.now())), signal);
  }
}
