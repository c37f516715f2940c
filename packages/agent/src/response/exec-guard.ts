import { readFileSync } from "node:fs";
import type { MountEntry } from "../sensors/fanotify/mountinfo.ts";
import { PSEUDO, parseMountInfo } from "../sensors/fanotify/mountinfo.ts";
import type { ExecDenial, ExecGuardHandle, ExecGuardStats, ResponseAddon } from "./response-addon.ts";

/** A place the guard watches: the whole filesystem holding `path`, or only that mount. */
export type ExecMark = { readonly path: string; readonly filesystem: boolean };

/**
 * Every filesystem an executable can be run from: each superblock once (a filesystem mark covers all of its
 * mounts and bind mounts), through its root mount where it has one. Unlike the file sensor's plan, read-only
 * filesystems are marked (an image's /usr is read-only and full of binaries) and so are tmpfs and overlay.
 */
export function planExecMarks(entries: readonly MountEntry[]): ExecMark[] {
  const chosen = new Map<string, MountEntry>();
  const top = new Map(entries.map((entry, index) => [entry.mountPoint, index]));
  for (const [index, entry] of entries.entries()) {
    if (PSEUDO.has(entry.fsType) || entry.fsType === "cgroup2" || top.get(entry.mountPoint) !== index) continue;
    const previous = chosen.get(entry.device);
    if (previous === undefined || (previous.root !== "/" && entry.root === "/")) chosen.set(entry.device, entry);
  }
  return [...chosen.values()].map((entry) => ({ path: entry.mountPoint, filesystem: true }));
}

export type ExecGuardOptions = {
  readonly addon: ResponseAddon;
  /** Default: every filesystem (planExecMarks of /proc/self/mountinfo). */
  readonly marks?: readonly ExecMark[];
  readonly failOpenMs?: number;
  readonly deadlineMs?: number;
  readonly maxMegabytes?: number;
  readonly onDenied: (denials: readonly ExecDenial[]) => void;
};

/**
 * The native exec guard (native/ring3_exec_guard.c) from JavaScript's side: it starts the decider before
 * marking anything, keeps the heartbeat going, and hands the decider the block list. Decisions themselves
 * never come here.
 */
export class ExecGuard {
  private readonly options: ExecGuardOptions;
  private handle: ExecGuardHandle | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  marked: string[] = [];
  skipped: string[] = [];

  constructor(options: ExecGuardOptions) {
    this.options = options;
  }

  get running(): boolean {
    return this.handle !== undefined;
  }

  /** Opens, starts and marks; throws (with nothing left running) when no mark could be placed. */
  start(): void {
    if (this.handle !== undefined) return;
    const { addon } = this.options;
    const handle = addon.guardOpen({
      ...(this.options.failOpenMs === undefined ? {} : { failOpenMs: this.options.failOpenMs }),
      ...(this.options.deadlineMs === undefined ? {} : { deadlineMs: this.options.deadlineMs }),
      ...(this.options.maxMegabytes === undefined ? {} : { maxMegabytes: this.options.maxMegabytes }),
    });
    addon.guardStart(handle, (denials) => this.options.onDenied(denials));
    const marks = this.options.marks ?? planExecMarks(parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")));
    this.marked = [];
    this.skipped = [];
    for (const mark of marks) {
      try {
        addon.guardMark(handle, mark.path, mark.filesystem);
        this.marked.push(mark.path);
      } catch (error) {
        // A filesystem mark is refused on some (btrfs subvolumes, overlay layers: EXDEV); its mount is not.
        if (!mark.filesystem) {
          this.skipped.push(`${mark.path}: ${(error as Error).message}`);
          continue;
        }
        try {
          addon.guardMark(handle, mark.path, false);
          this.marked.push(`${mark.path} (mount)`);
        } catch (mountError) {
          this.skipped.push(`${mark.path}: ${(mountError as Error).message}`);
        }
      }
    }
    if (this.marked.length === 0) {
      addon.guardClose(handle);
      throw new Error(`no filesystem could be marked for exec permission events: ${this.skipped.join("; ")}`);
    }
    this.handle = handle;
    this.heartbeat = setInterval(() => {
      if (this.handle !== undefined) addon.guardHeartbeat(this.handle);
    }, 500);
    this.heartbeat.unref();
  }

  setBlocked(sha256s: readonly string[]): void {
    if (this.handle === undefined) return;
    this.options.addon.guardSetBlocked(this.handle, Buffer.concat(sha256s.map((h) => Buffer.from(h, "hex"))));
  }

  stats(): ExecGuardStats | undefined {
    return this.handle === undefined ? undefined : this.options.addon.guardStats(this.handle);
  }

  stop(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.handle !== undefined) this.options.addon.guardClose(this.handle);
    this.handle = undefined;
  }
}
