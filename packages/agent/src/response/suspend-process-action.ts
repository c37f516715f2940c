import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ProcStat } from "../sensors/proc-inventory/parse.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { CgroupJail } from "./cgroup-jail.ts";
import type { Guardrails } from "./guardrails.ts";
import { ProcessHandle } from "./process-handle.ts";
import { descendants, readStat, scanProcesses } from "./process-scan.ts";
import type { ProcessRequest } from "./process-target.ts";
import { describeProcess, newDescendants, resolveTargets } from "./process-target.ts";
import type { ResponseAddon } from "./response-addon.ts";
import { ResponseError } from "./response-error.ts";
import { readStateFile, removeStateFile, writeStateFile } from "./state-file.ts";

export type SuspendProcessOptions = {
  readonly guardrails: Guardrails;
  readonly addon: ResponseAddon | undefined;
  readonly cgroupMount: string | undefined;
  /** `<stateDir>/suspended`: one record per suspension, so a resume works after an agent restart. */
  readonly recordDir: string;
  /** How long freezing may take before the action reports the tree as not (yet) frozen. */
  readonly freezeWaitMs?: number;
};

type SuspendedMember = { pid: number; startTime: number; comm: string; cgroup?: string };

/** `<stateDir>/suspended/<pid>-<start>.json`. */
export type SuspensionRecord = {
  pid: number;
  startTime: number;
  comm: string;
  tree: boolean;
  method: "cgroup" | "signal";
  jail?: string;
  members: SuspendedMember[];
  suspendedAt: string;
};

const CONTAIN_ROUNDS = 8;

function isRecord(value: unknown): value is SuspensionRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Partial<SuspensionRecord>;
  return typeof r.pid === "number" && typeof r.startTime === "number" && Array.isArray(r.members);
}

/**
 * Suspend a process (or its tree) so it can be examined without running, and resume it later. The cgroup v2
 * freezer stops a whole tree atomically, children forked meanwhile included; the processes are moved into a
 * cgroup of ring3's own for it and moved back where they came from on resume. Without cgroup v2: SIGSTOP and
 * SIGCONT (visible to a parent that waits with WUNTRACED, and undone by anyone sending SIGCONT).
 */
export class SuspendProcessAction {
  private readonly options: SuspendProcessOptions;

  constructor(options: SuspendProcessOptions) {
    this.options = options;
  }

  async suspend(request: ProcessRequest, ctx: ActionContext): Promise<ActionOutcome> {
    const { target, members, skipped } = await resolveTargets(this.options.guardrails, request);
    const existing = await this.find(target.pid, target.startTicks);
    if (existing !== undefined)
      return {
        message: `pid ${target.pid} is already suspended (since ${existing.suspendedAt})`,
        details: { ...existing },
      };
    const tree = request.tree === true;
    if (ctx.dryRun) {
      return {
        message: `would suspend ${members.length} process${members.length === 1 ? "" : "es"} (pid ${target.pid} ${target.comm})`,
        details: { pid: target.pid, tree, targets: members.map(describeProcess), skipped },
      };
    }
    const record: SuspensionRecord =
      this.options.cgroupMount !== undefined
        ? await this.freeze(target, members, tree, request.force === true, ctx)
        : await this.stop(target, members, tree, request.force === true);
    await writeStateFile(this.recordPath(target.pid, target.startTicks), record);
    const frozen =
      record.jail === undefined ? true : (await CgroupJail.at(record.jail, this.options.cgroupMount)?.events())?.frozen;
    return {
      message: `suspended ${record.members.length} process${record.members.length === 1 ? "" : "es"} (pid ${target.pid} ${target.comm}, ${record.method === "cgroup" ? "cgroup freezer" : "SIGSTOP"})`,
      details: { ...record, frozen, skipped },
    };
  }

  async resume(request: ProcessRequest, ctx: ActionContext): Promise<ActionOutcome> {
    const current = await readStat(request.pid);
    const record =
      (await this.find(request.pid, request.startTime ?? current?.startTicks)) ??
      (request.startTime === undefined ? await this.find(request.pid, undefined) : undefined);
    if (record === undefined) return this.continueStopped(request, current, ctx);
    if (ctx.dryRun)
      return {
        message: `would resume ${record.members.length} process(es) suspended at ${record.suspendedAt}`,
        details: { ...record },
      };
    let resumed = 0;
    if (record.method === "cgroup" && record.jail !== undefined) {
      const jail = CgroupJail.at(record.jail, this.options.cgroupMount);
      if (jail === undefined) throw new ResponseError("R3_ERR_RESPONSE_UNAVAILABLE", "cgroup v2 is no longer mounted");
      const byPid = new Map(record.members.map((m) => [m.pid, m]));
      const home = record.members.find((m) => m.pid === record.pid)?.cgroup ?? "/";
      // Moved out while still frozen — a process thaws as it leaves — so nothing can fork back into the
      // jail behind the move; a second pass catches any child that was mid-fork.
      for (let pass = 0; pass < 2; pass++) {
        for (const pid of await jail.procs()) {
          // Members go back where they came from; children born inside the jail go where the target came from.
          const member = byPid.get(pid);
          const stat = await readStat(pid);
          const origin = member !== undefined && stat?.startTicks === member.startTime ? (member.cgroup ?? home) : home;
          await jail.release(pid, origin).catch(() => undefined);
          if (pass === 0) resumed += 1;
        }
      }
      await jail.thaw();
      await jail.remove().catch(() => undefined);
    } else {
      for (const member of record.members) {
        const handle = await ProcessHandle.open(this.options.addon, member.pid, member.startTime);
        if (handle === undefined) continue;
        if (await handle.signal("SIGCONT")) resumed += 1;
        handle.close();
      }
    }
    await removeStateFile(this.recordPath(record.pid, record.startTime));
    return {
      message: `resumed ${resumed} process${resumed === 1 ? "" : "es"} (pid ${record.pid} ${record.comm})`,
      details: { pid: record.pid, method: record.method, resumed, suspendedAt: record.suspendedAt },
    };
  }

  /** Every suspension on record. */
  async list(): Promise<SuspensionRecord[]> {
    const names = await readdir(this.options.recordDir).catch(() => [] as string[]);
    const out: SuspensionRecord[] = [];
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      const value = await readStateFile(join(this.options.recordDir, name));
      if (isRecord(value)) out.push(value);
    }
    return out;
  }

  private recordPath(pid: number, startTime: number): string {
    return join(this.options.recordDir, `${pid}-${startTime}.json`);
  }

  private async find(pid: number, startTime: number | undefined): Promise<SuspensionRecord | undefined> {
    if (startTime !== undefined) {
      const value = await readStateFile(this.recordPath(pid, startTime));
      return isRecord(value) ? value : undefined;
    }
    // The target itself may be gone (killed while frozen): its record still resumes the rest.
    return (await this.list()).find((r) => r.pid === pid);
  }

  private async freeze(
    target: ProcStat,
    members: readonly ProcStat[],
    tree: boolean,
    force: boolean,
    ctx: ActionContext,
  ): Promise<SuspensionRecord> {
    const jail = await CgroupJail.create(`suspend-${target.pid}-${target.startTicks}`, this.options.cgroupMount);
    if (jail === undefined) return this.stop(target, members, tree, force);
    const adopted: SuspendedMember[] = [];
    const adopt = async (stat: ProcStat): Promise<void> => {
      const cgroup = await jail.adopt(stat.pid).catch(() => undefined);
      if (cgroup === undefined) return;
      const now = await readStat(stat.pid);
      if (now?.startTicks !== stat.startTicks) await jail.release(stat.pid, cgroup).catch(() => undefined);
      else adopted.push({ pid: stat.pid, startTime: stat.startTicks, comm: stat.comm, cgroup });
    };
    for (const stat of members) await adopt(stat);
    if (adopted.length === 0) {
      await jail.remove().catch(() => undefined);
      throw new ResponseError(
        "R3_ERR_RESPONSE_NO_SUCH_PROCESS",
        `pid ${target.pid} exited before it could be suspended`,
      );
    }
    await jail.freeze(this.options.freezeWaitMs ?? 2000, ctx.signal);
    if (tree) {
      for (let round = 0; round < CONTAIN_ROUNDS; round++) {
        const known = new Set([...adopted.map((m) => m.pid), ...(await jail.procs())]);
        const extra = await newDescendants(this.options.guardrails, known, force);
        if (extra.length === 0) break;
        for (const stat of extra) await adopt(stat);
        await jail.freeze(this.options.freezeWaitMs ?? 2000, ctx.signal);
      }
    }
    return {
      pid: target.pid,
      startTime: target.startTicks,
      comm: target.comm,
      tree,
      method: "cgroup",
      jail: jail.path,
      members: adopted,
      suspendedAt: new Date().toISOString(),
    };
  }

  private async stop(
    target: ProcStat,
    members: readonly ProcStat[],
    tree: boolean,
    force: boolean,
  ): Promise<SuspensionRecord> {
    const stopped = new Map<number, SuspendedMember>();
    const stopAll = async (stats: readonly ProcStat[]): Promise<void> => {
      for (const stat of stats) {
        const handle = await ProcessHandle.open(this.options.addon, stat.pid, stat.startTicks);
        if (handle === undefined) continue;
        if (await handle.signal("SIGSTOP"))
          stopped.set(stat.pid, { pid: stat.pid, startTime: stat.startTicks, comm: stat.comm });
        handle.close();
      }
    };
    await stopAll(members);
    for (let round = 0; tree && round < CONTAIN_ROUNDS; round++) {
      const extra = await newDescendants(this.options.guardrails, new Set(stopped.keys()), force);
      if (extra.length === 0) break;
      await stopAll(extra);
    }
    if (stopped.size === 0)
      throw new ResponseError(
        "R3_ERR_RESPONSE_NO_SUCH_PROCESS",
        `pid ${target.pid} exited before it could be suspended`,
      );
    return {
      pid: target.pid,
      startTime: target.startTicks,
      comm: target.comm,
      tree,
      method: "signal",
      members: [...stopped.values()],
      suspendedAt: new Date().toISOString(),
    };
  }

  /** No ring3 record: a process someone else stopped (state T) is continued; anything else is an error. */
  private async continueStopped(
    request: ProcessRequest,
    current: ProcStat | undefined,
    ctx: ActionContext,
  ): Promise<ActionOutcome> {
    if (current === undefined) throw new ResponseError("R3_ERR_RESPONSE_NO_SUCH_PROCESS", `no process ${request.pid}`);
    const stats = request.tree === true ? descendants([current.pid], await scanProcesses()) : [current];
    const stopped = stats.filter((s) => s.state === "T");
    if (stopped.length === 0)
      throw new ResponseError(
        "R3_ERR_RESPONSE_NOT_SUSPENDED",
        `pid ${request.pid} is neither suspended by ring3 nor stopped (state ${current.state})`,
      );
    await resolveTargets(this.options.guardrails, { ...request, tree: false });
    if (ctx.dryRun)
      return {
        message: `would send SIGCONT to ${stopped.length} stopped process(es)`,
        details: { targets: stopped.map(describeProcess) },
      };
    let resumed = 0;
    for (const stat of stopped) {
      const handle = await ProcessHandle.open(this.options.addon, stat.pid, stat.startTicks);
      if (handle !== undefined && (await handle.signal("SIGCONT"))) resumed += 1;
      handle?.close();
    }
    return {
      message: `pid ${request.pid} was not suspended by ring3; sent SIGCONT to ${resumed} stopped process(es)`,
      details: { pid: request.pid, method: "signal", resumed },
    };
  }
}
