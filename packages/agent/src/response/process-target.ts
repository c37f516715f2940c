import type { ProcStat } from "../sensors/proc-inventory/parse.ts";
import type { Guardrails } from "./guardrails.ts";
import { descendants, readStat, scanProcesses } from "./process-scan.ts";
import { ResponseError } from "./response-error.ts";

/** A process request: kill, suspend, resume. */
export type ProcessRequest = {
  readonly pid: number;
  readonly tree?: boolean | undefined;
  readonly startTime?: number | undefined;
  readonly force?: boolean | undefined;
};

export type SkippedProcess = { readonly pid: number; readonly comm: string; readonly reason: string };

export type ResolvedTargets = {
  readonly target: ProcStat;
  /** The target first, then its descendants (with `tree`), parents before children; never a protected one. */
  readonly members: readonly ProcStat[];
  /** Descendants a guardrail kept out. */
  readonly skipped: readonly SkippedProcess[];
};

/**
 * The processes a request names, checked: the pid exists and, when the request carries a start time, is still
 * that process; the target is not protected (it is refused whole); protected descendants are skipped.
 */
export async function resolveTargets(
  guardrails: Guardrails,
  request: ProcessRequest,
  procRoot = "/proc",
): Promise<ResolvedTargets> {
  const target = await readStat(request.pid, procRoot);
  if (target === undefined || target.state === "Z")
    throw new ResponseError("R3_ERR_RESPONSE_NO_SUCH_PROCESS", `no process ${request.pid}`);
  if (request.startTime !== undefined && request.startTime !== target.startTicks) {
    throw new ResponseError(
      "R3_ERR_RESPONSE_PID_REUSED",
      `pid ${request.pid} now belongs to another process (started at tick ${target.startTicks}, not ${request.startTime})`,
      { pid: request.pid, expectedStartTime: request.startTime, startTime: target.startTicks },
    );
  }
  const self = await guardrails.selfLineage();
  const force = request.force === true;
  const reason = guardrails.processReason(target, self, force);
  if (reason !== undefined)
    throw new ResponseError("R3_ERR_RESPONSE_PROTECTED", `refused: pid ${target.pid} is ${reason}`, {
      pid: target.pid,
      comm: target.comm,
    });
  if (request.tree !== true) return { target, members: [target], skipped: [] };
  const members: ProcStat[] = [];
  const skipped: SkippedProcess[] = [];
  for (const stat of descendants([target.pid], await scanProcesses(procRoot))) {
    const why = stat.pid === target.pid ? undefined : guardrails.processReason(stat, self, force);
    if (why === undefined) members.push(stat);
    else skipped.push({ pid: stat.pid, comm: stat.comm, reason: why });
  }
  return { target, members, skipped };
}

/** Descendants of `known` pids that are not known yet (forked since the last scan), minus protected ones. */
export async function newDescendants(
  guardrails: Guardrails,
  known: ReadonlySet<number>,
  force: boolean,
  procRoot = "/proc",
): Promise<ProcStat[]> {
  const self = await guardrails.selfLineage();
  return descendants(known, await scanProcesses(procRoot)).filter(
    (stat) => !known.has(stat.pid) && guardrails.processReason(stat, self, force) === undefined,
  );
}

export const describeProcess = (stat: ProcStat): { pid: number; comm: string; startTime: number } => ({
  pid: stat.pid,
  comm: stat.comm,
  startTime: stat.startTicks,
});
