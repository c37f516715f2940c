import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import type { ActionResult, AgentCommands, Heartbeat, ResponseRequest, SensorState } from "@ring3/protocol";
import { ROUTES } from "@ring3/protocol";
import { Backoff } from "./backoff.ts";
import { BATCH_LIMITS, buildBatch } from "./batch.ts";
import type { CommandJournal } from "./command-journal.ts";
import type { LinkClient, LinkResponse } from "./link-client.ts";
import { LinkNetworkError, describeAnswer } from "./link-client.ts";
import type { Spool, SpoolClaim } from "./spool.ts";

const gzip = promisify(gzipCallback);

/**
 * Runs one response action. The agent's response executor (packages/agent/src/response) implements this; the
 * uplink only carries requests in and results out.
 */
export type CommandExecutor = {
  execute(request: ResponseRequest): Promise<ActionResult>;
};

export type UplinkOptions = {
  readonly spool: Spool;
  readonly client: LinkClient;
  readonly agentVersion: string;
  readonly contentVersion: string;
  readonly heartbeatIntervalMs: number;
  /** Sensor states for heartbeats. */
  readonly sensors: () => Record<string, SensorState>;
  /** Loss counters upstream of the spool (sensor overruns), merged with the spool's own in heartbeats. */
  readonly sensorLoss: () => Record<string, number>;
  /** Whether the host is isolated when the link starts; later isolate/release commands keep it current. */
  readonly isolated?: () => boolean;
  /** Batches ask the server to run its rules on the events (the agent runs none). */
  readonly detect?: boolean;
  /** Absent: commands are answered with R3_ERR_RESPONSE_UNAVAILABLE. */
  readonly executor?: CommandExecutor;
  /** Where command results wait until the server has them (absent: they live in memory only). */
  readonly journal?: CommandJournal;
  readonly log: (message: string) => void;
  /** How long new records wait to gather into one batch (default 200 ms). */
  readonly lingerMs?: number;
  readonly maxBatchRecords?: number;
  readonly maxBatchBytes?: number;
  /** Long-poll wait the server is asked for (default 25 s, at most 60). */
  readonly commandWaitSeconds?: number;
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
};

export type UplinkStats = {
  readonly batches: number;
  readonly duplicates: number;
  readonly events: number;
  readonly alerts: number;
  readonly retries: number;
  readonly rejected: number;
  readonly heartbeats: number;
  readonly commands: number;
  readonly state: LinkState;
};

/** What the link is doing, as reported on stderr when it changes. */
export type LinkState = "starting" | "connected" | "unreachable" | "unauthorized" | "stopped";

/** Wakes a waiting loop early: new records, or stop. */
class Wakeup {
  private resolve: (() => void) | undefined;
  private pending = false;

  notify(): void {
    this.pending = true;
    this.resolve?.();
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.resolve = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.resolve = done;
    });
  }
}

/** Waits `ms`, or less when `signal` aborts; the timer never outlives the wait (a stopped agent exits at once). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Ingest answers that mean "this batch is wrong", not "try again later". */
const REJECTED = new Set([400, 413, 422]);
/**
 * More single records refused than this within a minute is not a few bad records but a server that refuses
 * everything (a schema change, a bug): the agent stops dropping and retries, so an upgrade gone wrong on the
 * server cannot make every agent throw its telemetry away.
 */
const MAX_REJECTED_PER_MINUTE = 50;
const HEARTBEAT_GATHER_MS = 500;

/**
 * The agent's side of the link: ships spooled records in batches, sends heartbeats, and answers response
 * commands. Exactly-once delivery rests on three rules: a batch's range is claimed in the spool (durably)
 * before it is sent; its id is a function of that range; and the spool's ack cursor moves only when the
 * server answered 200 (stored now, or already stored: `duplicate`).
 */
export class Uplink {
  private readonly options: UplinkOptions;
  private executor: CommandExecutor | undefined;
  /** Whether the host is isolated, as far as the commands run through this link tell. */
  private isolated = false;
  private readonly wakeup = new Wakeup();
  private readonly heartbeatWakeup = new Wakeup();
  /** Aborted when the flush time is over: the sender's last request and command results end. */
  private readonly stopSignal = new AbortController();
  /** Aborted as soon as stop() is called: long-polls and heartbeats end at once. */
  private readonly pollSignal = new AbortController();
  private running = false;
  private stopping = false;
  private flushDeadline = 0;
  private loops: Promise<void>[] = [];
  private state: LinkState = "starting";
  private lastProblem = "";
  private rejectedAt: number[] = [];
  private counters = {
    batches: 0,
    duplicates: 0,
    events: 0,
    alerts: 0,
    retries: 0,
    rejected: 0,
    heartbeats: 0,
    commands: 0,
  };

  constructor(options: UplinkOptions) {
    this.options = options;
    this.executor = options.executor;
    this.isolated = options.isolated?.() ?? false;
  }

  /** The response executor, once the agent has one (it may start after the link). */
  setExecutor(executor: CommandExecutor): void {
    this.executor = executor;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = [
      this.guard("sender", () => this.sendLoop()),
      this.guard("heartbeat", () => this.heartbeatLoop()),
      this.guard("commands", () => this.commandLoop()),
    ];
  }

  /** New records are in the spool. */
  notify(): void {
    this.wakeup.notify();
  }

  /**
   * Stops the loops. Until `flushTimeoutMs` has passed, the sender keeps shipping what is pending while the
   * server answers; whatever is left stays in the spool for the next start.
   */
  async stop(flushTimeoutMs = 5000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.flushDeadline = Date.now() + flushTimeoutMs;
    this.wakeup.notify();
    const flushTimer = setTimeout(() => this.stopSignal.abort(), flushTimeoutMs);
    // Long-polls and heartbeats end now; only the sender gets the flush time.
    this.pollSignal.abort();
    this.heartbeatWakeup.notify();
    await Promise.all(this.loops);
    clearTimeout(flushTimer);
    this.options.client.close();
    this.running = false;
    this.setState("stopped", "");
  }

  stats(): UplinkStats {
    return { ...this.counters, state: this.state };
  }

  /** The heartbeat the agent sends now. */
  heartbeat(): Heartbeat {
    const spool = this.options.spool.stats();
    const dropped: Record<string, number> = {};
    for (const [key, value] of Object.entries({ ...this.options.sensorLoss(), ...spool.dropped }))
      dropped[key.slice(0, 64)] = value;
    if (this.counters.rejected > 0) dropped.rejected = this.counters.rejected;
    return {
      time: new Date().toISOString(),
      agentVersion: this.options.agentVersion,
      contentVersion: this.options.contentVersion,
      sensors: this.options.sensors(),
      queueDepth: spool.pending,
      spoolBytes: spool.bytes,
      dropped,
      isolated: this.isolated,
    };
  }

  private setState(state: LinkState, problem: string): void {
    if (state === this.state && problem === this.lastProblem) return;
    const was = this.state;
    this.state = state;
    this.lastProblem = problem;
    const pending = this.options.spool.stats().pending;
    if (state === "connected")
      this.options.log(
        `link: connected to ${this.options.client.baseUrl.origin}${was === "starting" ? "" : ` (${pending} records pending)`}`,
      );
    else if (state === "unreachable")
      this.options.log(`link: ${problem}; spooling (${pending} records pending) and retrying with backoff`);
    else if (state === "unauthorized")
      this.options.log(
        `link: the server refused the agent's credential (${problem}); spooling, retrying; enroll again with --enroll-token if this persists`,
      );
  }

  private done(): boolean {
    return this.stopSignal.signal.aborted || (this.stopping && Date.now() >= this.flushDeadline);
  }

  private async sendLoop(): Promise<void> {
    const spool = this.options.spool;
    const backoff = new Backoff(this.options.backoff);
    const lingerMs = this.options.lingerMs ?? 200;
    const maxRecords = this.options.maxBatchRecords ?? BATCH_LIMITS.maxRecords;
    const maxBytes = this.options.maxBatchBytes ?? BATCH_LIMITS.maxPayloadBytes;
    while (!this.done()) {
      let claim = spool.pendingClaim();
      if (claim === undefined) {
        if (spool.stats().pending === 0) {
          if (this.stopping) return;
          await this.wakeup.wait(1000);
          if (!this.stopping) await pause(lingerMs, this.stopSignal.signal);
          continue;
        }
        const acked = spool.stats().acked;
        const records = spool.read(acked, maxRecords, maxBytes);
        const first = records[0];
        const last = records.at(-1);
        if (first === undefined || last === undefined) continue;
        claim = { first: first.seq, last: last.seq };
        spool.claim(claim);
      }
      const outcome = await this.sendClaim(claim);
      if (outcome.kind === "stored") {
        backoff.reset();
        spool.ack(claim.last);
        this.setState("connected", "");
      } else if (outcome.kind === "rejected" && this.recentRejections() < MAX_REJECTED_PER_MINUTE) {
        backoff.reset();
        this.splitOrDrop(claim, outcome.reason);
      } else {
        this.counters.retries += 1;
        this.setState(
          outcome.kind === "rejected" ? "unreachable" : outcome.kind,
          outcome.kind === "rejected"
            ? `the server refuses every record (${outcome.reason}); not dropping more`
            : outcome.reason,
        );
        if (this.stopping) return;
        const delay = ("retryAfterMs" in outcome ? outcome.retryAfterMs : undefined) ?? backoff.next();
        await pause(delay, this.stopSignal.signal);
      }
    }
  }

  /**
   * Runs a loop until stop, restarting it after an unexpected error (a full disk under the cursor, a bug):
   * the link degrades and says why, the agent keeps running.
   */
  private async guard(name: string, loop: () => Promise<void>): Promise<void> {
    while (!this.stopping || name === "sender") {
      try {
        await loop();
        return;
      } catch (error) {
        this.options.log(`link: ${name} failed: ${(error as Error).message}; restarting it in 5 s`);
        if (this.done()) return;
        await pause(5000, name === "sender" ? this.stopSignal.signal : this.pollSignal.signal);
        if (this.done()) return;
      }
    }
  }

  private recentRejections(): number {
    const since = Date.now() - 60_000;
    this.rejectedAt = this.rejectedAt.filter((at) => at >= since);
    return this.rejectedAt.length;
  }

  /**
   * The server refused the batch as invalid. Nothing of it was stored (ingest is atomic), so the range is
   * halved and each half sent under its own id until the record it refuses is alone; that one is dropped and
   * counted (`dropped.rejected`), and the queue moves on.
   */
  private splitOrDrop(claim: SpoolClaim, reason: string): void {
    const spool = this.options.spool;
    const records = spool.read(claim.first - 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, claim.last);
    if (records.length <= 1) {
      this.counters.rejected += records.length;
      this.rejectedAt.push(Date.now());
      this.options.log(`link: the server refused record ${claim.first} (${reason}); dropped`);
      spool.ack(claim.last);
      return;
    }
    const mid = records[Math.floor(records.length / 2) - 1]!.seq;
    spool.claim({ first: claim.first, last: mid });
  }

  private async sendClaim(
    claim: SpoolClaim,
  ): Promise<
    | { kind: "stored" }
    | { kind: "rejected"; reason: string }
    | { kind: "unreachable" | "unauthorized"; reason: string; retryAfterMs?: number }
  > {
    const spool = this.options.spool;
    const records = spool.read(claim.first - 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, claim.last);
    // Every record of the range was dropped (the spool filled up while the server was away): nothing to send.
    if (records.length === 0) return { kind: "stored" };
    const batch = buildBatch(spool.stats().spoolId, claim, records, this.options.detect === true);
    if (batch.skipped > 0) spool.count("unreadable", batch.skipped);
    const body = await gzip(Buffer.from(batch.json, "utf8"));
    let response: LinkResponse;
    try {
      response = await this.options.client.request("POST", ROUTES.ingest.path, {
        body,
        encoding: "gzip",
        signal: this.stopSignal.signal,
      });
    } catch (error) {
      return { kind: "unreachable", reason: `server unreachable: ${(error as Error).message}` };
    }
    if (response.status === 200) {
      const answer = response.body as { duplicate?: boolean };
      this.counters.batches += 1;
      if (answer.duplicate === true) this.counters.duplicates += 1;
      else {
        this.counters.events += batch.events;
        this.counters.alerts += batch.alerts;
      }
      return { kind: "stored" };
    }
    const reason = describeAnswer(response);
    if (REJECTED.has(response.status)) return { kind: "rejected", reason };
    if (response.status === 401 || response.status === 403) return { kind: "unauthorized", reason };
    return {
      kind: "unreachable",
      reason: `server answered ${reason}`,
      ...(response.retryAfterMs === undefined ? {} : { retryAfterMs: response.retryAfterMs }),
    };
  }

  private async heartbeatLoop(): Promise<void> {
    const interval = this.options.heartbeatIntervalMs;
    while (!this.stopping) {
      try {
        const response = await this.options.client.request("POST", ROUTES.heartbeat.path, {
          body: this.heartbeat(),
          timeoutMs: Math.max(5000, interval),
          signal: this.pollSignal.signal,
        });
        if (response.status === 200) this.counters.heartbeats += 1;
        else if (response.status === 401 || response.status === 403)
          this.setState("unauthorized", describeAnswer(response));
      } catch (error) {
        if (!(error instanceof LinkNetworkError)) throw error;
        // The sender reports reachability; a missed heartbeat is simply the next one's job.
      }
      await this.heartbeatWakeup.wait(interval);
      // A state change wakes it early; statuses come in bursts (every sensor at start), so gather them first.
      if (!this.stopping) await pause(HEARTBEAT_GATHER_MS, this.pollSignal.signal);
    }
  }

  /** Sends a heartbeat soon rather than at the next interval: a sensor changed state. */
  heartbeatSoon(): void {
    this.heartbeatWakeup.notify();
  }

  private async commandLoop(): Promise<void> {
    // Results a previous run owed the server go first: they are older than anything the poll can bring.
    for (const owed of this.options.journal?.owed(this.options.log) ?? []) {
      if (this.stopping) return;
      this.options.log(
        `link: command ${owed.id} ${owed.result.action}: result of the previous run (${owed.result.code ?? "ok"})`,
      );
      if (await this.postResult(owed.id, owed.result, Date.now() + 60_000)) this.options.journal?.settled(owed.id);
    }
    const backoff = new Backoff(this.options.backoff);
    const wait = Math.min(60, this.options.commandWaitSeconds ?? 25);
    while (!this.stopping) {
      let response: LinkResponse;
      try {
        response = await this.options.client.request("GET", `${ROUTES.pollCommands.path}?waitSeconds=${wait}`, {
          timeoutMs: (wait + 15) * 1000,
          signal: this.pollSignal.signal,
        });
      } catch (error) {
        if (!(error instanceof LinkNetworkError)) throw error;
        if (this.stopping) return;
        await pause(backoff.next(), this.pollSignal.signal);
        continue;
      }
      if (response.status !== 200) {
        await pause(backoff.next(), this.pollSignal.signal);
        continue;
      }
      backoff.reset();
      for (const command of (response.body as AgentCommands).commands ?? []) {
        if (this.stopping) break;
        await this.runCommand(command);
      }
    }
  }

  /** Runs one command (unless its deadline passed) and posts its result, retrying until the deadline. */
  private async runCommand(command: AgentCommands["commands"][number]): Promise<void> {
    this.counters.commands += 1;
    const deadline = Date.parse(command.deadline);
    const startedAt = new Date().toISOString();
    let result: ActionResult;
    if (Number.isFinite(deadline) && Date.now() > deadline) {
      // A stale command is not run: the analyst's decision was for that moment.
      result = {
        action: command.request.action,
        ok: false,
        code: "R3_ERR_RESPONSE_EXPIRED",
        message: `not run: received after its deadline ${command.deadline}`,
        startedAt,
        durationMs: 0,
      };
    } else if (this.executor === undefined) {
      result = {
        action: command.request.action,
        ok: false,
        code: "R3_ERR_RESPONSE_UNAVAILABLE",
        message: "this agent has no response executor",
        startedAt,
        durationMs: 0,
      };
    } else {
      const started = performance.now();
      this.options.journal?.started(command.id, command.request.action, startedAt);
      try {
        result = await this.executor.execute(command.request);
      } catch (error) {
        result = {
          action: command.request.action,
          ok: false,
          code: "R3_ERR_RESPONSE_FAILED",
          message: (error as Error).message,
          startedAt,
          durationMs: performance.now() - started,
        };
      }
    }
    if (result.ok && result.dryRun !== true && command.request.action === "isolate") this.isolated = true;
    if (result.ok && result.dryRun !== true && command.request.action === "release") this.isolated = false;
    this.options.log(
      `link: command ${command.id} ${command.request.action}: ${result.ok ? "ok" : `failed (${result.code ?? "?"})`}`,
    );
    this.options.journal?.finished(command.id, result);
    const until = Math.max(Number.isFinite(deadline) ? deadline : 0, Date.now() + 60_000);
    if (await this.postResult(command.id, result, until)) this.options.journal?.settled(command.id);
  }

  /**
   * Posts a command's result, retrying until `until`. True once the server has answered for good: 2xx (recorded)
   * or 4xx (it will never take it: timed out, unknown command). False when it could not be told in time, so
   * the journal keeps the result for the next start.
   */
  private async postResult(id: string, result: ActionResult, until: number): Promise<boolean> {
    const backoff = new Backoff(this.options.backoff);
    const path = ROUTES.commandResult.path.replace(":id", encodeURIComponent(id));
    while (!this.stopSignal.signal.aborted && Date.now() < until) {
      try {
        const response = await this.options.client.request("POST", path, {
          body: result,
          signal: this.stopSignal.signal,
        });
        if (response.status < 500) return true;
      } catch (error) {
        if (!(error instanceof LinkNetworkError)) throw error;
      }
      await pause(backoff.next(), this.stopSignal.signal);
    }
    return false;
  }
}
