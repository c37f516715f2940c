import { join } from "node:path";
import type { RuleMatch } from "@ring3/detection";
import type { SensorState } from "@ring3/protocol";
import type { Event } from "@ring3/schema";
import type { SensorStatus } from "../sensor.ts";
import { Backoff } from "./backoff.ts";
import { CommandJournal } from "./command-journal.ts";
import { AGENT_VERSION, EnrollmentError, ensureEnrolled } from "./enrollment.ts";
import type { Enrolled } from "./enrollment.ts";
import { LinkClient } from "./link-client.ts";
import { Spool } from "./spool.ts";
import type { Ancestor, AgentAlertSpec } from "./wire-records.ts";
import { agentAlertRecord, eventRecord, ruleAlertRecord } from "./wire-records.ts";
import type { CommandExecutor, UplinkStats } from "./uplink.ts";
import { Uplink } from "./uplink.ts";

export type AgentLinkOptions = {
  readonly stateDir: string;
  readonly serverUrl: string | undefined;
  readonly enrollToken: string | undefined;
  /** PEM text of the server's CA, from --ca. */
  readonly caPem: string | undefined;
  readonly spoolMaxBytes?: number;
  readonly contentVersion: string;
  /** The agent runs no rules: the server should run its own on these events. */
  readonly serverDetects: boolean;
  readonly executor?: CommandExecutor;
  readonly isolated?: () => boolean;
  readonly log: (message: string) => void;
  /** For tests: faster heartbeats than the server's interval. */
  readonly heartbeatIntervalMs?: number;
};

const MAX_TEXT = 1024;

/**
 * The agent's link as `ring3 agent` uses it: events and alerts go into the spool at once (so nothing waits
 * for the network), enrollment runs in the background until it succeeds, then the uplink ships the spool.
 * The spool opens before enrollment, so events seen while the server was never reachable are kept too.
 */
export class AgentLink {
  readonly spool: Spool;
  private readonly options: AgentLinkOptions;
  private readonly sensors = new Map<string, SensorState>();
  private readonly loss = new Map<string, number>();
  private uplink: Uplink | undefined;
  private executor: CommandExecutor | undefined;
  private enrolling: Promise<void> | undefined;
  private readonly stopEnroll = new AbortController();
  private lastDegraded: string | undefined;

  private constructor(options: AgentLinkOptions, spool: Spool) {
    this.options = options;
    this.spool = spool;
    this.executor = options.executor;
  }

  /** Response commands from the server run through this executor from now on. */
  attachExecutor(executor: CommandExecutor): void {
    this.executor = executor;
    this.uplink?.setExecutor(executor);
  }

  /** `host:port` of the server, which an isolation must keep reachable. */
  serverEndpoint(): string | undefined {
    if (this.options.serverUrl === undefined) return undefined;
    const url = new URL(this.options.serverUrl);
    return `${url.hostname}:${url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port}`;
  }

  /** Opens the spool (throws if another agent holds it) and starts enrolling/connecting in the background. */
  static open(options: AgentLinkOptions): AgentLink {
    const spool = Spool.open({
      dir: join(options.stateDir, "spool"),
      ...(options.spoolMaxBytes === undefined ? {} : { maxBytes: options.spoolMaxBytes }),
    });
    const link = new AgentLink(options, spool);
    const stats = spool.stats();
    if (stats.cursorReset !== undefined)
      options.log(`link: spool cursor reset (${stats.cursorReset}); resending from the oldest spooled record`);
    if (stats.pending > 0) options.log(`link: ${stats.pending} records in the spool from an earlier run`);
    link.enrolling = link.connect();
    return link;
  }

  event(event: Event): void {
    if (event.fields.EventType === "SensorLoss" && event.logsource.service === "ring3") {
      // { Sensor: "audit", Counter: "kernelLost", Lost: 12, Total: 40 }: heartbeats carry the running total.
      const { Sensor, Counter, Total } = event.fields;
      if (typeof Sensor === "string" && typeof Counter === "string" && typeof Total === "number")
        this.loss.set(`${Sensor}.${Counter}`, Total);
    }
    const fitted = eventRecord(event);
    if (fitted.truncated) this.spool.count("truncated", 1);
    this.append(fitted.payload);
  }

  ruleAlert(match: RuleMatch, ancestry: readonly Ancestor[]): void {
    this.append(ruleAlertRecord(match, ancestry));
  }

  agentAlert(event: Event, spec: AgentAlertSpec): void {
    this.append(agentAlertRecord(event, spec));
  }

  sensorStatus(sensor: string, status: SensorStatus): void {
    const text =
      status.state === "degraded"
        ? { reason: status.reason.slice(0, MAX_TEXT) }
        : status.detail === undefined
          ? {}
          : { detail: status.detail.slice(0, MAX_TEXT) };
    this.sensors.set(sensor.slice(0, 64), { state: status.state, ...text });
    this.uplink?.heartbeatSoon();
  }

  stats(): { spool: ReturnType<Spool["stats"]>; uplink: UplinkStats | undefined } {
    return { spool: this.spool.stats(), uplink: this.uplink?.stats() };
  }

  /** Ships what it can within `flushTimeoutMs`, then closes the spool (the rest waits for the next start). */
  async stop(flushTimeoutMs = 5000): Promise<void> {
    this.stopEnroll.abort();
    await this.enrolling;
    await this.uplink?.stop(flushTimeoutMs);
    this.spool.close();
  }

  private append(payload: Buffer): void {
    const seq = this.spool.append(payload);
    if (seq !== undefined) {
      if (this.lastDegraded !== undefined) {
        this.options.log("link: the spool is writing again");
        this.lastDegraded = undefined;
      }
      this.uplink?.notify();
      return;
    }
    const degraded = this.spool.stats().degraded;
    if (degraded !== undefined && degraded !== this.lastDegraded) {
      this.options.log(`link: spool degraded: ${degraded}`);
      this.lastDegraded = degraded;
    }
  }

  private async connect(): Promise<void> {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
    let enrolled: Enrolled | undefined;
    while (enrolled === undefined) {
      try {
        enrolled = await ensureEnrolled({
          stateDir: this.options.stateDir,
          serverUrl: this.options.serverUrl,
          token: this.options.enrollToken,
          caPem: this.options.caPem,
          log: this.options.log,
          signal: this.stopEnroll.signal,
        });
      } catch (error) {
        if (this.stopEnroll.signal.aborted) return;
        const code = error instanceof EnrollmentError ? error.code : "R3_ERR_ENROLL_FAILED";
        if (code !== "R3_ERR_ENROLL_UNREACHABLE" && code !== "R3_ERR_ENROLL_UNAVAILABLE") {
          // A refused token or a missing flag does not fix itself: say so once, keep spooling.
          this.options.log(`link: off: ${(error as Error).message} (${code}); events are spooled until it is fixed`);
          return;
        }
        const delay = backoff.next();
        this.options.log(`link: ${(error as Error).message}; retrying enrollment in ${Math.round(delay / 1000)} s`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.stopEnroll.signal.addEventListener(
            "abort",
            () => {
              clearTimeout(timer);
              resolve();
            },
            { once: true },
          );
        });
        if (this.stopEnroll.signal.aborted) return;
      }
    }
    if (this.stopEnroll.signal.aborted) return;
    if (enrolled.reused) this.options.log(`link: agent ${enrolled.state.agentId} of ${enrolled.state.serverUrl}`);
    const client = new LinkClient({
      serverUrl: enrolled.state.serverUrl,
      credential: enrolled.state.credential,
      ...(enrolled.ca === undefined ? {} : { ca: enrolled.ca }),
    });
    this.uplink = new Uplink({
      spool: this.spool,
      client,
      agentVersion: AGENT_VERSION,
      contentVersion: this.options.contentVersion,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? enrolled.state.heartbeatIntervalSeconds * 1000,
      sensors: () => Object.fromEntries(this.sensors),
      sensorLoss: () => Object.fromEntries(this.loss),
      detect: this.options.serverDetects,
      ...(this.executor === undefined ? {} : { executor: this.executor }),
      ...(this.options.isolated === undefined ? {} : { isolated: this.options.isolated }),
      ...this.commandJournal(),
      log: this.options.log,
    });
    this.uplink.start();
  }

  /** The command journal in the state dir; without one (it cannot be created), results live in memory only. */
  private commandJournal(): { journal?: CommandJournal } {
    try {
      return { journal: new CommandJournal(this.options.stateDir) };
    } catch (error) {
      this.options.log(`link: command results kept in memory only: ${(error as Error).message}`);
      return {};
    }
  }
}
