import { readFileSync } from "node:fs";
import type { NetlinkSocket, SocketsAddon } from "../../native.ts";
import { SENSOR_BATCH_MS } from "../../native.ts";
import type { SensorStatusListener } from "../../sensor.ts";
import type { MountPlan } from "./mountinfo.ts";
import { parseMountInfo, planFilesystemMarks } from "./mountinfo.ts";
import type { FanotifyEvent } from "./parse.ts";
import { FAN_CLOSE_WRITE, FAN_CREATE, FAN_DELETE, FAN_ONDIR, FAN_RENAME, parseFanotifyRecord } from "./parse.ts";

/**
 * Create, delete, rename and close-after-write, for files and (FAN_ONDIR) directories. FAN_RENAME rather than
 * FAN_MOVED_FROM/FAN_MOVED_TO: fanotify has no rename cookie, so the two halves of a move could not be paired,
 * while FAN_RENAME (5.17+) carries both the old and the new directory and name in one event.
 */
export const FANOTIFY_MASK = FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_CLOSE_WRITE | FAN_ONDIR;

export type FanotifySensorOptions = {
  readonly onEvents: (events: readonly FanotifyEvent[]) => void;
  readonly onStatus: SensorStatusListener;
  readonly ringCapacity?: number;
  /** For tests: the mountinfo text to plan marks from. */
  readonly mountInfo?: string;
};

export type FanotifySensorStats = {
  readonly events: number;
  /** FAN_Q_OVERFLOW: the kernel queue was full and dropped events. */
  readonly overflows: number;
  /** Read from the group but dropped because JavaScript had not drained the addon's ring. */
  readonly ringDrops: number;
  /** Directory handles that could not be resolved to a path (the directory was gone). */
  readonly unresolved: number;
  /** Events read by the addon that JavaScript has not taken yet (the backlog). */
  readonly queued: number;
  readonly marked: readonly string[];
  readonly skipped: number;
};

const ERRNO_HINTS: Readonly<Record<string, string>> = {
  // fanotify_mark(2): "ENODEV: The filesystem object indicated by pathname is not associated with a
  // filesystem that supports fsid (e.g., fuse)." and "EXDEV: The filesystem object indicated by pathname
  // resides within a filesystem subvolume (e.g., btrfs(5)) which uses a different fsid than its root
  // superblock" (also overlayfs layers).
  "19": "no fsid, so it cannot report file handles",
  "18": "subvolume or overlay with a different fsid than its superblock",
  "95": "does not support file handles (exportfs)",
  "22": "the kernel refused the mark (EINVAL)",
};

export class FanotifySensor {
  static readonly sensorName = "fanotify";
  private readonly addon: SocketsAddon;
  private readonly options: FanotifySensorOptions;
  private group: NetlinkSocket | undefined;
  private events = 0;
  private marked: string[] = [];
  /** The marked superblocks' major:minor, as mountinfo writes them. */
  private readonly devices = new Set<string>();
  private skipped = 0;

  constructor(addon: SocketsAddon, options: FanotifySensorOptions) {
    this.addon = addon;
    this.options = options;
  }

  start(): boolean {
    const name = FanotifySensor.sensorName;
    const status = this.options.onStatus;
    let group: NetlinkSocket;
    try {
      group = this.addon.openFanotify({ ringCapacity: this.options.ringCapacity ?? 16384, batchMs: SENSOR_BATCH_MS });
    } catch (error) {
      status(name, {
        state: "degraded",
        reason: `fanotify_init failed (needs CAP_SYS_ADMIN and a kernel with FAN_REPORT_DFID_NAME, 5.9+): ${(error as Error).message}`,
      });
      return false;
    }
    const plan: MountPlan = planFilesystemMarks(
      parseMountInfo(this.options.mountInfo ?? readFileSync("/proc/self/mountinfo", "utf8")),
    );
    const skipped = [...plan.skip.map((s) => `${s.mountPoint} (${s.fsType}): ${s.reason}`)];
    for (const entry of plan.mark) {
      try {
        this.addon.markFilesystem(group, entry.mountPoint, FANOTIFY_MASK);
        this.marked.push(entry.mountPoint);
        this.devices.add(entry.device);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "";
        const hint = ERRNO_HINTS[code];
        skipped.push(
          `${entry.mountPoint} (${entry.fsType}): mark failed: ${(error as Error).message}${hint === undefined ? "" : ` (${hint})`}`,
        );
      }
    }
    this.skipped = skipped.length;
    if (this.marked.length === 0) {
      this.addon.close(group);
      status(name, { state: "degraded", reason: `no filesystem could be marked: ${skipped.join("; ")}` });
      return false;
    }
    this.group = group;
    this.addon.start(group, (records) => this.onRecords(records));
    status(name, {
      state: "started",
      detail: `filesystem marks on ${this.marked.join(", ")}${skipped.length > 0 ? `; not marked: ${skipped.join("; ")}` : ""}`,
    });
    return true;
  }

  /** Whether the filesystem with this major:minor (decimal) is marked: local, reported, never FUSE or remote. */
  marks(device: string): boolean {
    return this.devices.has(device);
  }

  stats(): FanotifySensorStats {
    const native = this.group === undefined ? undefined : this.addon.stats(this.group);
    return {
      events: this.events,
      overflows: native?.overflows ?? 0,
      ringDrops: native?.ringDrops ?? 0,
      unresolved: native?.unresolved ?? 0,
      queued: native?.queued ?? 0,
      marked: this.marked,
      skipped: this.skipped,
    };
  }

  stop(): void {
    if (this.group === undefined) return;
    const stats = this.stats();
    this.addon.close(this.group);
    this.group = undefined;
    this.options.onStatus(FanotifySensor.sensorName, {
      state: "stopped",
      detail: `${stats.events} events, ${stats.overflows} queue overflows, ${stats.ringDrops} ring drops`,
    });
  }

  private onRecords(records: Buffer[]): void {
    if (records.length === 0 && this.group !== undefined) {
      const error = this.addon.stats(this.group).error;
      if (error !== null)
        this.options.onStatus(FanotifySensor.sensorName, { state: "degraded", reason: `reader stopped: ${error}` });
      return;
    }
    const events: FanotifyEvent[] = [];
    for (const record of records) {
      const event = parseFanotifyRecord(record);
      if (event !== undefined) events.push(event);
    }
    this.events += events.length;
    this.options.onEvents(events);
  }
}
