import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { lookup } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import type { AllowedEndpoint, IsolationPlan } from "./isolation-ruleset.ts";
import {
  ISOLATION_FAMILY,
  ISOLATION_TABLE,
  buildIsolationRuleset,
  dnsFromResolvConf,
  parseEndpoint,
  sessionKillArgs,
} from "./isolation-ruleset.ts";
import { ResponseError } from "./response-error.ts";
import { runTool } from "./run-tool.ts";
import { readStateFile, removeStateFile, writeStateFile } from "./state-file.ts";

export type IsolateHostOptions = {
  /** `<stateDir>/isolation.json`: what is applied, so an agent restart (or a reboot) applies it again. */
  readonly stateFile: string;
  /** Endpoints always kept open (the agent's own server): an isolation can never cut the management link. */
  readonly managementEndpoints?: readonly string[];
  readonly nft?: string;
  readonly ss?: string;
  readonly resolvConf?: string;
  /** Host name → addresses (tests pass a fixed table; default: the system resolver). */
  readonly resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
};

/** `<stateDir>/isolation.json`. The break-glass token itself is never stored, only its SHA-256. */
export type IsolationState = {
  isolatedAt: string;
  allow: string[];
  plan: IsolationPlan;
  tokenSha256: string;
};

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

function isState(value: unknown): value is IsolationState {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Partial<IsolationState>;
  return typeof s.tokenSha256 === "string" && typeof s.plan === "object" && Array.isArray(s.allow);
}

/**
 * Network isolation with an nftables table of ring3's own (`inet ring3_isolation`): everything dropped but
 * loopback, the management endpoints and (when asked) DNS and DHCP; established sessions destroyed. Other
 * tables are never read, changed or flushed. Release deletes the table — on a command from the server, or
 * locally with the break-glass token printed when the host was isolated.
 */
export class IsolateHostAction {
  private readonly options: IsolateHostOptions;

  constructor(options: IsolateHostOptions) {
    this.options = options;
  }

  private get nft(): string {
    return this.options.nft ?? "nft";
  }

  async isolate(
    request: { allow: readonly string[]; dns?: boolean | undefined; dhcp?: boolean | undefined },
    ctx: ActionContext,
  ): Promise<ActionOutcome> {
    const allow = [...new Set([...(this.options.managementEndpoints ?? []), ...request.allow])];
    if (allow.length === 0) {
      throw new ResponseError(
        "R3_ERR_RESPONSE_BAD_ENDPOINT",
        "refused: no management endpoint to keep open (--allow host:port); isolation would cut the host off entirely",
      );
    }
    const endpoints = await this.resolveEndpoints(allow);
    const dns =
      request.dns === true
        ? dnsFromResolvConf(await readFile(this.options.resolvConf ?? "/etc/resolv.conf", "utf8").catch(() => ""))
        : undefined;
    const plan: IsolationPlan = { endpoints, dns, dhcp: request.dhcp === true };
    const ruleset = buildIsolationRuleset(plan);
    if (ctx.dryRun)
      return { message: `would isolate the host, keeping ${allow.join(", ")}`, details: { allow, plan, ruleset } };
    const token = randomBytes(18).toString("base64url");
    const previous = await this.state();
    // State first: a table on the host without its state (and token) on disk would be a release nobody can
    // authorise. If nft then refuses, the previous state (or none) is put back.
    await writeStateFile(this.options.stateFile, {
      isolatedAt: new Date().toISOString(),
      allow,
      plan,
      tokenSha256: sha256(token),
    } satisfies IsolationState);
    try {
      await this.apply(ruleset);
    } catch (error) {
      if (previous === undefined) await removeStateFile(this.options.stateFile);
      else await writeStateFile(this.options.stateFile, previous);
      throw error;
    }
    const replaced = previous !== undefined;
    const cut = await this.cutSessions(plan);
    return {
      message: `isolated: only ${allow.join(", ")}${plan.dns === undefined ? "" : ", DNS"}${plan.dhcp ? ", DHCP" : ""} and loopback remain reachable; ${cut.count} session(s) cut. Break-glass release token: ${token}`,
      details: {
        allow,
        endpoints,
        dns: plan.dns ?? false,
        dhcp: plan.dhcp,
        table: `${ISOLATION_FAMILY} ${ISOLATION_TABLE}`,
        sessionsCut: cut.count,
        ...(cut.error === undefined ? {} : { sessionsCutError: cut.error }),
        breakGlassToken: token,
        replaced,
      },
    };
  }

  async release(request: { token?: string | undefined }, ctx: ActionContext): Promise<ActionOutcome> {
    const state = await this.state();
    const present = await this.tablePresent();
    if (state === undefined && !present)
      throw new ResponseError("R3_ERR_RESPONSE_NOT_ISOLATED", "the host is not isolated");
    // The server's command channel is authenticated; on the endpoint, the token is what proves the operator
    // was given the release (it was printed once, at isolation, and only its hash is on disk).
    if (ctx.origin !== "server" && state !== undefined) {
      const given = request.token === undefined ? undefined : Buffer.from(sha256(request.token), "hex");
      const expected = Buffer.from(state.tokenSha256, "hex");
      if (given === undefined || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new ResponseError(
          "R3_ERR_RESPONSE_TOKEN_INVALID",
          request.token === undefined
            ? "a local release needs the break-glass token shown at isolation (--token)"
            : "wrong break-glass token",
        );
      }
    }
    if (ctx.dryRun) return { message: "would release the isolation", details: { isolatedAt: state?.isolatedAt } };
    if (present) {
      const result = await runTool(this.nft, ["delete", "table", ISOLATION_FAMILY, ISOLATION_TABLE]);
      if (result.code !== 0 && (await this.tablePresent()))
        throw new ResponseError("R3_ERR_RESPONSE_FAILED", `nft delete table failed: ${result.stderr.trim()}`);
    }
    await removeStateFile(this.options.stateFile);
    return {
      message: "released: the isolation table is gone, the network is as it was",
      details: { isolatedAt: state?.isolatedAt ?? null, allow: state?.allow ?? [] },
    };
  }

  /** At agent start: an isolation on record is applied again (after a reboot, or a table someone deleted). */
  async reapply(): Promise<string | undefined> {
    const state = await this.state();
    if (state === undefined) return undefined;
    await this.apply(buildIsolationRuleset(state.plan));
    return `isolation since ${state.isolatedAt} re-applied (kept open: ${state.allow.join(", ")})`;
  }

  async status(): Promise<{ isolated: boolean; since?: string; allow?: string[]; tablePresent: boolean }> {
    const state = await this.state();
    const tablePresent = await this.tablePresent();
    return state === undefined
      ? { isolated: tablePresent, tablePresent }
      : { isolated: true, since: state.isolatedAt, allow: state.allow, tablePresent };
  }

  private async state(): Promise<IsolationState | undefined> {
    const value = await readStateFile(this.options.stateFile);
    if (value === undefined) return undefined;
    if (!isState(value))
      throw new Error(`${this.options.stateFile} is not an isolation state; move it away to reset it`);
    return value;
  }

  private async apply(ruleset: string): Promise<void> {
    const result = await runTool(this.nft, ["-f", "-"], ruleset);
    if (result.code === null)
      throw new ResponseError("R3_ERR_RESPONSE_UNAVAILABLE", `cannot run ${this.nft}: ${result.stderr.trim()}`);
    if (result.code !== 0)
      throw new ResponseError("R3_ERR_RESPONSE_FAILED", `nft refused the ruleset: ${result.stderr.trim()}`);
  }

  private async tablePresent(): Promise<boolean> {
    const result = await runTool(this.nft, ["list", "table", ISOLATION_FAMILY, ISOLATION_TABLE]);
    return result.code === 0;
  }

  private async resolveEndpoints(allow: readonly string[]): Promise<AllowedEndpoint[]> {
    const out: AllowedEndpoint[] = [];
    for (const text of allow) {
      const spec = parseEndpoint(text);
      if (typeof spec === "string") throw new ResponseError("R3_ERR_RESPONSE_BAD_ENDPOINT", spec);
      const family = isIP(spec.host);
      if (family === 4 || family === 6) {
        out.push({ address: spec.host, family, port: spec.port });
        continue;
      }
      const resolve = this.options.resolve ?? ((host: string) => lookup(host, { all: true }));
      const addresses = await resolve(spec.host).catch(() => []);
      if (addresses.length === 0)
        throw new ResponseError("R3_ERR_RESPONSE_BAD_ENDPOINT", `'${text}': ${spec.host} does not resolve`);
      for (const a of addresses)
        if (a.family === 4 || a.family === 6) out.push({ address: a.address, family: a.family, port: spec.port });
    }
    return out;
  }

  private async cutSessions(plan: IsolationPlan): Promise<{ count: number; error?: string }> {
    const result = await runTool(this.options.ss ?? "ss", sessionKillArgs(plan));
    if (result.code !== 0) return { count: 0, error: result.stderr.trim() || `ss exited with ${result.code}` };
    return { count: result.stdout.split("\n").filter((line) => line.trim() !== "").length };
  }
}
