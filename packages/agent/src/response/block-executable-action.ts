import { readFile, writeFile } from "node:fs/promises";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import type { ExecMark } from "./exec-guard.ts";
import { ExecGuard } from "./exec-guard.ts";
import type { ExecDenial, ExecGuardStats, ResponseAddon } from "./response-addon.ts";
import { ResponseError } from "./response-error.ts";
import { readStateFile, writeStateFile } from "./state-file.ts";

/** `<stateDir>/blocklist.json`. */
export type BlockListState = {
  hashes: { sha256: string; addedAt: string }[];
  /** vm.memfd_noexec as it was before blocking raised it, to put back when blocking stops. */
  memfdNoexecSaved?: number;
};

export type BlockExecutableOptions = {
  readonly stateFile: string;
  /** Undefined: the addon did not load, blocking is unavailable (the reason says why). */
  readonly addon: ResponseAddon | undefined;
  readonly unavailableReason?: string;
  /**
   * False where nothing stays running to enforce a block (`ring3 respond` with no agent): the block list is
   * recorded and the agent enforces it when it starts.
   */
  readonly enforce: boolean;
  readonly marks?: readonly ExecMark[];
  readonly failOpenMs?: number;
  readonly deadlineMs?: number;
  /** Raise vm.memfd_noexec to 2 while blocking (default true), closing the memfd bypass where the kernel can. */
  readonly memfdNoexec?: boolean;
  readonly memfdSysctl?: string;
  readonly onDenied?: (denial: ExecDenial) => void;
};

const MEMFD_SYSCTL = "/proc/sys/vm/memfd_noexec";

/**
 * Block executables by SHA-256. The block list is persisted; while it is not empty the exec guard runs and
 * vm.memfd_noexec is 2 (memfd_create(2) "MFD_EXEC will be rejected" and every memfd is sealed non-executable,
 * so a blocked binary cannot be run from an anonymous in-memory file, which no filesystem mark sees). When
 * the list empties, the guard stops and the sysctl goes back to what it was.
 */
export class BlockExecutableAction {
  private readonly options: BlockExecutableOptions;
  private guard: ExecGuard | undefined;

  constructor(options: BlockExecutableOptions) {
    this.options = options;
  }

  private get memfdSysctl(): string {
    return this.options.memfdSysctl ?? MEMFD_SYSCTL;
  }

  /** At agent start: a block list on record is enforced again. */
  async start(): Promise<string | undefined> {
    if (!this.options.enforce) return undefined;
    const state = await this.state();
    if (state.hashes.length === 0) {
      // A crash while blocking left the sysctl raised: blocking is off now, so it goes back.
      if (state.memfdNoexecSaved !== undefined) await this.restoreMemfd(state);
      return undefined;
    }
    await this.enforce(state);
    return `exec blocking of ${state.hashes.length} hash(es) on ${this.guard?.marked.join(", ") ?? "nothing"}`;
  }

  async block(request: { sha256: string }, ctx: ActionContext): Promise<ActionOutcome> {
    const sha256 = request.sha256.toLowerCase();
    const state = await this.state();
    const already = state.hashes.some((h) => h.sha256 === sha256);
    if (this.options.enforce && this.options.addon === undefined)
      throw new ResponseError(
        "R3_ERR_RESPONSE_UNAVAILABLE",
        this.options.unavailableReason ?? "the exec guard is unavailable",
      );
    if (ctx.dryRun)
      return {
        message: `would block ${sha256}`,
        details: { sha256, alreadyBlocked: already, blocked: state.hashes.length },
      };
    if (!already) state.hashes.push({ sha256, addedAt: new Date().toISOString() });
    await writeStateFile(this.options.stateFile, state);
    if (!this.options.enforce) {
      return {
        message: `recorded the block of ${sha256}; no agent is running here to enforce it — it applies when the agent starts`,
        details: { sha256, enforced: false, blocked: state.hashes.length },
      };
    }
    try {
      await this.enforce(state);
    } catch (error) {
      // Not enforceable: the list must not claim a block that is not there.
      if (!already) {
        state.hashes = state.hashes.filter((h) => h.sha256 !== sha256);
        await writeStateFile(this.options.stateFile, state);
      }
      throw new ResponseError("R3_ERR_RESPONSE_FAILED", `cannot start the exec guard: ${(error as Error).message}`);
    }
    return {
      message: `blocked ${sha256}${already ? " (already blocked)" : ""}: executions fail with EPERM`,
      details: {
        sha256,
        enforced: true,
        blocked: state.hashes.length,
        marked: this.guard?.marked ?? [],
        notMarked: this.guard?.skipped ?? [],
        memfdNoexec: await this.readMemfd(),
      },
    };
  }

  async unblock(request: { sha256: string }, ctx: ActionContext): Promise<ActionOutcome> {
    const sha256 = request.sha256.toLowerCase();
    const state = await this.state();
    if (!state.hashes.some((h) => h.sha256 === sha256))
      return {
        message: `${sha256} was not blocked`,
        details: { sha256, blocked: state.hashes.length, wasBlocked: false },
      };
    if (ctx.dryRun) return { message: `would unblock ${sha256}`, details: { sha256 } };
    state.hashes = state.hashes.filter((h) => h.sha256 !== sha256);
    await writeStateFile(this.options.stateFile, state);
    if (state.hashes.length > 0) this.guard?.setBlocked(state.hashes.map((h) => h.sha256));
    else await this.stop(state);
    return {
      message: `unblocked ${sha256}${state.hashes.length === 0 ? "; exec guard stopped" : ""}`,
      details: { sha256, blocked: state.hashes.length, wasBlocked: true, enforced: this.guard?.running ?? false },
    };
  }

  async list(): Promise<{ hashes: BlockListState["hashes"]; enforced: boolean; guard: ExecGuardStats | undefined }> {
    return { hashes: (await this.state()).hashes, enforced: this.guard?.running ?? false, guard: this.guard?.stats() };
  }

  /** Agent shutdown: the guard closes (the kernel allows whatever was pending) and the sysctl goes back. */
  async stop(state?: BlockListState): Promise<void> {
    // Only the enforcing instance (the agent) owns the guard and the sysctl; a `ring3 respond` beside it
    // must not undo them.
    if (!this.options.enforce) return;
    this.guard?.stop();
    this.guard = undefined;
    await this.restoreMemfd(state ?? (await this.state()));
  }

  private async state(): Promise<BlockListState> {
    const value = (await readStateFile(this.options.stateFile)) as BlockListState | undefined;
    if (value === undefined) return { hashes: [] };
    if (!Array.isArray(value.hashes)) throw new Error(`${this.options.stateFile} is not a block list`);
    return value;
  }

  private async enforce(state: BlockListState): Promise<void> {
    const addon = this.options.addon;
    if (addon === undefined)
      throw new ResponseError(
        "R3_ERR_RESPONSE_UNAVAILABLE",
        this.options.unavailableReason ?? "the exec guard is unavailable",
      );
    if (this.guard === undefined) {
      const guard = new ExecGuard({
        addon,
        onDenied: (denials) => {
          for (const denial of denials) this.options.onDenied?.(denial);
        },
        ...(this.options.marks === undefined ? {} : { marks: this.options.marks }),
        ...(this.options.failOpenMs === undefined ? {} : { failOpenMs: this.options.failOpenMs }),
        ...(this.options.deadlineMs === undefined ? {} : { deadlineMs: this.options.deadlineMs }),
      });
      guard.start();
      this.guard = guard;
    }
    this.guard.setBlocked(state.hashes.map((h) => h.sha256));
    await this.raiseMemfd(state);
  }

  private async readMemfd(): Promise<number | undefined> {
    const text = await readFile(this.memfdSysctl, "utf8").catch(() => undefined);
    return text === undefined ? undefined : Number(text.trim());
  }

  private async raiseMemfd(state: BlockListState): Promise<void> {
    if (this.options.memfdNoexec === false) return;
    const current = await this.readMemfd();
    // Kernels before 6.3 have no such sysctl: the memfd bypass stays open there (docs/response.md).
    if (current === undefined || current >= 2) return;
    if (state.memfdNoexecSaved === undefined) {
      state.memfdNoexecSaved = current;
      await writeStateFile(this.options.stateFile, state);
    }
    await writeFile(this.memfdSysctl, "2\n");
  }

  private async restoreMemfd(state: BlockListState): Promise<void> {
    if (state.memfdNoexecSaved === undefined) return;
    await writeFile(this.memfdSysctl, `${state.memfdNoexecSaved}\n`).catch(() => undefined);
    delete state.memfdNoexecSaved;
    await writeStateFile(this.options.stateFile, state);
  }
}
