import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { RuleSource } from "@ring3/detection";
import type { Event } from "@ring3/schema";
import type { AgentConfig } from "../agent-config.ts";
import { AgentLink } from "./agent-link.ts";
import { DirLockedError } from "./dir-lock.ts";
import { defaultStateDir } from "./enrollment.ts";
import type { AgentAlertSpec } from "./wire-records.ts";

/** `ring3 agent` flags of the link, and the LinkFlags key each sets. */
export const LINK_FLAGS = {
  "--server": "server",
  "--enroll-token": "enrollToken",
  "--ca": "ca",
  "--state-dir": "stateDir",
} as const;

export type LinkFlags = { -readonly [K in keyof typeof LINK_FLAGS as (typeof LINK_FLAGS)[K]]?: string };

/**
 * The link of `ring3 agent`, when a server is configured (flag first, then the config file); undefined
 * otherwise. The token may also come from RING3_ENROLL_TOKEN, which keeps it out of the process list.
 */
export async function openAgentLink(
  flags: LinkFlags,
  config: AgentConfig,
  context: { cwd: string; contentVersion: string; serverDetects: boolean; log: (message: string) => void },
): Promise<AgentLink | undefined> {
  const server = flags.server ?? config.server;
  if (server === undefined) return undefined;
  const ca = flags.ca ?? config.ca;
  const stateDir = flags.stateDir ?? config.stateDir;
  const options = {
    stateDir: stateDir === undefined ? defaultStateDir() : resolve(context.cwd, stateDir),
    serverUrl: server,
    enrollToken: flags.enrollToken ?? config.enrollToken ?? process.env.RING3_ENROLL_TOKEN,
    caPem: ca === undefined ? undefined : await readFile(resolve(context.cwd, ca), "utf8"),
    spoolMaxBytes: config.spoolMaxBytes,
    contentVersion: context.contentVersion,
    serverDetects: context.serverDetects,
    log: context.log,
  };
  try {
    return AgentLink.open(options);
  } catch (error) {
    // Another agent on the same state directory is a mistake to stop at; anything else (a full or read-only
    // disk) leaves the agent running locally, saying why the server gets nothing.
    if (error instanceof DirLockedError) throw error;
    context.log(`link: off: cannot open the spool in ${options.stateDir}: ${(error as Error).message}`);
    return undefined;
  }
}

/** The rules the agent runs, as heartbeats report them: `<files>-<SHA-256 of paths and texts, 12 hex>`. */
export function contentVersion(sources: readonly RuleSource[]): string {
  if (sources.length === 0) return "none";
  // File names and texts, not directories: the same rules installed elsewhere are the same content.
  const entries = sources
    .map((s) => `${s.path.slice(s.path.lastIndexOf("/") + 1)}\0${s.text}\0`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const hash = createHash("sha256");
  for (const entry of entries) hash.update(entry);
  return `rules-${sources.length}-${hash.digest("hex").slice(0, 12)}`;
}

/**
 * The agent's own alerts (no rule behind them): a kernel module loaded after start is how a rootkit arrives
 * (ATT&CK T1547.006), a taint change says an unsigned or out-of-tree module went in, and a sensor losing
 * events is a blind spot an attacker may have caused.
 */
export function agentAlertSpec(event: Event): AgentAlertSpec {
  const text = (name: string): string => {
    const value = event.fields[name];
    return typeof value === "string" || typeof value === "number" ? String(value) : "?";
  };
  switch (event.fields.EventType) {
    case "KernelModuleLoadedAfterStart":
      return {
        title: `Kernel module loaded after the agent started: ${text("ModuleName")}`,
        level: "high",
        techniques: ["T1547.006"],
        tactics: ["persistence", "privilege-escalation"],
      };
    case "KernelTaintChanged":
      return {
        title: "Kernel taint flags changed",
        level: "high",
        techniques: ["T1014"],
        tactics: ["defense-evasion"],
      };
    case "SensorLoss":
      return {
        title: `Sensor ${text("Sensor")} lost events (${text("Counter")})`,
        level: "medium",
        techniques: ["T1562.001"],
        tactics: ["defense-evasion"],
      };
    default:
      return { title: `ring3 agent: ${text("EventType")}`, level: "medium" };
  }
}
