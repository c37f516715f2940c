import type { AddonLoad } from "../native.ts";
import { loadAddon } from "../native.ts";

/** An exec guard owned by the addon (native/ring3_exec_guard.c); opaque to JavaScript. */
export type ExecGuardHandle = { readonly __brand: "ring3-exec-guard" };

export type ExecGuardOpenOptions = {
  /** Larger executables are allowed unhashed (a read of gigabytes would hold the exec that long). */
  readonly maxMegabytes?: number;
  /** JavaScript silent (no heartbeat) this long → every exec is allowed until it heartbeats again; 0: never. */
  readonly failOpenMs?: number;
  /** The decider held one event this long (a hung read) → the watchdog allows it and drains the queue. */
  readonly deadlineMs?: number;
  /** Hash cache slots (rounded up to a power of two); 0 disables the cache. */
  readonly cacheEntries?: number;
};

/** One exec the guard refused: who tried, what, and the digest that matched the block list. */
export type ExecDenial = { readonly pid: number; readonly path: string; readonly sha256: string };

export type ExecGuardStats = {
  readonly events: number;
  readonly allowed: number;
  readonly denied: number;
  readonly cacheHits: number;
  readonly hashed: number;
  readonly hashedBytes: number;
  /** Executables over maxMegabytes, allowed without a hash. */
  readonly tooLarge: number;
  /** Unreadable executables, allowed. */
  readonly errors: number;
  /** Execs allowed because JavaScript had stopped heartbeating. */
  readonly stalledAllows: number;
  /** Execs the watchdog allowed because the decider was stuck. */
  readonly watchdogAllows: number;
  readonly denialDrops: number;
  readonly blocked: number;
  /** Time spent deciding, summed over every event. */
  readonly decisionMs: number;
};

export type ResponseAddon = {
  /** pidfd_open(2); throws with the errno as `code` (ESRCH: no such process). */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(2); throws ESRCH once the process has exited. */
  pidfdSignal(fd: number, signal: number): void;
  /** The pidfd is readable: the process has terminated. */
  pidfdExited(fd: number): boolean;
  guardOpen(options: ExecGuardOpenOptions): ExecGuardHandle;
  guardStart(guard: ExecGuardHandle, onDenied: (denials: ExecDenial[]) => void): void;
  /** FAN_OPEN_EXEC_PERM on the mount holding `path` (filesystem false) or its whole filesystem (true). */
  guardMark(guard: ExecGuardHandle, path: string, filesystem: boolean): void;
  guardSetBlocked(guard: ExecGuardHandle, digests: Buffer): void;
  guardHeartbeat(guard: ExecGuardHandle): void;
  guardStats(guard: ExecGuardHandle): ExecGuardStats;
  guardClose(guard: ExecGuardHandle): void;
};

let cached: AddonLoad<ResponseAddon> | undefined;

export function loadResponseAddon(): AddonLoad<ResponseAddon> {
  cached ??= loadAddon<ResponseAddon>("ring3_response", "native response actions");
  return cached;
}
