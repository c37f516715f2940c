import { hostname } from "node:os";
import type { Event } from "@ring3/schema";
import type { SocketsAddon } from "./native.ts";
import { loadSocketsAddon } from "./native.ts";
import type { NormaliseContext } from "./normalise.ts";
import { UserNameResolver, auditEventToSigma, processCreationEvent, processTerminationEvent } from "./normalise.ts";
import type { ProcessNode } from "./process-tree.ts";
import { ProcessTree } from "./process-tree.ts";
import type { SensorStatusListener } from "./sensor.ts";
import { monotonicToIso } from "./sensor.ts";
import type { AuditEvent } from "./sensors/audit/parse.ts";
import { execveArgv, syscallName } from "./sensors/audit/parse.ts";
import type { AuditSourceStats } from "./sensors/audit/source.ts";
import { AuditSource } from "./sensors/audit/source.ts";
import type { ProcessConnectorEvent } from "./sensors/process-connector/parse.ts";
import type { ProcessConnectorStats } from "./sensors/process-connector/source.ts";
import { ProcessConnectorSource } from "./sensors/process-connector/source.ts";
import { joinCommandLine } from "./sensors/proc-inventory/parse.ts";
import type { ProcessSnapshot } from "./sensors/proc-inventory/source.ts";
import { readBootTime, readProcInventory, readProcess } from "./sensors/proc-inventory/source.ts";

/** execve or execveat, for either ABI (ring3 audits both: arch=c000003e and arch=40000003). */
const isExec = (name: string | undefined): boolean => name === "execve" || name === "execveat";

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
  /** For tests: pretend the addon is missing. */
  readonly addon?: SocketsAddon | null;
};

export type LinuxAgentStats = {
  readonly events: number;
  readonly processes: number;
  readonly connector: ProcessConnectorStats | undefined;
  readonly audit: AuditSourceStats | undefined;
};

/**
 * The Linux agent: sensors in, normalised events out. process_creation comes from audit execve when ring3's
 * rules are installed (argv, exe, cwd, auid exactly as the kernel saw them), else from the connector's exec
 * plus a /proc read (racy for short-lived processes), else from polling /proc.
 */
export class LinuxAgent {
  readonly tree = new ProcessTree();
  private readonly options: LinuxAgentOptions;
  private readonly ctx: NormaliseContext;
  private connector: ProcessConnectorSource | undefined;
  private auditSource: AuditSource | undefined;
  private timers: NodeJS.Timeout[] = [];
  private bootTime = 0;
  private events = 0;
  private counter = 0;
  private stopping = false;
  private polling = false;

  constructor(options: LinuxAgentOptions) {
    this.options = options;
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
      for (const name of [ProcessConnectorSource.sensorName, AuditSource.sensorName])
        status(name, { state: "degraded", reason: load.reason });
    } else if (!root) {
      const reason =
        "not running as root: the process connector needs CAP_NET_ADMIN and audit needs CAP_AUDIT_CONTROL; running /proc inventory only";
      for (const name of [ProcessConnectorSource.sensorName, AuditSource.sensorName])
        status(name, { state: "degraded", reason });
    } else {
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
    this.timers.push(setInterval(() => this.tree.sweep(), 5000));
  }

  stats(): LinuxAgentStats {
    return {
      events: this.events,
      processes: this.tree.size,
      connector: this.connector?.stats(),
      audit: this.auditSource?.stats(),
    };
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.connector?.stop();
    await this.auditSource?.stop();
    this.options.onStatus("proc-inventory", {
      state: "stopped",
      detail: `${this.tree.size} processes tracked at stop`,
    });
  }

  private emit(event: Event): void {
    this.events += 1;
    this.options.onEvent(event);
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

  private onConnector(events: readonly ProcessConnectorEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case "fork":
          // Threads are forks with child_pid != child_tgid; only new processes enter the tree.
          if (event.childPid === event.childTgid)
            this.tree.fork(event.parentTgid, event.childTgid, monotonicToIso(event.timestampNs));
          break;
        case "exec":
          if (this.auditSource?.execveAudited !== true)
            void this.execFromProc(event.tgid, monotonicToIso(event.timestampNs));
          break;
        case "exit":
          if (event.pid === event.tgid) {
            const time = monotonicToIso(event.timestampNs);
            const node = this.tree.exit(event.tgid, time);
            if (node !== undefined) {
              this.emit(
                processTerminationEvent(this.ctx, node, time, {
                  source: "process-connector",
                  exitCode: event.exitCode,
                  exitSignal: event.exitSignal,
                }),
              );
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
    this.emit(processCreationEvent(this.ctx, node, time, { source: "process-connector", procRead: p !== undefined }));
  }

  private onAudit(events: readonly AuditEvent[]): void {
    for (const event of events) {
      const sigma = auditEventToSigma(this.ctx, event);
      this.emit(sigma);
      const node = this.execFromAudit(event);
      if (node !== undefined) this.emit(processCreationEvent(this.ctx, node, sigma.time, sigma.raw));
    }
  }

  private execFromAudit(event: AuditEvent): ProcessNode | undefined {
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
    return this.tree.exec(pid, new Date(event.time * 1000).toISOString(), {
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
