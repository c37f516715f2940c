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
  /** fanotify only: directory handles resolved from the reader's cache of recent directories (no syscalls). */
  readonly directoryCacheHits: number;
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
  /** The reader's pause after each drain, so what arrives meanwhile reaches JavaScript as one batch (0–1000). */
  readonly batchMs?: number;
};

/**
 * The batching pause the sensors use (see `batchMs`): one reader wakeup and one JavaScript call per 20 ms and
 * socket at most, instead of one per datagram (an exec alone is ~3 connector and ~8 audit datagrams). At
 * 500 execs/s, 5 ms still meant about one call per exec and socket, each with its own napi call, Buffer, output
 * write and microtask checkpoint; 20 ms cut the agent's CPU per exec from 0.75-0.84 to 0.48-0.59 ms (exec storm,
 * same machine, alternating runs) for at most 20 ms more latency (the alert latency target is 100 ms). The
 * kernel queues what arrives meanwhile: 20 ms of a 10,000 exec/s storm is ~1,600 audit records, far below the
 * 16 MB socket buffers and fanotify's 16,384-event queue.
 */
export const SENSOR_BATCH_MS = 20;

export type SocketsAddon = {
  open(options: NetlinkOpenOptions): NetlinkSocket;
  send(socket: NetlinkSocket, message: Buffer): number;
  start(socket: NetlinkSocket, onBatch: (datagrams: Buffer[]) => void): void;
  stats(socket: NetlinkSocket): NetlinkSocketStats;
  close(socket: NetlinkSocket): void;
  /** fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_NONBLOCK); throws with the errno as `code`. */
  openFanotify(options: { readonly ringCapacity?: number; readonly batchMs?: number }): NetlinkSocket;
  /** FAN_MARK_ADD | FAN_MARK_FILESYSTEM on the filesystem holding `path`; throws with the errno as `code`. */
  markFilesystem(group: NetlinkSocket, path: string, mask: number): void;
  /**
   * The socket behind another process's fd (pidfd_getfd + getsockname/getpeername/SO_COOKIE, the duplicate
   * closed at once), or the errno why not (ESRCH, EBADF, ENOTSOCK, EPERM…).
   */
  socketInfo(pid: number, fd: number): SocketInfo | number;
};

/** One socket as socketInfo() reads it; addresses are sockaddr bytes in hex, as audit SOCKADDR's saddr. */
export type SocketInfo = {
  /** AF_* (SO_DOMAIN). */
  readonly family: number;
  /** SOCK_* (SO_TYPE). */
  readonly type: number;
  /** IPPROTO_* (SO_PROTOCOL). */
  readonly protocol: number;
  readonly inode: number;
  /** SO_COOKIE's 8 bytes in hex, as inet_diag reports the cookie ("" when the kernel has none). */
  readonly cookie: string;
  /** getsockname(). */
  readonly local: string;
  /** getpeername(); "" when not connected (yet: a TCP connect still in SYN_SENT). */
  readonly peer: string;
};

export type AddonLoad<T = SocketsAddon> =
  { readonly ok: true; readonly addon: T } | { readonly ok: false; readonly reason: string };

let cached: AddonLoad | undefined;

/**
 * The addon, or why it is unavailable. Built by `node-gyp rebuild` at install; a failed build leaves no
 * file and the agent runs without netlink sensors instead of crashing.
 */
export function loadSocketsAddon(): AddonLoad {
  if (cached === undefined) {
    const load = loadAddon<NativeSocketsAddon>("ring3_sockets", "native sensors");
    cached = load.ok ? { ok: true, addon: withDatagrams(load.addon) } : load;
  }
  return cached;
}

/**
 * What ring3_sockets.node's start() hands over per batch: one Buffer with the datagrams back to back and where
 * each ends (native/ring3_sockets.c, batch_arguments). An empty batch means the reader stopped on an error.
 */
type NativeSocketsAddon = Omit<SocketsAddon, "start"> & {
  start(socket: NetlinkSocket, onBatch: (bytes: Buffer, ends: Uint32Array) => void): void;
};

function withDatagrams(native: NativeSocketsAddon): SocketsAddon {
  return {
    ...native,
    start: (socket, onBatch) => native.start(socket, (bytes, ends) => onBatch(splitBatch(bytes, ends))),
  };
}

/** One Buffer view per datagram of a native batch (no copies: the views share the batch's memory). */
export function splitBatch(bytes: Buffer, ends: Uint32Array): Buffer[] {
  const datagrams = new Array<Buffer>(ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    datagrams[i] = bytes.subarray(start, end);
    start = end;
  }
  return datagrams;
}

/** One of the agent's addons (binding.gyp targets) from build/Release, or why it cannot be used here. */
export function loadAddon<T>(target: string, what: string): AddonLoad<T> {
  if (process.platform !== "linux") return { ok: false, reason: `${what} need Linux (this is ${process.platform})` };
  const path = join(import.meta.dirname, "..", "build", "Release", `${target}.node`);
  if (!existsSync(path)) {
    return {
      ok: false,
      reason: `${what} unavailable: ${path} is missing (the addon did not build at install; run 'npm rebuild @ring3/agent' with a C compiler and python3)`,
    };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as T;
    return { ok: true, addon };
  } catch (error) {
    return { ok: false, reason: `${what} unavailable: cannot load ${path}: ${(error as Error).message}` };
  }
}
