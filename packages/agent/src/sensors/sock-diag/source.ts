import { readdir, readlink } from "node:fs/promises";
import type { NetlinkSocket, SocketsAddon } from "../../native.ts";
import { SENSOR_BATCH_MS } from "../../native.ts";
import { NLMSG_DONE, NLMSG_ERROR, netlinkError, splitNetlinkMessages } from "../../netlink.ts";
import type { SensorStatusListener } from "../../sensor.ts";
import type { InetSocket } from "./parse.ts";
import {
  AF_INET,
  AF_INET6,
  DESTROY_GROUPS,
  NETLINK_SOCK_DIAG,
  TCP_ESTABLISHED,
  TCP_LISTEN,
  encodeInetDiagRequest,
  parseInetDiagMessage,
} from "./parse.ts";

/** A socket in the inventory, attributed to a process when /proc showed whose fd it is. */
export type InventorySocket = InetSocket & { readonly pid: number | undefined; readonly firstSeenMs: number };

export type SockDiagSourceOptions = {
  readonly onStatus: SensorStatusListener;
  /** Sockets seen for the first time by a dump (established or listening); `initial` for the first dump. */
  readonly onNewSockets: (sockets: readonly InventorySocket[], initial: boolean) => void;
  /** TCP and UDP sockets the kernel destroyed (their destroy notifications), in arrival order. */
  readonly onDestroyed?: (sockets: readonly InetSocket[]) => void;
  /**
   * Whether a dump's new sockets need their owning process (a scan of every /proc/<pid>/fd): the first dump's
   * always do; later ones only when something else (audit) does not attribute connections. Default: always.
   */
  readonly ownersWanted?: (initial: boolean) => boolean;
  readonly intervalMs?: number;
};

export type SockDiagSourceStats = {
  readonly dumps: number;
  readonly listeners: number;
  readonly established: number;
  /** TCP and UDP destroy notifications received (the kernel sends one per closed socket). */
  readonly destroyed: number;
  /** Destroys of sockets the inventory knew: their lifetime is known. */
  readonly lifetimesMeasured: number;
  readonly enobufs: number;
  readonly ringDrops: number;
};

const MAX_INVENTORY = 65_536;

/**
 * TCP inventory and lifetimes from NETLINK_SOCK_DIAG, read-only: a periodic inet_diag dump of listening and
 * established sockets (v4 and v6) on one socket, and the SKNLGRP_INET(6)_TCP_DESTROY and _UDP_DESTROY
 * multicast groups on another (sock_diag_bind() requires CAP_NET_ADMIN for them). Nothing is ever sent that
 * changes a socket.
 */
export class SockDiagSource {
  static readonly sensorName = "sock-diag";
  private readonly addon: SocketsAddon;
  private readonly options: SockDiagSourceOptions;
  private query: NetlinkSocket | undefined;
  private destroys: NetlinkSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly inventory = new Map<string, InventorySocket>();
  private collecting: InetSocket[] | undefined;
  /** The request whose replies are being collected, and the families still to dump after it. */
  private waitingSeq: number | undefined;
  private familiesLeft: number[] = [];
  private seq = 1;
  private dumps = 0;
  private destroyed = 0;
  private lifetimesMeasured = 0;
  private dumping = false;

  constructor(addon: SocketsAddon, options: SockDiagSourceOptions) {
    this.addon = addon;
    this.options = options;
  }

  start(): boolean {
    const name = SockDiagSource.sensorName;
    try {
      this.query = this.addon.open({ protocol: NETLINK_SOCK_DIAG, rcvbuf: 4 * 1024 * 1024 });
      this.destroys = this.addon.open({
        protocol: NETLINK_SOCK_DIAG,
        groups: DESTROY_GROUPS,
        rcvbuf: 4 * 1024 * 1024,
        batchMs: SENSOR_BATCH_MS,
      });
    } catch (error) {
      this.close();
      this.options.onStatus(name, {
        state: "degraded",
        reason: `cannot open NETLINK_SOCK_DIAG (destroy groups need CAP_NET_ADMIN): ${(error as Error).message}`,
      });
      return false;
    }
    this.addon.start(this.query, (datagrams) => this.onDump(datagrams));
    this.addon.start(this.destroys, (datagrams) => this.onDestroy(datagrams));
    const interval = this.options.intervalMs ?? 60_000;
    this.dump();
    this.timer = setInterval(() => this.dump(), interval);
    this.options.onStatus(name, {
      state: "started",
      detail: `TCP listeners and established sockets every ${interval} ms; TCP and UDP destroy notifications`,
    });
    return true;
  }

  stats(): SockDiagSourceStats {
    let listeners = 0;
    let established = 0;
    for (const s of this.inventory.values()) {
      if (s.state === "LISTEN") listeners++;
      else established++;
    }
    const native = [this.query, this.destroys].map((s) => (s === undefined ? undefined : this.addon.stats(s)));
    return {
      dumps: this.dumps,
      listeners,
      established,
      destroyed: this.destroyed,
      lifetimesMeasured: this.lifetimesMeasured,
      enobufs: native.reduce((sum, s) => sum + (s?.enobufs ?? 0), 0),
      ringDrops: native.reduce((sum, s) => sum + (s?.ringDrops ?? 0), 0),
    };
  }

  /** The ports some inventoried socket listens on (an established socket on one of them was accepted). */
  listeningPorts(): Set<number> {
    const ports = new Set<number>();
    for (const s of this.inventory.values()) if (s.state === "LISTEN") ports.add(s.sourcePort);
    return ports;
  }

  stop(): void {
    if (this.query === undefined) return;
    const stats = this.stats();
    this.close();
    this.options.onStatus(SockDiagSource.sensorName, {
      state: "stopped",
      detail: `${stats.dumps} dumps, ${stats.destroyed} socket destroys, ${stats.enobufs} ENOBUFS`,
    });
  }

  private close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const socket of [this.query, this.destroys]) if (socket !== undefined) this.addon.close(socket);
    this.query = undefined;
    this.destroys = undefined;
  }

  private dump(): void {
    // One dump at a time: a slow /proc scan must not stack dumps up.
    if (this.dumping || this.query === undefined) return;
    this.dumping = true;
    this.collecting = [];
    this.familiesLeft = [AF_INET, AF_INET6];
    this.requestNext();
  }

  /**
   * One dump per socket at a time: netlink_dump_start() refuses a second while one runs (EBUSY), so the
   * IPv6 request goes out after the IPv4 dump's NLMSG_DONE.
   */
  private requestNext(): void {
    const family = this.familiesLeft.shift();
    if (family === undefined || this.query === undefined) {
      this.waitingSeq = undefined;
      return;
    }
    this.waitingSeq = this.seq++;
    const states = (1 << TCP_ESTABLISHED) | (1 << TCP_LISTEN);
    this.addon.send(this.query, encodeInetDiagRequest(family, states, this.waitingSeq));
  }

  private onDump(datagrams: Buffer[]): void {
    for (const datagram of datagrams) {
      for (const message of splitNetlinkMessages(datagram)) {
        if (message.seq !== this.waitingSeq) continue;
        if (message.type === NLMSG_DONE || (message.type === NLMSG_ERROR && netlinkError(message) !== 0)) {
          this.requestNext();
          continue;
        }
        const socket = parseInetDiagMessage(message);
        if (socket !== undefined) this.collecting?.push(socket);
      }
    }
    if (this.waitingSeq === undefined && this.collecting !== undefined) {
      const sockets = this.collecting;
      this.collecting = undefined;
      void this.finishDump(sockets);
    }
  }

  private async finishDump(sockets: readonly InetSocket[]): Promise<void> {
    const initial = this.dumps === 0;
    const fresh = sockets.filter((s) => !this.inventory.has(s.cookie) && s.inode !== 0);
    const owners =
      fresh.length === 0 || this.options.ownersWanted?.(initial) === false
        ? new Map<number, number>()
        : await socketOwners(new Set(fresh.map((s) => s.inode)));
    const now = Date.now();
    const added: InventorySocket[] = [];
    const seen = new Set<string>();
    for (const s of sockets) {
      seen.add(s.cookie);
      if (this.inventory.has(s.cookie) || s.inode === 0) continue;
      const entry = { ...s, pid: owners.get(s.inode), firstSeenMs: now };
      if (this.inventory.size < MAX_INVENTORY) this.inventory.set(s.cookie, entry);
      added.push(entry);
    }
    // A socket gone from the dump without a destroy notification (ENOBUFS lost it) leaves the inventory too.
    for (const cookie of this.inventory.keys()) if (!seen.has(cookie)) this.inventory.delete(cookie);
    this.dumps++;
    this.dumping = false;
    if (added.length > 0) this.options.onNewSockets(added, initial);
  }

  private onDestroy(datagrams: Buffer[]): void {
    if (datagrams.length === 0 && this.destroys !== undefined) {
      const error = this.addon.stats(this.destroys).error;
      if (error !== null)
        this.options.onStatus(SockDiagSource.sensorName, { state: "degraded", reason: `reader stopped: ${error}` });
      return;
    }
    const sockets: InetSocket[] = [];
    for (const datagram of datagrams) {
      for (const message of splitNetlinkMessages(datagram)) {
        const socket = parseInetDiagMessage(message);
        if (socket === undefined) continue;
        this.destroyed++;
        if (this.inventory.delete(socket.cookie)) this.lifetimesMeasured++;
        sockets.push(socket);
      }
    }
    if (sockets.length > 0) this.options.onDestroyed?.(sockets);
  }
}

/**
 * inode → pid for the given socket inodes, from the /proc/<pid>/fd links ("socket:[12345]"). The first
 * process found wins (a socket shared after fork belongs to several). Processes that exit mid-scan are skipped.
 */
export async function socketOwners(inodes: ReadonlySet<number>): Promise<Map<number, number>> {
  const owners = new Map<number, number>();
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    if (owners.size === inodes.size) break;
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match === null) continue;
      const inode = Number(match[1]);
      if (inodes.has(inode) && !owners.has(inode)) owners.set(inode, Number(pid));
    }
  }
  return owners;
}
