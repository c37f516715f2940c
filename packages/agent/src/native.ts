import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** One netlink socket owned by the addon (native/ring3_sockets.c); opaque to JavaScript except these two. */
export type NetlinkSocket = { readonly portId: number; readonly rcvbuf: number };

export type NetlinkSocketStats = {
  readonly received: number;
  readonly bytes: number;
  /** Datagrams read from the socket but dropped because JavaScript had not drained the ring. */
  readonly ringDrops: number;
  /** recv() failed with ENOBUFS: the kernel dropped messages because the socket buffer was full. */
  readonly enobufs: number;
  readonly truncated: number;
  readonly queued: number;
  /** fanotify only: FAN_Q_OVERFLOW events, i.e. the kernel queue (16384 events) was full and events were lost. */
  readonly overflows: number;
  /** fanotify only: directory handles the reader thread could not turn into a path (directory already gone). */
  readonly unresolved: number;
  /** Why the reader thread stopped, when it stopped on its own. */
  readonly error: string | null;
};

export type NetlinkOpenOptions = {
  readonly protocol: number;
  /** bind() nl_groups bitmask. */
  readonly groups?: number;
  /** Receive buffer size; SO_RCVBUFFORCE when privileged, else SO_RCVBUF (capped by net.core.rmem_max). */
  readonly rcvbuf?: number;
  /** Datagrams the ring holds between the reader thread and JavaScript. */
  readonly ringCapacity?: number;
};

export type SocketsAddon = {
  open(options: NetlinkOpenOptions): NetlinkSocket;
  send(socket: NetlinkSocket, message: Buffer): number;
  start(socket: NetlinkSocket, onBatch: (datagrams: Buffer[]) => void): void;
  stats(socket: NetlinkSocket): NetlinkSocketStats;
  close(socket: NetlinkSocket): void;
  /** fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_NONBLOCK); throws with the errno as `code`. */
  openFanotify(options: { readonly ringCapacity?: number }): NetlinkSocket;
  /** FAN_MARK_ADD | FAN_MARK_FILESYSTEM on the filesystem holding `path`; throws with the errno as `code`. */
  markFilesystem(group: NetlinkSocket, path: string, mask: number): void;
};

export type AddonLoad =
  { readonly ok: true; readonly addon: SocketsAddon } | { readonly ok: false; readonly reason: string };

let cached: AddonLoad | undefined;

/**
 * The addon, or why it is unavailable. Built by `node-gyp rebuild` at install; a failed build leaves no
 * file and the agent runs without netlink sensors instead of crashing.
 */
export function loadSocketsAddon(): AddonLoad {
  cached ??= load();
  return cached;
}

function load(): AddonLoad {
  if (process.platform !== "linux")
    return { ok: false, reason: `netlink sensors need Linux (this is ${process.platform})` };
  const path = join(import.meta.dirname, "..", "build", "Release", "ring3_sockets.node");
  if (!existsSync(path)) {
    return {
      ok: false,
      reason: `native sensors unavailable: ${path} is missing (the addon did not build at install; run 'npm rebuild @ring3/agent' with a C compiler and python3)`,
    };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as SocketsAddon;
    return { ok: true, addon };
  } catch (error) {
    return { ok: false, reason: `native sensors unavailable: cannot load ${path}: ${(error as Error).message}` };
  }
}
