import { randomBytes } from "node:crypto";
import type { ProcStat } from "../sensors/proc-inventory/parse.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { CgroupJail } from "./cgroup-jail.ts";
import type { Guardrails } from "./guardrails.ts";
import { ProcessHandle, pollUntil } from "./process-handle.ts";
import { isGone, readStat } from "./process-scan.ts";
import type { ProcessRequest } from "./process-target.ts";
import { describeProcess, newDescendants, resolveTargets } from "./process-target.ts";
import type { ResponseAddon } from "./response-addon.ts";
import { ResponseError } from "./response-error.ts";

export type KillProcessOptions = {
  readonly guardrails: Guardrails;
  /** pidfds when present; a start-time check before kill(2) otherwise. */
  readonly addon: ResponseAddon | undefined;
  /** The cgroup v2 mount, for whole-tree kills; undefined: signal by signal. */
  readonly cgroupMount: string | undefined;
  /** SIGTERM → SIGKILL (default 2 s): time a process gets to exit cleanly. */
  readonly graceMs?: number;
  /** How long SIGKILL'd processes get to disappear (default 5 s); longer means uninterruptible sleep. */
  readonly killWaitMs?: number;
};

/** Rounds of "stop what we know, look for children forked meanwhile" before signalling a tree. */
const CONTAIN_ROUNDS = 8;

/**
 * Kill a process or a tree: SIGTERM, then SIGKILL for whatever is still there after the grace period.
 *
 * A tree is contained before it is signalled, so it cannot grow or scatter while it dies: moved into a frozen
 * cgroup of ring3's own where cgroup v2 is available (children forked meanwhile are born inside it; one
 * cgroup.kill write ends them all), else stopped with SIGSTOP and re-scanned until no new child appears.
 */
export class KillProcessAction {
  private readonly options: KillProcessOptions;

  constructor(options: KillProcessOptions) {
    this.options = options;
  }

  async run(request: ProcessRequest, ctx: ActionContext): Promise<ActionOutcome> {
    const { target, members, skipped } = await resolveTargets(this.options.guardrails, request);
    const plan = { pid: target.pid, comm: target.comm, startTime: target.startTicks, tree: request.tree === true };
    if (ctx.dryRun) {
      return {
        message: `would kill ${members.length} process${members.length === 1 ? "" : "es"} (pid ${target.pid} ${target.comm})`,
        details: { ...plan, targets: members.map(describeProcess), skipped },
      };
    }
    const result =
      request.tree === true && this.options.cgroupMount !== undefined
        ? await this.killInJail(members, request.force === true, ctx)
        : await this.killBySignal(members, request.tree === true, request.force === true, ctx);
    const details = { ...plan, ...result, skipped };
    if (result.survivors.length > 0) {
      throw new ResponseError(
        "R3_ERR_RESPONSE_SURVIVED",
        `${result.survivors.length} process(es) survived SIGKILL (uninterruptible sleep?): ${result.survivors.join(", ")}`,
        details,
      );
    }
    return {
      message: `killed ${result.killed.length} process${result.killed.length === 1 ? "" : "es"} (pid ${target.pid} ${target.comm}${result.escalated ? ", SIGKILL after the grace period" : ""})`,
      details,
    };
  }

  private get graceMs(): number {
    return this.options.graceMs ?? 2000;
  }

  private get killWaitMs(): number {
    return this.options.killWaitMs ?? 5000;
  }

  private async killInJail(
    members: readonly ProcStat[],
    force: boolean,
    ctx: ActionContext,
  ): Promise<{ method: string; killed: number[]; survivors: number[]; escalated: boolean }> {
    const jail = await CgroupJail.create(`kill-${randomBytes(6).toString("hex")}`, this.options.cgroupMount);
    if (jail === undefined) return this.killBySignal(members, true, force, ctx);
    const inside = new Set<number>();
    const adopt = async (stat: ProcStat): Promise<void> => {
      if (await isGone(stat.pid, stat.startTicks)) return;
      const origin = await jail.adopt(stat.pid).catch(() => undefined);
      if (origin === undefined) return;
      // The pid could have been reused between the scan and the move: such a process goes back out untouched.
      const now = await readStat(stat.pid);
      if (now?.startTicks !== stat.startTicks) await jail.release(stat.pid, origin).catch(() => undefined);
      else inside.add(stat.pid);
    };
    for (const stat of members) await adopt(stat);
    await jail.freeze(1000, ctx.signal);
    // Children forked between the scan and their parent's move were born outside: bring them in too.
    for (let round = 0; round < CONTAIN_ROUNDS; round++) {
      const known = new Set([...inside, ...(await jail.procs())]);
      const extra = await newDescendants(this.options.guardrails, known, force);
      if (extra.length === 0) break;
      for (const stat of extra) await adopt(stat);
      await jail.freeze(1000, ctx.signal);
    }
    const killed = await jail.procs();
    for (const pid of killed) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // Gone already.
      }
    }
    await jail.thaw();
    let escalated = false;
    if (!(await jail.waitEmpty(this.graceMs, ctx.signal))) {
      escalated = true;
      if (!(await jail.kill())) {
        for (const pid of await jail.procs()) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // Gone already.
          }
        }
      }
      await jail.waitEmpty(this.killWaitMs, ctx.signal);
    }
    const survivors = await jail.procs();
    if (survivors.length === 0) await jail.remove().catch(() => undefined);
    return {
      method: "cgroup",
      killed: [...new Set([...inside, ...killed])].sort((a, b) => a - b),
      survivors,
      escalated,
    };
  }

  private async killBySignal(
    members: readonly ProcStat[],
    tree: boolean,
    force: boolean,
    ctx: ActionContext,
  ): Promise<{ method: string; killed: number[]; survivors: number[]; escalated: boolean }> {
    const handles = new Map<number, ProcessHandle>();
    const open = async (stats: readonly ProcStat[]): Promise<void> => {
      for (const stat of stats) {
        if (handles.has(stat.pid)) continue;
        const handle = await ProcessHandle.open(this.options.addon, stat.pid, stat.startTicks);
        if (handle !== undefined) handles.set(stat.pid, handle);
      }
    };
    const all = (): ProcessHandle[] => [...handles.values()];
    try {
      await open(members);
      if (tree) {
        // A stopped process cannot fork: stop what we know, then look for children forked before the stop.
        for (let round = 0; round < CONTAIN_ROUNDS; round++) {
          for (const handle of all()) await handle.signal("SIGSTOP");
          const extra = await newDescendants(this.options.guardrails, new Set(handles.keys()), force);
          if (extra.length === 0) break;
          await open(extra);
        }
      }
      for (const handle of all()) await handle.signal("SIGTERM");
      // Stopped processes act on SIGTERM only once continued.
      if (tree) for (const handle of all()) await handle.signal("SIGCONT");
      const allExited = async (): Promise<boolean> => {
        for (const handle of all()) if (!(await handle.exited())) return false;
        return true;
      };
      let escalated = false;
      if (!(await pollUntil(allExited, this.graceMs, ctx.signal))) {
        escalated = true;
        if (tree) {
          // Children forked while the tree handled SIGTERM.
          const live = new Set<number>();
          for (const handle of all()) if (!(await handle.exited())) live.add(handle.pid);
          await open(await newDescendants(this.options.guardrails, live, force));
        }
        for (const handle of all()) if (!(await handle.exited())) await handle.signal("SIGKILL");
        await pollUntil(allExited, this.killWaitMs, ctx.signal);
      }
      const survivors: number[] = [];
      for (const handle of all()) if (!(await handle.exited())) survivors.push(handle.pid);
      return { method: "signal", killed: [...handles.keys()].sort((a, b) => a - b), survivors, escalated };
    } finally {
      for (const handle of all()) handle.close();
    }
  }
}
