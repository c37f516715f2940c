import type { NetlinkSocket, SocketsAddon } from "../../native.ts";
import { SENSOR_BATCH_MS } from "../../native.ts";
import type { NetlinkMessage } from "../../netlink.ts";
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_REQUEST,
  encodeNetlinkMessage,
  netlinkError,
} from "../../netlink.ts";
import type { SensorStatusListener } from "../../sensor.ts";
import type { AuditEvent } from "./parse.ts";
import { AuditReassembler, AuditSerialTracker, parseAuditRecord, splitAuditDatagram } from "./parse.ts";
import type { AuditRuleSpec, AuditStatus } from "./protocol.ts";
import {
  AUDIT_MSG,
  AUDIT_NLGRP_READLOG,
  NETLINK_AUDIT,
  auditRuleKeys,
  decodeAuditStatus,
  encodeAuditRule,
  encodeAuditSet,
} from "./protocol.ts";
import { RING3_KEY_PREFIX, ring3AuditRules } from "./rules.ts";

export type AuditMode =
  /** No auditd: ring3 registered itself as the audit daemon (AUDIT_SET pid) and installed its rules. */
  | "owner"
  /** auditd (or another daemon) is registered: ring3 reads the read-only multicast group and changes nothing. */
  | "multicast";

export type AuditSourceOptions = {
  readonly onEvents: (events: readonly AuditEvent[]) => void;
  readonly onStatus: SensorStatusListener;
  readonly backlogLimit?: number;
  readonly rcvbuf?: number;
  readonly watchedPaths?: readonly string[];
  readonly requestTimeoutMs?: number;
};

export type AuditSourceStats = {
  readonly records: number;
  readonly events: number;
  /** Serials that never arrived. */
  readonly serialLost: number;
  /** Kernel-side loss (audit_status.lost) since start. */
  readonly kernelLost: number;
  readonly enobufs: number;
  readonly ringDrops: number;
};

type Pending = {
  readonly resolve: (messages: NetlinkMessage[]) => void;
  readonly reject: (error: Error) => void;
  readonly until: "ack" | "done" | "reply";
  readonly replyType: number;
  readonly messages: NetlinkMessage[];
  readonly timer: NodeJS.Timeout;
};

const EEXIST = 17;
/** How often waiting records are checked for the reassembler's maxAgeMs while any wait. */
const EXPIRY_CHECK_MS = 250;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

class AuditRequestError extends Error {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.errno = errno;
  }
}

/** Reads a snapshot of the audit state over a short-lived socket (tests compare it before and after). */
export type AuditSnapshot = { readonly status: AuditStatus; readonly rules: readonly string[] };

/**
 * The audit sensor. Control requests and events share one socket in owner mode because the kernel sends
 * events to the port that sent AUDIT_SET; replies carry the request's nlmsg_seq, events carry seq 0.
 */
export class AuditSource {
  static readonly sensorName = "audit";
  private readonly addon: SocketsAddon;
  private readonly options: AuditSourceOptions;
  private control: NetlinkSocket | undefined;
  private readlog: NetlinkSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private seq = 1;
  private readonly reassembler = new AuditReassembler();
  private readonly serials = new AuditSerialTracker();
  private expiry: NodeJS.Timeout | undefined;
  private previous: AuditStatus | undefined;
  private installed: Buffer[] = [];
  private startLost = 0;
  private records = 0;
  private events = 0;
  private mode: AuditMode | undefined;
  private stopped = false;
  private kernelLost = 0;

  constructor(addon: SocketsAddon, options: AuditSourceOptions) {
    this.addon = addon;
    this.options = options;
  }

  /** Whether ring3's execve rules are installed, i.e. audit will report every exec with its argv. */
  get execveAudited(): boolean {
    return this.installed.length > 0;
  }

  async start(): Promise<boolean> {
    const name = AuditSource.sensorName;
    const degrade = (reason: string): false => {
      this.options.onStatus(name, { state: "degraded", reason });
      return false;
    };
    try {
      this.openForQueries();
    } catch (error) {
      this.closeSockets();
      return degrade(`cannot open the audit socket: ${(error as Error).message}`);
    }
    let status: AuditStatus;
    try {
      status = await this.getStatus();
    } catch (error) {
      this.closeSockets();
      return degrade(`cannot read the audit status (needs CAP_AUDIT_CONTROL): ${(error as Error).message}`);
    }
    this.previous = status;
    this.startLost = status.lost;
    if ((status.pid !== 0 && processAlive(status.pid)) || !(await this.tryOwn())) {
      // A registered daemon stays untouched: no AUDIT_SET at all (a refused one is still logged by it).
      this.closeSockets();
      return this.startMulticast(status, degrade);
    }
    this.mode = "owner";
    const settings = await this.applySettings(status);
    const detail = await this.installRules(status);
    this.options.onStatus(name, {
      state: "started",
      detail: `owner of the audit socket (pid ${process.pid}); ${settings}; ${detail}`,
    });
    return true;
  }

  /**
   * AUDIT_SET pid alone, so that a refusal changes nothing else. EEXIST: a live daemon holds the socket
   * ("replacing a healthy auditd is not allowed"); the kernel probes the registered one first, so a dead
   * one is replaced.
   */
  private async tryOwn(): Promise<boolean> {
    try {
      await this.request(AUDIT_MSG.set, encodeAuditSet({ pid: process.pid }), "ack");
      return true;
    } catch (error) {
      if (error instanceof AuditRequestError && error.errno === EEXIST) return false;
      throw error;
    }
  }

  /** enabled=1 when audit is off, and a backlog large enough for bursts of execs (restored on stop). */
  private async applySettings(status: AuditStatus): Promise<string> {
    const backlogLimit = this.options.backlogLimit ?? 8192;
    const change = {
      ...(status.enabled === 0 ? { enabled: 1 } : {}),
      ...(status.backlogLimit < backlogLimit ? { backlogLimit } : {}),
    };
    if (Object.keys(change).length === 0) return `enabled=${status.enabled} backlog_limit=${status.backlogLimit} kept`;
    try {
      await this.request(AUDIT_MSG.set, encodeAuditSet(change), "ack");
      return `enabled=${change.enabled ?? status.enabled} backlog_limit=${change.backlogLimit ?? status.backlogLimit} (were ${status.enabled}, ${status.backlogLimit})`;
    } catch (error) {
      return `settings unchanged (${(error as Error).message})`;
    }
  }

  /** The control socket without taking ownership: status and rule queries only. */
  openForQueries(): void {
    this.control = this.addon.open({
      protocol: NETLINK_AUDIT,
      rcvbuf: this.options.rcvbuf ?? 16 << 20,
      batchMs: SENSOR_BATCH_MS,
    });
    this.addon.start(this.control, (datagrams) => this.onBatch(datagrams));
  }

  closeForQueries(): void {
    this.closeSockets();
  }

  private startMulticast(status: AuditStatus, degrade: (reason: string) => false): boolean {
    try {
      this.readlog = this.addon.open({
        protocol: NETLINK_AUDIT,
        groups: AUDIT_NLGRP_READLOG,
        rcvbuf: this.options.rcvbuf ?? 16 << 20,
        batchMs: SENSOR_BATCH_MS,
      });
      this.addon.start(this.readlog, (datagrams) => this.onBatch(datagrams));
    } catch (error) {
      this.closeSockets();
      return degrade(
        `audit daemon pid ${status.pid} owns the audit socket and the read-only group failed: ${(error as Error).message}`,
      );
    }
    this.mode = "multicast";
    this.options.onStatus(AuditSource.sensorName, {
      state: "started",
      detail: `audit daemon pid ${status.pid} owns the audit socket: reading the read-only multicast group; its rules and settings are left alone (ring3 rules not installed)`,
    });
    return true;
  }

  /** Removes rules a previous ring3 left behind (it crashed before stop), then installs this run's. */
  private async installRules(status: AuditStatus): Promise<string> {
    if (status.enabled === 2)
      return "audit configuration is locked (enabled=2): rules not installed, events limited to existing rules";
    if (process.arch !== "x64")
      return `ring3 audit rules are defined for x86_64 only (this is ${process.arch}): rules not installed`;
    let stale = 0;
    for (const rule of await this.listRules()) {
      if (auditRuleKeys(rule).some((key) => key.startsWith(RING3_KEY_PREFIX))) {
        await this.request(AUDIT_MSG.delRuleData, rule, "ack");
        stale += 1;
      }
    }
    const failures: string[] = [];
    for (const spec of ring3AuditRules(this.options.watchedPaths)) {
      const data = encodeAuditRule(spec);
      try {
        await this.request(AUDIT_MSG.addRuleData, data, "ack");
        this.installed.push(data);
      } catch (error) {
        failures.push(`${describeRule(spec)}: ${(error as Error).message}`);
      }
    }
    const parts = [`${this.installed.length} rules installed`];
    if (stale > 0) parts.push(`${stale} stale ring3 rules removed`);
    if (failures.length > 0) parts.push(`not installed: ${failures.join("; ")}`);
    return parts.join(", ");
  }

  stats(): AuditSourceStats {
    const native = [this.control, this.readlog].filter((s) => s !== undefined).map((s) => this.addon.stats(s));
    return {
      records: this.records,
      events: this.events,
      serialLost: this.serials.lost,
      kernelLost: this.kernelLost,
      enobufs: native.reduce((n, s) => n + s.enobufs, 0),
      ringDrops: native.reduce((n, s) => n + s.ringDrops, 0),
    };
  }

  /** Removes ring3's rules and puts enabled/pid/backlog_limit back as they were; safe to call twice. */
  async stop(): Promise<void> {
    if (this.control === undefined && this.readlog === undefined) return;
    this.stopped = true;
    clearTimeout(this.expiry);
    this.expiry = undefined;
    const problems: string[] = [];
    if (this.mode === "owner" && this.previous !== undefined) {
      for (const rule of this.installed) {
        await this.request(AUDIT_MSG.delRuleData, rule, "ack").catch((error: Error) =>
          problems.push(`rule removal: ${error.message}`),
        );
      }
      this.installed = [];
      const now = await this.getStatus().catch(() => undefined);
      this.kernelLost = now === undefined ? 0 : now.lost - this.startLost;
      const previous = this.previous;
      // Unregister first (pid 0 is the only value a daemon may set for itself), then the settings.
      await this.request(AUDIT_MSG.set, encodeAuditSet({ pid: 0 }), "ack").catch((error: Error) =>
        problems.push(`pid: ${error.message}`),
      );
      await this.request(
        AUDIT_MSG.set,
        encodeAuditSet({ enabled: previous.enabled, backlogLimit: previous.backlogLimit }),
        "ack",
      ).catch((error: Error) => problems.push(`enabled/backlog_limit: ${error.message}`));
    }
    // Records still in the reassembler are delivered: they happened.
    this.deliver(this.reassembler.flush());
    const stats = this.stats();
    const serialLost = this.serials.settle();
    this.closeSockets();
    const detail = `${stats.events} events (${stats.records} records), lost ${serialLost} (serial gaps), kernel lost ${stats.kernelLost}, ${stats.enobufs} ENOBUFS, ${stats.ringDrops} ring drops`;
    this.options.onStatus(AuditSource.sensorName, {
      state: "stopped",
      detail:
        problems.length === 0
          ? `${detail}; audit state restored`
          : `${detail}; RESTORE INCOMPLETE: ${problems.join("; ")}`,
    });
  }

  private closeSockets(): void {
    for (const socket of [this.control, this.readlog]) if (socket !== undefined) this.addon.close(socket);
    this.control = undefined;
    this.readlog = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("audit socket closed"));
    }
    this.pending.clear();
  }

  getStatus(): Promise<AuditStatus> {
    return this.request(AUDIT_MSG.get, Buffer.alloc(0), "reply").then((messages) =>
      decodeAuditStatus(messages[0]!.payload),
    );
  }

  /** The kernel's rule list, each rule as its audit_rule_data bytes. */
  listRules(): Promise<Buffer[]> {
    return this.request(AUDIT_MSG.listRulesData, Buffer.alloc(0), "done").then((messages) =>
      messages.filter((m) => m.type === AUDIT_MSG.listRulesData).map((m) => Buffer.from(m.payload)),
    );
  }

  private request(type: number, payload: Buffer, until: Pending["until"]): Promise<NetlinkMessage[]> {
    const socket = this.control;
    if (socket === undefined) return Promise.reject(new Error("audit socket is closed"));
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`audit request ${type} timed out`));
      }, this.options.requestTimeoutMs ?? 2000);
      this.pending.set(seq, { resolve, reject, until, replyType: type, messages: [], timer });
      try {
        this.addon.send(
          socket,
          encodeNetlinkMessage(type, NLM_F_REQUEST | (until === "ack" ? NLM_F_ACK : 0), seq, payload),
        );
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(seq);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private onBatch(datagrams: Buffer[]): void {
    const now = Date.now();
    const completed: AuditEvent[] = [];
    for (const datagram of datagrams) {
      for (const message of splitAuditDatagram(datagram)) {
        const pending = message.seq === 0 ? undefined : this.pending.get(message.seq);
        if (pending !== undefined) {
          this.settle(message, pending);
          continue;
        }
        if (message.type < 1100) continue; // stray replies (NLMSG_*, AUDIT_GET…) of timed-out requests
        const record = parseAuditRecord(message.type, message.payload);
        if (record === undefined) continue;
        this.records += 1;
        this.serials.observe(record.serial);
        completed.push(...this.reassembler.push(record, now));
      }
    }
    this.deliver(completed);
    this.scheduleExpiry();
  }

  /**
   * Events whose EOE never came are released by age: a timer runs only while records wait, so an idle agent
   * has no periodic audit work.
   */
  private scheduleExpiry(): void {
    if (this.expiry !== undefined || this.reassembler.size === 0 || this.stopped) return;
    this.expiry = setTimeout(() => {
      this.expiry = undefined;
      this.deliver(this.reassembler.expire(Date.now()));
      this.scheduleExpiry();
    }, EXPIRY_CHECK_MS);
  }

  private settle(message: NetlinkMessage, pending: Pending): void {
    const finish = (error?: Error): void => {
      clearTimeout(pending.timer);
      this.pending.delete(message.seq);
      if (error === undefined) pending.resolve(pending.messages);
      else pending.reject(error);
    };
    if (message.type === NLMSG_ERROR) {
      const errno = -netlinkError(message);
      if (errno !== 0)
        finish(new AuditRequestError(`audit request ${pending.replyType} failed: errno ${errno}`, errno));
      else if (pending.until === "ack") finish();
      return;
    }
    if (message.type === NLMSG_DONE) {
      finish();
      return;
    }
    pending.messages.push(message);
    if (pending.until === "reply" && message.type === pending.replyType) finish();
  }

  private deliver(events: readonly AuditEvent[]): void {
    if (events.length === 0) return;
    this.events += events.length;
    this.options.onEvents(events);
  }
}

function describeRule(spec: AuditRuleSpec): string {
  return spec.kind === "syscall" ? `${spec.key} (${spec.arch})` : `watch ${spec.path}`;
}

/** Status and rule list through a separate socket, without touching the state: for tests and diagnostics. */
export async function readAuditSnapshot(addon: SocketsAddon): Promise<AuditSnapshot> {
  const probe = new AuditSource(addon, { onEvents: () => undefined, onStatus: () => undefined });
  probe.openForQueries();
  try {
    const status = await probe.getStatus();
    const rules = (await probe.listRules()).map((r) => r.toString("hex"));
    return { status, rules };
  } finally {
    probe.closeForQueries();
  }
}
