import { join, resolve } from "node:path";
import type { ActionResult, ResponseActionName, ResponseRequest } from "@ring3/protocol";
import { checkResponseRequest } from "@ring3/protocol";
import { defaultStateDir } from "../link/enrollment.ts";
import type { ActionContext, ActionOutcome, ResponseOrigin } from "./action-context.ts";
import { ActionLog } from "./action-log.ts";
import { BlockExecutableAction } from "./block-executable-action.ts";
import { cgroup2Mount } from "./cgroup-jail.ts";
import type { ExecMark } from "./exec-guard.ts";
import { Guardrails } from "./guardrails.ts";
import { IsolateHostAction } from "./isolate-host-action.ts";
import { KillProcessAction } from "./kill-process-action.ts";
import { QuarantineFileAction } from "./quarantine-file-action.ts";
import type { RateLimit } from "./rate-limiter.ts";
import { RateLimiter } from "./rate-limiter.ts";
import type { ExecDenial, ResponseAddon } from "./response-addon.ts";
import { loadResponseAddon } from "./response-addon.ts";
import { ResponseError } from "./response-error.ts";
import { SuspendProcessAction } from "./suspend-process-action.ts";

/** Per-action time limits: a quarantine copies a file that may be gigabytes, a kill should take seconds. */
export const DEFAULT_TIMEOUTS_MS: Readonly<Record<ResponseActionName, number>> = {
  kill: 30_000,
  suspend: 15_000,
  resume: 15_000,
  quarantine: 300_000,
  restore: 300_000,
  isolate: 30_000,
  release: 30_000,
  block: 30_000,
  unblock: 30_000,
  list: 30_000,
};

/**
 * Automatic (playbook) actions per window. Isolation is the most disruptive and the least useful to repeat;
 * kills and quarantines come in bursts when a rule fires on a worm, and are still capped.
 */
export const DEFAULT_AUTOMATIC_LIMITS: Readonly<Record<string, RateLimit>> = {
  isolate: { max: 1, perMs: 10 * 60_000 },
  kill: { max: 20, perMs: 60_000 },
  suspend: { max: 20, perMs: 60_000 },
  quarantine: { max: 20, perMs: 60_000 },
  block: { max: 10, perMs: 60_000 },
};

export type ResponseExecutorOptions = {
  /** Quarantine store, action log, isolation and block-list state, suspensions (default: the agent's state dir). */
  readonly stateDir?: string;
  /** Every action only reports what it would do. */
  readonly dryRun?: boolean;
  readonly timeoutsMs?: Partial<Record<ResponseActionName, number>>;
  /** SIGTERM → SIGKILL grace for kills (default 2 s). */
  readonly killGraceMs?: number;
  readonly protectedProcesses?: readonly string[];
  /** Always kept open by an isolation: the agent's management server(s), host:port. */
  readonly managementEndpoints?: readonly string[];
  /** False in a short-lived process (ring3 respond without an agent): blocks are recorded, not enforced. */
  readonly enforceBlocks?: boolean;
  readonly execMarks?: readonly ExecMark[];
  readonly execFailOpenMs?: number;
  readonly memfdNoexec?: boolean;
  readonly memfdSysctl?: string;
  readonly automaticLimits?: Readonly<Record<string, RateLimit>>;
  readonly onExecDenied?: (denial: ExecDenial) => void;
  /** The native addon; null: run without it (signals by start-time check, no exec blocking). */
  readonly addon?: ResponseAddon | null;
  /** cgroup v2 mount for freezing; null: none (SIGSTOP/SIGCONT). Default: found in mountinfo. */
  readonly cgroupMount?: string | null;
  readonly nft?: string;
  readonly ss?: string;
  readonly resolvConf?: string;
};

export type ExecuteOptions = {
  readonly origin?: ResponseOrigin;
};

/** Areas whose actions run one at a time (they read and rewrite the same state). */
const AREAS: Readonly<Record<ResponseActionName, string>> = {
  kill: "process",
  suspend: "process",
  resume: "process",
  quarantine: "quarantine",
  restore: "quarantine",
  isolate: "isolation",
  release: "isolation",
  block: "block",
  unblock: "block",
  list: "list",
};

/** The break-glass token is shown once, to whoever isolated; the log keeps that it was issued, not what it is. */
function redactResult(result: ActionResult): ActionResult {
  if (result.details === undefined || !("breakGlassToken" in result.details)) return result;
  return {
    ...result,
    message: result.message.replace(/token: \S+$/, "token: (shown once)"),
    details: { ...result.details, breakGlassToken: "(shown once)" },
  };
}

function redactRequest(request: unknown): unknown {
  if (typeof request !== "object" || request === null || !("token" in request)) return request;
  return { ...request, token: "(redacted)" };
}

/**
 * The one entry point to response actions: the server link, `ring3 respond` and playbooks all call
 * `execute`. It validates the request, applies the rate limit to automatic actions, runs the action under
 * its timeout, and appends the request and its result to the action log — refusals included — before
 * answering. It never throws: every outcome is an `ActionResult`.
 */
export class ResponseExecutor {
  readonly stateDir: string;
  readonly log: ActionLog;
  private readonly options: ResponseExecutorOptions;
  private readonly kill: KillProcessAction;
  private readonly suspension: SuspendProcessAction;
  private readonly quarantine: QuarantineFileAction;
  private readonly isolation: IsolateHostAction;
  private readonly blocking: BlockExecutableAction;
  private readonly limiter: RateLimiter;
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: ResponseExecutorOptions = {}) {
    this.options = options;
    this.stateDir = resolve(options.stateDir ?? defaultStateDir());
    this.log = new ActionLog(join(this.stateDir, "actions.jsonl"));
    const load = options.addon === undefined ? loadResponseAddon() : undefined;
    const addon =
      options.addon === undefined ? (load?.ok === true ? load.addon : undefined) : (options.addon ?? undefined);
    const cgroupMount = options.cgroupMount === undefined ? cgroup2Mount() : (options.cgroupMount ?? undefined);
    const guardrails = new Guardrails({
      ownPaths: [this.stateDir],
      ...(options.protectedProcesses === undefined ? {} : { protectedProcesses: options.protectedProcesses }),
    });
    this.kill = new KillProcessAction({
      guardrails,
      addon,
      cgroupMount,
      ...(options.killGraceMs === undefined ? {} : { graceMs: options.killGraceMs }),
    });
    this.suspension = new SuspendProcessAction({
      guardrails,
      addon,
      cgroupMount,
      recordDir: join(this.stateDir, "suspended"),
    });
    this.quarantine = new QuarantineFileAction({ guardrails, storeDir: join(this.stateDir, "quarantine") });
    this.isolation = new IsolateHostAction({
      stateFile: join(this.stateDir, "isolation.json"),
      ...(options.managementEndpoints === undefined ? {} : { managementEndpoints: options.managementEndpoints }),
      ...(options.nft === undefined ? {} : { nft: options.nft }),
      ...(options.ss === undefined ? {} : { ss: options.ss }),
      ...(options.resolvConf === undefined ? {} : { resolvConf: options.resolvConf }),
    });
    this.blocking = new BlockExecutableAction({
      stateFile: join(this.stateDir, "blocklist.json"),
      addon,
      unavailableReason:
        load?.ok === false
          ? load.reason
          : addon === undefined
            ? "exec blocking needs the ring3_response addon"
            : undefined,
      enforce: options.enforceBlocks !== false,
      ...(options.execMarks === undefined ? {} : { marks: options.execMarks }),
      ...(options.execFailOpenMs === undefined ? {} : { failOpenMs: options.execFailOpenMs }),
      ...(options.memfdNoexec === undefined ? {} : { memfdNoexec: options.memfdNoexec }),
      ...(options.memfdSysctl === undefined ? {} : { memfdSysctl: options.memfdSysctl }),
      ...(options.onExecDenied === undefined ? {} : { onDenied: options.onExecDenied }),
    });
    this.limiter = new RateLimiter(options.automaticLimits ?? DEFAULT_AUTOMATIC_LIMITS, { max: 10, perMs: 60_000 });
  }

  /**
   * Agent start: state that must outlive the agent is applied again — an isolation on record, the block
   * list. Returns one line per thing re-applied; a failure is reported in the line, never thrown (the agent
   * keeps starting, degraded).
   */
  async start(): Promise<string[]> {
    const lines: string[] = [];
    for (const [what, step] of [
      ["isolation", () => this.isolation.reapply()],
      ["exec blocking", () => this.blocking.start()],
    ] as const) {
      try {
        const line = await step();
        if (line !== undefined) lines.push(line);
      } catch (error) {
        lines.push(`${what}: could not be re-applied: ${(error as Error).message}`);
      }
    }
    return lines;
  }

  /** Agent stop: the exec guard closes (blocks lift with the agent) and vm.memfd_noexec goes back. */
  async stop(): Promise<void> {
    await this.blocking.stop();
  }

  async execute(request: unknown, options: ExecuteOptions = {}): Promise<ActionResult> {
    const origin = options.origin ?? "server";
    const startedAt = new Date();
    const started = performance.now();
    const checked = checkResponseRequest(request);
    const named = (request as { action?: unknown } | null)?.action;
    const action = checked.ok ? checked.request.action : typeof named === "string" ? named.slice(0, 64) : "invalid";
    const dryRun =
      this.options.dryRun === true || (checked.ok && "dryRun" in checked.request && checked.request.dryRun === true);
    const finish = async (outcome: { ok: true; value: ActionOutcome } | { ok: false; error: ResponseError }) => {
      const result: ActionResult = {
        action,
        ok: outcome.ok,
        ...(dryRun ? { dryRun: true } : {}),
        ...(outcome.ok ? {} : { code: outcome.error.code }),
        message: outcome.ok ? outcome.value.message : outcome.error.message,
        startedAt: startedAt.toISOString(),
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        ...(outcome.ok
          ? { details: outcome.value.details }
          : outcome.error.details === undefined
            ? {}
            : { details: outcome.error.details }),
      };
      try {
        await this.log.append({
          time: new Date().toISOString(),
          origin,
          request: redactRequest(request),
          result: redactResult(result),
          pid: process.pid,
        });
      } catch (error) {
        // The action happened (or was refused) either way; say that its record is missing rather than hide it.
        return { ...result, details: { ...result.details, actionLogError: (error as Error).message } };
      }
      return result;
    };
    if (!checked.ok) return finish({ ok: false, error: new ResponseError("R3_ERR_RESPONSE_INVALID", checked.message) });
    const valid = checked.request;
    if (origin === "playbook" && valid.action !== "list" && !this.limiter.take(valid.action)) {
      return finish({
        ok: false,
        error: new ResponseError(
          "R3_ERR_RESPONSE_RATE_LIMITED",
          `automatic ${valid.action} over its rate limit; not run`,
        ),
      });
    }
    const timeoutMs = this.options.timeoutsMs?.[valid.action] ?? DEFAULT_TIMEOUTS_MS[valid.action];
    const controller = new AbortController();
    const ctx: ActionContext = { dryRun, signal: controller.signal, origin };
    const area = AREAS[valid.action];
    const previous = this.queues.get(area) ?? Promise.resolve();
    const run = previous.then(() => this.dispatch(valid, ctx));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(area, settled);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout("timeout"), timeoutMs);
    });
    try {
      const value = await Promise.race([run, timeout]);
      if (value === "timeout") {
        controller.abort();
        return await finish({
          ok: false,
          error: new ResponseError(
            "R3_ERR_RESPONSE_TIMEOUT",
            `${valid.action} did not finish within ${timeoutMs} ms; it may still complete (see the action log)`,
          ),
        });
      }
      return await finish({ ok: true, value });
    } catch (error) {
      const failure =
        error instanceof ResponseError
          ? error
          : new ResponseError("R3_ERR_RESPONSE_FAILED", `${valid.action} failed: ${(error as Error).message}`);
      return finish({ ok: false, error: failure });
    } finally {
      clearTimeout(timer);
    }
  }

  private async dispatch(request: ResponseRequest, ctx: ActionContext): Promise<ActionOutcome> {
    switch (request.action) {
      case "kill":
        return this.kill.run(request, ctx);
      case "suspend":
        return this.suspension.suspend(request, ctx);
      case "resume":
        return this.suspension.resume(request, ctx);
      case "quarantine":
        return this.quarantine.quarantine(request, ctx);
      case "restore":
        return this.quarantine.restore(request, ctx);
      case "isolate":
        return this.isolation.isolate(request, ctx);
      case "release":
        return this.isolation.release(request, ctx);
      case "block":
        return this.blocking.block(request, ctx);
      case "unblock":
        return this.blocking.unblock(request, ctx);
      case "list":
        return this.list();
    }
  }

  private async list(): Promise<ActionOutcome> {
    const [quarantined, suspended, isolation, blocked, recent] = await Promise.all([
      this.quarantine.list(),
      this.suspension.list(),
      this.isolation.status(),
      this.blocking.list(),
      this.log.tail(20),
    ]);
    return {
      message: `${quarantined.length} quarantined, ${suspended.length} suspended, ${isolation.isolated ? "isolated" : "not isolated"}, ${blocked.hashes.length} blocked hash(es)`,
      details: {
        quarantined,
        suspended,
        isolation,
        blocked,
        recent: recent.map((e) => ({
          time: e.time,
          origin: e.origin,
          action: e.result.action,
          ok: e.result.ok,
          message: e.result.message,
        })),
      },
    };
  }
}
