import { readlinkSync } from "node:fs";
import { hostname } from "node:os";
import type { Event } from "@ring3/schema";
import type { ConnectionEnd, Endpoint, ResolvedConnection } from "./connection-tracker.ts";
import { ConnectionTracker, sameIp } from "./connection-tracker.ts";
import { HashCache } from "./hash-cache.ts";
import type { SocketsAddon } from "./native.ts";
import { loadSocketsAddon } from "./native.ts";
import type { NormaliseContext } from "./normalise.ts";
import type { ConnectionDetails, KnownProcess } from "./normalise.ts";
import {
  UserNameResolver,
  auditEventToSigma,
  connectionClosedEvent,
  fileEvent,
  networkConnectionEvent,
  processCreationEvent,
  processTerminationEvent,
  sensorLossEvent,
} from "./normalise.ts";
import type { ProcessNode } from "./process-tree.ts";
import { ProcessTree } from "./process-tree.ts";
import type { SensorStatusListener } from "./sensor.ts";
import { monotonicToIso } from "./sensor.ts";
import type { AuditNetworkCall } from "./sensors/audit/network-call.ts";
import { auditNetworkCall } from "./sensors/audit/network-call.ts";
import type { AuditEvent } from "./sensors/audit/parse.ts";
import { execveArgv, syscallName } from "./sensors/audit/parse.ts";
import { decodeSockaddr } from "./sensors/audit/sockaddr.ts";
import type { AuditSourceStats } from "./sensors/audit/source.ts";
import { AuditSource } from "./sensors/audit/source.ts";
import type { FanotifyEvent, FanotifyPaths } from "./sensors/fanotify/parse.ts";
import {
  FAN_CLOSE_WRITE,
  FAN_CREATE,
  FAN_DELETE,
  FAN_ONDIR,
  FAN_RENAME,
  fanotifyMaskNames,
  fanotifyPaths,
} from "./sensors/fanotify/parse.ts";
import { PathFilter } from "./sensors/fanotify/path-filter.ts";
import type { FanotifySensorStats } from "./sensors/fanotify/source.ts";
import { FanotifySensor } from "./sensors/fanotify/source.ts";
import type { InetSocket } from "./sensors/sock-diag/parse.ts";
import { PROTOCOL_NAMES } from "./sensors/sock-diag/parse.ts";
import type { InventorySocket, SockDiagSourceStats } from "./sensors/sock-diag/source.ts";
import { SockDiagSource } from "./sensors/sock-diag/source.ts";
import { KernelInventoryTracker } from "./sensors/kernel-inventory/parse.ts";
import { kernelChangeEvent, kernelInventoryEvents, readKernelSnapshot } from "./sensors/kernel-inventory/source.ts";
import type { ProcessConnectorEvent } from "./sensors/process-connector/parse.ts";
import type { ProcessConnectorStats } from "./sensors/process-connector/source.ts";
import { ProcessConnectorSource } from "./sensors/process-connector/source.ts";
import { joinCommandLine } from "./sensors/proc-inventory/parse.ts";
import type { ProcessSnapshot } from "./sensors/proc-inventory/source.ts";
import { readBootTime, readProcInventory, readProcess, readProcessSync } from "./sensors/proc-inventory/source.ts";

/** execve or execveat, for either ABI (ring3 audits both: arch=c000003e and arch=40000003). */
const isExec = (name: string | undefined): boolean => name === "execve" || name === "execveat";

const OWN_PID = String(process.pid);
/** Character devices whose close-after-write is not a file write (block devices, e.g. a disk being wiped, still are). */
const WRITE_SINK_DEVICES: ReadonlySet<string> = new Set([
  "/dev/null",
  "/dev/zero",
  "/dev/full",
  "/dev/tty",
  "/dev/console",
  "/dev/ptmx",
  "/dev/random",
  "/dev/urandom",
]);
/** Recently created paths per pid, so the close after writing a new file does not repeat its file_event. */
const MAX_RECENT_CREATES = 4096;

/** Loss counters per sensor: a rise in any of them raises a SensorLoss event. */
const LOSS_COUNTERS = {
  "process-connector": ["sequenceLost", "enobufs", "ringDrops"],
  audit: ["serialLost", "kernelLost", "enobufs", "ringDrops"],
  fanotify: ["overflows", "ringDrops", "unresolved"],
  "sock-diag": ["enobufs", "ringDrops"],
  connections: ["closesLost"],
} as const;

export type AgentHealth = {
  readonly time: string;
  readonly events: number;
  readonly processes: number;
  readonly sensors: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;
};

export type LinuxAgentOptions = {
  readonly onEvent: (event: Event) => void;
  readonly onStatus: SensorStatusListener;
  readonly connector?: boolean;
  readonly audit?: boolean;
  readonly auditBacklogLimit?: number;
  readonly watchedPaths?: readonly string[];
  /** Poll /proc for new processes when the connector is unavailable (unprivileged). */
  readonly pollIntervalMs?: number;
  /** Inventory processes become process_creation events (rules see what already runs). */
  readonly emitInventory?: boolean;
  readonly host?: string;
  /** File events (fanotify filesystem marks). */
  readonly fanotify?: boolean;
  /** Only paths under these prefixes become file events (default: /). */
  readonly fileInclude?: readonly string[];
  /** Paths under these prefixes never become file events; the agent's own output files are always added. */
  readonly fileExclude?: readonly string[];
  /** Socket inventory and TCP destroy notifications (NETLINK_SOCK_DIAG). */
  readonly sockDiag?: boolean;
  readonly sockDiagIntervalMs?: number;
  /** How often onHealth is called and loss counters are compared. */
  readonly healthIntervalMs?: number;
  readonly onHealth?: (health: AgentHealth) => void;
  /** How often /proc/modules and the kernel taint are compared with what they were at start. */
  readonly kernelInventoryIntervalMs?: number;
  /** For tests: pretend the addon is missing. */
  readonly addon?: SocketsAddon | null;
};

export type LinuxAgentStats = {
  readonly events: number;
  readonly processes: number;
  readonly connector: ProcessConnectorStats | undefined;
  readonly audit: AuditSourceStats | undefined;
  readonly fanotify: FanotifySensorStats | undefined;
  readonly sockDiag: SockDiagSourceStats | undefined;
  readonly hashes: { readonly cached: number; readonly hashed: number };
  readonly connections: ConnectionStats;
};

/** How audit's connect/accept calls were completed with their sockets (see ConnectionTracker). */
export type ConnectionStats = {
  /** Local end read from the socket while the process held it. */
  readonly fromSocket: number;
  /** Local end taken from the socket's destroy notification (the socket was already closed). */
  readonly fromDestroy: number;
  /** Reported without a local end: the socket was gone and no destroy notification fitted in time. */
  readonly unresolved: number;
  /** ConnectionClosed events. */
  readonly closed: number;
  /** Connections reported and still open. */
  readonly open: number;
  /** Connections whose close will never be reported (see ConnectionTracker.forgotten and .misread). */
  readonly closesLost: number;
};

/** What a connection's events need besides the addresses: the call and who made it. */
type ConnectionContext = {
  readonly time: string;
  readonly syscall: string;
  readonly exit: string | undefined;
  readonly known: KnownProcess;
};

const NATIVE_SENSORS = [
  ProcessConnectorSource.sensorName,
  AuditSource.sensorName,
  FanotifySensor.sensorName,
  SockDiagSource.sensorName,
] as const;

/** The agent's stdout/stderr when they are files: writing them must not produce file events about itself. */
function ownOutputFiles(): string[] {
  const out: string[] = [];
  for (const fd of [1, 2]) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("/") && !target.startsWith("/dev/")) out.push(target);
    } catch {
      // Not on Linux or no such fd: nothing to exclude.
    }
  }
  return out;
}

/**
 * The Linux agent: sensors in, normalised events out. process_creation comes from audit execve when ring3's
 * rules are installed (argv, exe, cwd, auid exactly as the kernel saw them), else from the connector's exec
 * plus a /proc read (racy for short-lived processes), else from polling /proc.
 */
/** How long a file event of a not-yet-known process waits for the connector's fork notification. */
const UNKNOWN_PROCESS_WAIT_MS = 50;
/** How long a process_termination waits for the audit execve of its process (see flushExits). */
const EXIT_DELAY_MS = 200;

/** An outbound connection goes from the local end to the remote one; an inbound one the other way round. */
function connectionDetails(c: ResolvedConnection<unknown>): ConnectionDetails {
  const [from, to] = c.initiated ? [c.local, c.remote] : [c.remote, c.local];
  return {
    initiated: c.initiated,
    protocol: c.protocol,
    sourceIp: from?.ip,
    sourcePort: from?.port,
    destinationIp: to?.ip,
    destinationPort: to?.port,
  };
}

export class LinuxAgent {
  readonly tree = new ProcessTree();
  private readonly options: LinuxAgentOptions;
  private readonly ctx: NormaliseContext;
  private connector: ProcessConnectorSource | undefined;
  private auditSource: AuditSource | undefined;
  private fanotify: FanotifySensor | undefined;
  private sockDiag: SockDiagSource | undefined;
  private readonly paths: PathFilter;
  private readonly hashes = new HashCache();
  private readonly recentCreates = new Set<string>();
  private lastLoss = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  /** How many file events of each pid are waiting for its fork notification (see `onFanotify`). */
  private readonly waitingFileEvents = new Map<number, number>();
  private readonly waitingBatches = new Set<FanotifyEvent[]>();
  /**
   * Per pid, the connector's execs less audit's execves: above 0, the process has exec'd and the tree still
   * holds the image its fork copied, until kauditd delivers the execve (it lags fanotify, which queues the
   * event in the writer's own syscall, whenever the host is busy). Below 0 when audit came first.
   */
  private readonly execsAwaitingAudit = new Map<number, number>();
  /**
   * Date.now() at each process's fork notification, until its exec (from either sensor) or exit: the connector
   * can hand over a fork in one batch and the exec that follows it in the next, after fanotify's event.
   */
  private readonly forksAwaitingExec = new Map<number, number>();
  private bootTime = 0;
  private events = 0;
  private counter = 0;
  private stopping = false;
  private polling = false;
  private readonly kernel = new KernelInventoryTracker();
  private reconciling = false;
  private readonly connections = new ConnectionTracker<ConnectionContext>({
    onConnection: (c) => this.emitConnection(c),
    onClosed: (c, end) => this.emitConnectionClosed(c, end),
  });
  private connectionTimer: NodeJS.Timeout | undefined;
  private exits: { node: ProcessNode; time: string; raw: Record<string, unknown>; atMs: number }[] = [];
  private exitTimer: NodeJS.Timeout | undefined;
  /** The addon when the native sensors run (root): reads the sockets behind audit's connect/accept. */
  private addon: SocketsAddon | undefined;
  private fromSocket = 0;
  /**
   * The local end of each listening socket read so far, by pid and fd, until the process's exit is reported:
   * a server that closes its listener right after its last accepts (or exits) is read too late for them.
   */
  private readonly listenerEnds = new Map<number, Map<number, Endpoint>>();

  constructor(options: LinuxAgentOptions) {
    this.options = options;
    this.paths = new PathFilter({
      ...(options.fileInclude === undefined ? {} : { include: options.fileInclude }),
      exclude: [...(options.fileExclude ?? []), ...ownOutputFiles()],
    });
    const host = options.host ?? hostname();
    this.ctx = {
      host,
      tree: this.tree,
      users: new UserNameResolver(),
      nextId: () => `${host}-${process.pid}-${++this.counter}`,
    };
  }

  async start(): Promise<void> {
    const status = this.options.onStatus;
    this.bootTime = await readBootTime();
    const load =
      this.options.addon === null
        ? { ok: false as const, reason: "native sensors disabled" }
        : this.options.addon !== undefined
          ? { ok: true as const, addon: this.options.addon }
          : loadSocketsAddon();
    const root = process.getuid?.() === 0;
    if (!load.ok) {
      for (const name of NATIVE_SENSORS) status(name, { state: "degraded", reason: load.reason });
    } else if (!root) {
      const reason =
        "not running as root: the process connector and sock_diag need CAP_NET_ADMIN, audit CAP_AUDIT_CONTROL, fanotify CAP_SYS_ADMIN; running /proc inventory only";
      for (const name of NATIVE_SENSORS) status(name, { state: "degraded", reason });
    } else {
      this.addon = load.addon;
      // Sensors first, inventory second: a process started during the scan is then seen by one or both.
      if (this.options.connector !== false) {
        this.connector = new ProcessConnectorSource(load.addon, {
          onEvents: (events) => this.onConnector(events),
          onStatus: status,
        });
        if (!this.connector.start()) this.connector = undefined;
      }
      if (this.options.audit !== false) {
        this.auditSource = new AuditSource(load.addon, {
          onEvents: (events) => this.onAudit(events),
          onStatus: status,
          ...(this.options.auditBacklogLimit === undefined ? {} : { backlogLimit: this.options.auditBacklogLimit }),
          ...(this.options.watchedPaths === undefined ? {} : { watchedPaths: this.options.watchedPaths }),
        });
        if (!(await this.auditSource.start())) this.auditSource = undefined;
      }
      if (this.options.fanotify !== false) {
        this.fanotify = new FanotifySensor(load.addon, {
          onEvents: (events) => this.onFanotify(events),
          onStatus: status,
        });
        if (!this.fanotify.start()) this.fanotify = undefined;
      }
      if (this.options.sockDiag !== false) {
        this.sockDiag = new SockDiagSource(load.addon, {
          onStatus: status,
          onNewSockets: (sockets, initial) => this.onNewSockets(sockets, initial),
          onDestroyed: (sockets) => this.onDestroyed(sockets),
          // Later dumps' connections are only reported when audit does not report connect/accept (onNewSockets).
          ownersWanted: (initial) => initial || this.auditSource?.execveAudited !== true,
          ...(this.options.sockDiagIntervalMs === undefined ? {} : { intervalMs: this.options.sockDiagIntervalMs }),
        });
        if (!this.sockDiag.start()) this.sockDiag = undefined;
      }
    }
    const inventory = await readProcInventory();
    for (const p of inventory) this.addSnapshot(p, this.options.emitInventory !== false);
    status("proc-inventory", { state: "started", detail: `${inventory.length} processes running before the agent` });
    if (this.connector === undefined) {
      const interval = this.options.pollIntervalMs ?? 1000;
      status("proc-inventory", {
        state: "degraded",
        reason: `no process connector: polling /proc every ${interval} ms (processes shorter than that are missed)`,
      });
      this.timers.push(setInterval(() => void this.poll(), interval));
    }
    await this.reconcileKernel();
    this.timers.push(setInterval(() => void this.reconcileKernel(), this.options.kernelInventoryIntervalMs ?? 60_000));
    this.timers.push(setInterval(() => this.tree.sweep(), 5000));
    this.timers.push(setInterval(() => this.checkHealth(), this.options.healthIntervalMs ?? 10_000));
  }

  stats(): LinuxAgentStats {
    return {
      events: this.events,
      processes: this.tree.size,
      connector: this.connector?.stats(),
      audit: this.auditSource?.stats(),
      fanotify: this.fanotify?.stats(),
      sockDiag: this.sockDiag?.stats(),
      hashes: { cached: this.hashes.size, hashed: this.hashes.hashed },
      connections: {
        fromSocket: this.fromSocket,
        fromDestroy: this.connections.paired,
        unresolved: this.connections.unpaired,
        closed: this.connections.closed,
        open: this.connections.tracked,
        closesLost: this.connections.forgotten + this.connections.misread,
      },
    };
  }

  /** Counters per sensor (absent: not running), as the periodic `{"health": …}` line prints them. */
  health(): AgentHealth {
    const stats = this.stats();
    return {
      time: new Date().toISOString(),
      events: stats.events,
      processes: stats.processes,
      sensors: {
        "process-connector": stats.connector,
        audit: stats.audit,
        fanotify: stats.fanotify === undefined ? undefined : { ...stats.fanotify, marked: [...stats.fanotify.marked] },
        "sock-diag": stats.sockDiag,
        hashes: stats.hashes,
        connections: stats.connections,
      },
    };
  }

  /** Reports health, and raises a SensorLoss event for every loss counter that went up since the last check. */
  checkHealth(): AgentHealth {
    const health = this.health();
    for (const [sensor, counters] of Object.entries(LOSS_COUNTERS)) {
      const stats = health.sensors[sensor];
      if (stats === undefined) continue;
      for (const counter of counters) {
        const total = stats[counter];
        if (typeof total !== "number") continue;
        const key = `${sensor}.${counter}`;
        const increase = total - (this.lastLoss.get(key) ?? 0);
        this.lastLoss.set(key, total);
        if (increase > 0) this.emit(sensorLossEvent(this.ctx, sensor, counter, increase, total));
      }
    }
    this.options.onHealth?.(health);
    return health;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.connector?.stop();
    this.fanotify?.stop();
    this.sockDiag?.stop();
    await this.auditSource?.stop();
    // File events waiting for their writer's fork notification, connections still waiting for their socket's
    // destroy, and exits waiting for audit, are reported as known.
    for (const waiting of this.waitingBatches) this.onFanotify(waiting, true);
    this.waitingBatches.clear();
    clearTimeout(this.connectionTimer);
    this.connections.flush();
    clearTimeout(this.exitTimer);
    this.flushExits(true);
    this.options.onStatus("proc-inventory", {
      state: "stopped",
      detail: `${this.tree.size} processes tracked at stop`,
    });
  }

  private emit(event: Event): void {
    this.events += 1;
    this.options.onEvent(event);
  }

  /**
   * An exec's process_creation with the image's SHA-256 (`Hashes`), emitted once the hash is known (at once
   * for an image already in the cache). The event is built first, so a later exec of the same pid cannot
   * change what it says.
   */
  private emitWithImageHash(event: Event, local: boolean): void {
    const image = event.fields.Image;
    if (typeof image !== "string") {
      this.emit(event);
      return;
    }
    const withHash = (sha256: string | undefined): void => {
      if (sha256 !== undefined) event.fields.Hashes = `SHA256=${sha256.toUpperCase()}`;
      this.emit(event);
    };
    const sha256 = local ? this.hashes.sha256Local(image) : this.hashes.sha256(image);
    if (sha256 instanceof Promise) void sha256.then(withHash);
    else withHash(sha256);
  }

  /**
   * Loaded kernel modules and the taint mask: the first look is the inventory (events) and the baseline; later
   * looks raise KernelModuleLoadedAfterStart / KernelTaintChanged. Polling rather than audit alone, because a
   * module can be loaded while audit is off or its records are lost, and taint has no event at all.
   */
  async reconcileKernel(): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    const first = !this.kernel.started;
    const snapshot = await readKernelSnapshot();
    this.reconciling = false;
    if (this.stopping) return;
    const changes = this.kernel.observe(snapshot.modules, snapshot.taint);
    if (first) {
      for (const event of kernelInventoryEvents(this.ctx, snapshot)) this.emit(event);
      this.options.onStatus("kernel-inventory", {
        state: "started",
        detail: `${snapshot.modules === undefined ? "no /proc/modules (kernel without module support)" : `${snapshot.modules.length} modules`}, taint ${snapshot.taint ?? "unreadable"}`,
      });
    }
    for (const change of changes) this.emit(kernelChangeEvent(this.ctx, change));
  }

  private addSnapshot(p: ProcessSnapshot, emit: boolean): void {
    if (p.kernelThread || this.tree.get(p.pid) !== undefined) return;
    const node = this.tree.addSnapshot(p.pid, p.ppid, p.startTime, {
      image: p.exe,
      argv: p.argv,
      commandLine: joinCommandLine(p.argv),
      cwd: p.cwd,
      uid: p.uid,
      comm: p.comm,
    });
    if (emit) this.emit(processCreationEvent(this.ctx, node, p.startTime, { source: "proc-inventory" }));
  }

  private async poll(): Promise<void> {
    // One scan at a time; a scan that fails (transient EMFILE…) must not read as "every process exited".
    if (this.polling) return;
    this.polling = true;
    const inventory = await readProcInventory().catch(() => undefined);
    this.polling = false;
    if (inventory === undefined || this.stopping) return;
    const seen = new Set<number>();
    for (const p of inventory) {
      seen.add(p.pid);
      this.addSnapshot(p, true);
    }
    const now = new Date().toISOString();
    for (const node of [...this.tree.live()]) {
      if (seen.has(node.pid)) continue;
      this.tree.exit(node.pid, now);
      this.emit(processTerminationEvent(this.ctx, node, now, { source: "proc-poll" }));
    }
  }

  /**
   * process_termination events wait EXIT_DELAY_MS: the connector reports a short process's exit before audit
   * has delivered its execve (kauditd is asynchronous), and the event must name the image that exited, not
   * the parent's that the fork copied.
   */
  private flushExits(all = false): void {
    const due = Date.now() - EXIT_DELAY_MS;
    let i = 0;
    for (; i < this.exits.length; i++) {
      const exit = this.exits[i]!;
      if (!all && exit.atMs > due) break;
      this.emit(processTerminationEvent(this.ctx, exit.node, exit.time, exit.raw));
      // Its audit records are in by now (that is what the delay waits for); the pid may be reused next.
      this.listenerEnds.delete(exit.node.pid);
      this.execsAwaitingAudit.delete(exit.node.pid);
      this.forksAwaitingExec.delete(exit.node.pid);
    }
    this.exits.splice(0, i);
    if (this.exits.length > 0 && this.exitTimer === undefined && !this.stopping)
      this.exitTimer = setTimeout(() => {
        this.exitTimer = undefined;
        this.flushExits();
      }, EXIT_DELAY_MS);
  }

  private onConnector(events: readonly ProcessConnectorEvent[]): void {
    this.onConnectorEvents(events);
    this.flushExits();
  }

  private onConnectorEvents(events: readonly ProcessConnectorEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case "fork":
          // Threads are forks with child_pid != child_tgid; only new processes enter the tree.
          if (event.childPid === event.childTgid) {
            this.tree.fork(event.parentTgid, event.childTgid, monotonicToIso(event.timestampMs));
            this.forksAwaitingExec.set(event.childTgid, Date.now());
          }
          break;
        case "exec":
          if (this.auditSource?.execveAudited !== true)
            void this.execFromProc(event.tgid, monotonicToIso(event.timestampMs));
          else this.countExec(event.tgid, 1);
          this.forksAwaitingExec.delete(event.tgid);
          break;
        case "exit":
          if (event.pid === event.tgid) {
            const time = monotonicToIso(event.timestampMs);
            const node = this.tree.exit(event.tgid, time);
            if (node !== undefined) {
              const raw = { source: "process-connector", exitCode: event.exitCode, exitSignal: event.exitSignal };
              this.exits.push({ node, time, raw, atMs: Date.now() });
            }
          }
          break;
        case "uid": {
          const node = this.tree.get(event.tgid);
          if (node !== undefined) node.uid = event.real;
          break;
        }
        case "comm": {
          const node = this.tree.get(event.tgid);
          if (node !== undefined) node.comm = event.comm;
          break;
        }
        default:
          break;
      }
    }
  }

  /** Connector-only exec: what /proc still shows. A process that already exited keeps its pre-exec image. */
  private async execFromProc(pid: number, time: string): Promise<void> {
    const p = await readProcess(pid, this.bootTime);
    const node = this.tree.exec(
      pid,
      time,
      p === undefined
        ? {}
        : {
            image: p.exe,
            argv: p.argv,
            commandLine: joinCommandLine(p.argv),
            cwd: p.cwd,
            uid: p.uid,
            comm: p.comm,
            ppid: p.ppid,
          },
    );
    this.emitWithImageHash(
      processCreationEvent(this.ctx, node, time, { source: "process-connector", procRead: p !== undefined }),
      false,
    );
  }

  private onAudit(events: readonly AuditEvent[]): void {
    // A process can close a socket and get its fd number again for the next connection before this batch
    // is read (a storm of short connections): only the batch's last call on a pid's fd may read the socket.
    const calls = events.map(auditNetworkCall);
    const lastOnFd = new Map<string, number>();
    calls.forEach((call, i) => {
      if (call?.fd !== undefined) lastOnFd.set(`${call.pid}:${call.fd}`, i);
    });
    events.forEach((event, i) => {
      const sigma = auditEventToSigma(this.ctx, event);
      // The agent's own audit changes (stale rules removed at start, settings put back at stop) are not
      // tampering: self-protection rules filter on this field.
      if (sigma.fields.pid === OWN_PID) sigma.fields.ring3_self = "true";
      this.emit(sigma);
      const node = this.execFromAudit(event, sigma.time);
      // The audit lines are the auditd event's raw; the process_creation names that event instead of
      // carrying a second copy of them.
      if (node !== undefined)
        this.emitWithImageHash(
          processCreationEvent(this.ctx, node, sigma.time, { source: "audit", auditEvent: sigma.id }),
          this.onMarkedFilesystem(event),
        );
      const call = calls[i];
      if (call !== undefined) {
        const own = call.fd !== undefined && lastOnFd.get(`${call.pid}:${call.fd}`) === i;
        this.connectionFromAudit(call, event.time * 1000, sigma.time, own);
      }
    });
    this.scheduleConnectionExpiry();
  }

  /**
   * A connect/accept → network_connection, with the local end and protocol read from the socket itself when
   * the process still holds it (`readSocket`), which is what a connection that carries any traffic does by the
   * time its audit record is read. A socket already closed (a probe, a storm of short connections) is
   * completed from its sock_diag destroy notification instead (ConnectionTracker). connect's sockaddr is the
   * destination; accept's is the peer, so an inbound connection has the remote end as Source (as Sysmon
   * reports it).
   */
  private connectionFromAudit(call: AuditNetworkCall, timeMs: number, time: string, readSocket: boolean): void {
    this.ensureKnown(call.pid);
    let socket = readSocket && call.fd !== undefined ? this.readSocket(call.pid, call.fd, call.remote) : undefined;
    const listener =
      call.listenerFd !== undefined && (socket === undefined || call.remote === undefined)
        ? this.listenerEnd(call.pid, call.listenerFd)
        : undefined;
    // accept4(fd, NULL, NULL) (libuv's, so every Node server's) leaves audit without the peer, and the fd it
    // returned may already hold another socket: a server that closes at once and then connects somewhere
    // reused fd 23 for a client socket, which was reported as the accepted connection with its ends swapped.
    // An accepted socket has the listener's local port; anything else is not this call's.
    if (socket !== undefined && listener !== undefined && socket.local.port !== listener.port) socket = undefined;
    if (socket !== undefined) this.fromSocket += 1;
    this.connections.attempt(
      {
        pid: call.pid,
        timeMs,
        initiated: call.name === "connect",
        protocol: socket?.protocol,
        local: socket?.local,
        remote: call.remote ?? socket?.remote,
        listener,
        cookie: socket?.cookie,
        context: { time, syscall: call.name, exit: call.exit, known: { image: call.exe, uid: call.uid } },
      },
      Date.now(),
    );
  }

  /** A listening socket's local end: read now, or as last read while the process still held it. */
  private listenerEnd(pid: number, fd: number): Endpoint | undefined {
    const local = this.readSocket(pid, fd, undefined)?.local;
    let known = this.listenerEnds.get(pid);
    if (local === undefined) return known?.get(fd);
    if (known === undefined) this.listenerEnds.set(pid, (known = new Map<number, Endpoint>()));
    known.set(fd, local);
    return local;
  }

  /**
   * The IP socket behind a pid's fd: its local end, peer, protocol and cookie. A socket whose peer is not
   * `remote` is another connection that took over the fd number (the call's own socket was closed), and
   * counts as gone. A TCP socket still in SYN_SENT has no peer yet and is taken as the call's.
   */
  private readSocket(
    pid: number,
    fd: number,
    remote: Endpoint | undefined,
  ): { local: Endpoint; remote: Endpoint | undefined; protocol: string; cookie: string } | undefined {
    const info = this.addon?.socketInfo(pid, fd);
    if (info === undefined || typeof info === "number") return undefined;
    const protocol = PROTOCOL_NAMES[info.protocol];
    const local = decodeSockaddr(info.local);
    if (protocol === undefined || local === undefined || (local.family !== "inet" && local.family !== "inet6"))
      return undefined;
    const peer = info.peer === "" ? undefined : decodeSockaddr(info.peer);
    const peerEnd = peer?.family === "inet" || peer?.family === "inet6" ? { ip: peer.ip, port: peer.port } : undefined;
    if (
      remote !== undefined &&
      peerEnd !== undefined &&
      (peerEnd.port !== remote.port || !sameIp(peerEnd.ip, remote.ip))
    )
      return undefined;
    return { local: { ip: local.ip, port: local.port }, remote: peerEnd, protocol, cookie: info.cookie };
  }

  private onDestroyed(sockets: readonly InetSocket[]): void {
    const now = Date.now();
    for (const socket of sockets) this.connections.destroyed(socket, now);
    this.scheduleConnectionExpiry();
  }

  /** One timer for the oldest connection still waiting for its socket's destroy notification. */
  private scheduleConnectionExpiry(): void {
    const deadline = this.connections.nextDeadline;
    if (deadline === undefined || this.connectionTimer !== undefined || this.stopping) return;
    // The expiry runs in the check phase, after the poll phase has delivered what the sockets queued: a busy
    // host can delay the loop past the deadline with the awaited destroy notification already read.
    this.connectionTimer = setTimeout(
      () =>
        setImmediate(() => {
          this.connectionTimer = undefined;
          this.connections.expire(Date.now());
          this.scheduleConnectionExpiry();
        }),
      Math.max(1, deadline - Date.now()),
    );
  }

  private emitConnection(c: ResolvedConnection<ConnectionContext>): void {
    const raw: Record<string, unknown> = {
      source: "audit",
      syscall: c.context.syscall,
      exit: c.context.exit ?? null,
      localFrom: c.localFrom,
    };
    if (c.cookie !== undefined) raw.cookie = c.cookie;
    this.emit(networkConnectionEvent(this.ctx, c.pid, c.context.time, connectionDetails(c), raw, c.context.known));
  }

  private emitConnectionClosed(c: ResolvedConnection<ConnectionContext>, end: ConnectionEnd): void {
    const info = end.socket.tcpInfo;
    this.emit(
      connectionClosedEvent(
        this.ctx,
        c.pid,
        new Date(end.timeMs).toISOString(),
        {
          ...connectionDetails(c),
          startTime: c.context.time,
          durationMs: Math.max(0, Math.round(end.timeMs - c.timeMs)),
          bytesSent: info?.bytesSent,
          bytesReceived: info?.bytesReceived,
        },
        { source: "sock-diag-destroy", cookie: end.socket.cookie, state: end.socket.state },
        c.context.known,
      ),
    );
  }

  /**
   * Sockets a sock_diag dump saw first: the first dump's established connections are the network inventory
   * (they predate the agent); later ones only when audit does not report connect/accept itself.
   */
  private onNewSockets(sockets: readonly InventorySocket[], initial: boolean): void {
    // ring3's audit rules are installed together: execve audited means connect/accept are too.
    if (!initial && this.auditSource?.execveAudited === true) return;
    // One set per dump: a host with thousands of connections made a scan per socket quadratic.
    const listening = this.sockDiag?.listeningPorts() ?? new Set<number>();
    for (const s of sockets) {
      if (s.state !== "ESTABLISHED" || s.pid === undefined || s.pid === process.pid) continue;
      const inbound = listening.has(s.sourcePort);
      const local = { ip: s.sourceIp, port: s.sourcePort };
      const remote = { ip: s.destinationIp, port: s.destinationPort };
      const [from, to] = inbound ? [remote, local] : [local, remote];
      this.emit(
        networkConnectionEvent(
          this.ctx,
          s.pid,
          new Date(s.firstSeenMs).toISOString(),
          {
            initiated: !inbound,
            protocol: "tcp",
            sourceIp: from.ip,
            sourcePort: from.port,
            destinationIp: to.ip,
            destinationPort: to.port,
          },
          { source: initial ? "sock-diag-inventory" : "sock-diag-poll", cookie: s.cookie, inode: s.inode },
        ),
      );
    }
  }

  /**
   * Makes sure the tree knows `pid` and its ancestors before an event about it is normalised: fanotify and
   * audit can deliver a process's file or network activity before the connector's fork notification for it.
   */
  private ensureKnown(pid: number): boolean {
    let current = pid;
    for (let depth = 0; depth < 16 && current > 1 && this.tree.get(current) === undefined; depth += 1) {
      const snapshot = readProcessSync(current, this.bootTime);
      if (snapshot === undefined) break;
      this.addSnapshot(snapshot, false);
      current = snapshot.ppid;
    }
    return this.tree.get(pid) !== undefined;
  }

  /**
   * File events of a process the tree does not know and /proc no longer shows (it wrote and exited before the
   * connector's fork notification was read) wait once, briefly, for that notification, so the event still
   * carries the writer's image and ancestry; so do those of a process whose exec may not have been read yet
   * (`sh -c 'echo > f'` would otherwise write f as its parent's image): audit's execve lags the connector's
   * exec, which can lag the fork. Then they go out whatever the tree knows, and that process is not waited
   * for again.
   */
  private onFanotify(events: readonly FanotifyEvent[], retry = false, readAt?: string): void {
    // fanotify records carry no time: an event's is when it was read, also when it waited.
    const time = readAt ?? new Date().toISOString();
    const waiting: FanotifyEvent[] = [];
    let waitMs = UNKNOWN_PROCESS_WAIT_MS;
    for (const event of events) {
      // The agent's own file activity (rules loading, hashing) is not what it watches for.
      if (event.pid === process.pid || event.pid <= 0) continue;
      const paths = this.wantedPaths(event);
      if (paths === undefined) continue;
      if (retry) {
        const left = (this.waitingFileEvents.get(event.pid) ?? 1) - 1;
        if (left > 0) this.waitingFileEvents.set(event.pid, left);
        else this.waitingFileEvents.delete(event.pid);
        if ((this.execsAwaitingAudit.get(event.pid) ?? 0) > 0) this.execsAwaitingAudit.delete(event.pid);
        this.forksAwaitingExec.delete(event.pid);
        this.onFileEvent(event, paths, time);
      } else if (this.waitingFileEvents.has(event.pid) || !this.ensureKnown(event.pid)) {
        // A later event of a pid whose earlier ones wait queues behind them: its CLOSE_WRITE handled before
        // the waiting CREATE would be reported as a second write of the file.
        this.waitingFileEvents.set(event.pid, (this.waitingFileEvents.get(event.pid) ?? 0) + 1);
        waiting.push(event);
      } else if (this.execMayBeOnItsWay(event.pid)) {
        // As long as a process_termination waits for the same execve.
        waitMs = EXIT_DELAY_MS;
        this.waitingFileEvents.set(event.pid, 1);
        waiting.push(event);
      } else this.onFileEvent(event, paths, time);
    }
    if (waiting.length > 0) {
      this.waitingBatches.add(waiting);
      const timer = setTimeout(() => {
        this.timers = this.timers.filter((t) => t !== timer);
        this.waitingBatches.delete(waiting);
        this.onFanotify(waiting, true, time);
      }, waitMs);
      this.timers.push(timer);
    }
  }

  /**
   * The event's paths when the filters let it through, checked before anything else is done for it (the
   * writer's /proc entry is read only for events that are reported).
   */
  private wantedPaths(event: FanotifyEvent): FanotifyPaths | undefined {
    const paths = fanotifyPaths(event);
    const { path, sourcePath } = paths;
    if ((event.mask & FAN_RENAME) !== 0)
      return path !== undefined &&
        sourcePath !== undefined &&
        (this.paths.accepts(path) || this.paths.accepts(sourcePath))
        ? paths
        : undefined;
    if (path === undefined || !this.paths.accepts(path)) return undefined;
    // `>/dev/null` and every child started with ignored stdio close a write-opened /dev/null: no file was
    // written, and at exec-storm rates these events cost more than the execs themselves.
    if ((event.mask & (FAN_CREATE | FAN_DELETE)) === 0 && WRITE_SINK_DEVICES.has(path)) return undefined;
    return paths;
  }

  private onFileEvent(event: FanotifyEvent, { path, sourcePath }: FanotifyPaths, time: string): void {
    const raw = {
      source: "fanotify",
      mask: fanotifyMaskNames(event.mask),
      directory: (event.mask & FAN_ONDIR) !== 0,
    };
    if ((event.mask & FAN_RENAME) !== 0) {
      this.emit(fileEvent(this.ctx, "file_rename", event.pid, time, { target: path!, source: sourcePath }, raw));
      return;
    }
    const target = path!;
    const key = `${event.pid}:${target}`;
    // The kernel merges queued events for one name and pid (fanotify_should_merge), so one event can be
    // CREATE|CLOSE_WRITE or even CREATE|DELETE: each bit is handled, in the order they must have happened.
    if ((event.mask & FAN_CREATE) !== 0) {
      // A close already merged into the create has nothing left to fold.
      if ((event.mask & (FAN_ONDIR | FAN_CLOSE_WRITE)) === 0) {
        this.recentCreates.add(key);
        if (this.recentCreates.size > MAX_RECENT_CREATES)
          this.recentCreates.delete(this.recentCreates.values().next().value!);
      }
      this.emit(fileEvent(this.ctx, "file_event", event.pid, time, { target }, raw));
    } else if ((event.mask & FAN_CLOSE_WRITE) !== 0 && !this.recentCreates.delete(key)) {
      this.emitWrite(event.pid, time, target, raw);
    }
    if ((event.mask & FAN_DELETE) !== 0) {
      this.recentCreates.delete(key);
      this.emit(fileEvent(this.ctx, "file_delete", event.pid, time, { target }, raw));
    }
  }

  /**
   * An existing file was written: hash what it now holds, then report it. fanotify only reports files on the
   * filesystems it marked, which are local.
   */
  private emitWrite(pid: number, time: string, path: string, raw: Record<string, unknown>): void {
    const withHash = (sha256: string | undefined): void => {
      const hashes = sha256 === undefined ? undefined : `SHA256=${sha256.toUpperCase()}`;
      this.emit(fileEvent(this.ctx, "file_event", pid, time, { target: path, hashes }, raw));
    };
    const sha256 = this.hashes.sha256Local(path);
    if (sha256 instanceof Promise) void sha256.then(withHash);
    else withHash(sha256);
  }

  /**
   * Whether an execve's image is on a filesystem the fanotify sensor marked (local: its stat cannot hang),
   * from the PATH record of the executable, whose dev= is major:minor in hex (audit_log_name: "%02x:%02x").
   */
  private onMarkedFilesystem(event: AuditEvent): boolean {
    const dev = event.records.find((r) => r.type === 1302 && r.fields.item === "0")?.fields.dev;
    const match = dev === undefined ? null : /^([0-9a-f]+):([0-9a-f]+)$/.exec(dev);
    if (match === null || this.fanotify === undefined) return false;
    return this.fanotify.marks(`${Number.parseInt(match[1]!, 16)}:${Number.parseInt(match[2]!, 16)}`);
  }

  /** Whether the tree may still hold the image `pid`'s fork copied, with its exec not yet read. */
  private execMayBeOnItsWay(pid: number): boolean {
    if ((this.execsAwaitingAudit.get(pid) ?? 0) > 0) return true;
    const forkedAt = this.forksAwaitingExec.get(pid);
    return forkedAt !== undefined && Date.now() - forkedAt < EXIT_DELAY_MS;
  }

  /** Notes a connector exec (+1) or an audit execve (-1) of `pid` (see `execsAwaitingAudit`). */
  private countExec(pid: number, delta: number): void {
    const balance = (this.execsAwaitingAudit.get(pid) ?? 0) + delta;
    if (balance === 0) this.execsAwaitingAudit.delete(pid);
    else this.execsAwaitingAudit.set(pid, balance);
  }

  private execFromAudit(event: AuditEvent, time: string): ProcessNode | undefined {
    const syscall = event.records.find((r) => r.type === 1300);
    if (
      syscall === undefined ||
      syscall.fields.success !== "yes" ||
      !isExec(syscallName(syscall.fields.arch, syscall.fields.syscall))
    )
      return undefined;
    const argv = execveArgv(event.records);
    const cwd = event.records.find((r) => r.type === 1307)?.fields.cwd;
    const number = (value: string | undefined): number | undefined =>
      value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
    const pid = number(syscall.fields.pid);
    if (pid === undefined) return undefined;
    this.countExec(pid, -1);
    this.forksAwaitingExec.delete(pid);
    return this.tree.exec(pid, time, {
      image: syscall.fields.exe,
      argv,
      commandLine: argv === undefined ? undefined : joinCommandLine(argv),
      cwd,
      uid: number(syscall.fields.uid),
      auid: number(syscall.fields.auid),
      comm: syscall.fields.comm,
      ppid: number(syscall.fields.ppid),
    });
  }
}
