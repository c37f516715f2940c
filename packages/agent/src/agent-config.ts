import { readFile } from "node:fs/promises";
import { load } from "js-yaml";
import type { LinuxAgentOptions } from "./agent.ts";
import { DEFAULT_WATCHED_PATHS } from "./sensors/audit/rules.ts";

/** What `ring3 agent --config` may set: the sensor switches and intervals, plus extra rule directories. */
export type AgentConfig = Required<
  Pick<
    LinuxAgentOptions,
    | "connector"
    | "audit"
    | "auditBacklogLimit"
    | "watchedPaths"
    | "emitInventory"
    | "fanotify"
    | "fileInclude"
    | "fileExclude"
    | "sockDiag"
    | "sockDiagIntervalMs"
    | "healthIntervalMs"
    | "kernelInventoryIntervalMs"
  >
> & {
  readonly rules: readonly string[];
  /** The management server (`https://host:8443`); absent: the agent runs alone. */
  readonly server?: string;
  /** Enrollment token, used once: the credential it buys is kept in `stateDir`. */
  readonly enrollToken?: string;
  /** PEM file of the server's CA, pinned at enrollment. */
  readonly ca?: string;
  /** Credential, pinned CA and spool (default /var/lib/ring3 as root, else ~/.local/state/ring3). */
  readonly stateDir?: string;
  /** Upper bound of the on-disk spool of events waiting for the server. */
  readonly spoolMaxBytes: number;
  /** Rules' `ring3_response` playbooks run on their alerts; off until an admin turns it on. */
  readonly automaticResponse: boolean;
  /** Groups this host belongs to: a playbook step with `host_groups` runs only on hosts in one of them. */
  readonly hostGroups: readonly string[];
  /** host:port endpoints every isolation keeps open (the management server, a jump host). */
  readonly isolationAllow: readonly string[];
};

/**
 * Every default `ring3 agent` runs with. ring3-agent.example.yaml lists the same values (a test compares
 * them), so the documented config cannot drift from the code.
 */
export const AGENT_CONFIG_DEFAULTS: AgentConfig = {
  connector: true,
  audit: true,
  auditBacklogLimit: 8192,
  watchedPaths: DEFAULT_WATCHED_PATHS,
  emitInventory: true,
  fanotify: true,
  fileInclude: ["/"],
  // journald rewrites its files continuously; their events would drown everything else.
  fileExclude: ["/var/log/journal"],
  sockDiag: true,
  // Listeners and the connections of processes audit does not see; audit and destroy notifications are live.
  sockDiagIntervalMs: 60_000,
  healthIntervalMs: 10_000,
  kernelInventoryIntervalMs: 60_000,
  rules: [],
  spoolMaxBytes: 256 * 1024 * 1024,
  automaticResponse: false,
  hostGroups: [],
  isolationAllow: [],
};

const CONFIG_KEYS = {
  connector: "boolean",
  audit: "boolean",
  emitInventory: "boolean",
  auditBacklogLimit: "number",
  fanotify: "boolean",
  sockDiag: "boolean",
  sockDiagIntervalMs: "number",
  healthIntervalMs: "number",
  kernelInventoryIntervalMs: "number",
  fileInclude: "string[]",
  fileExclude: "string[]",
  watchedPaths: "string[]",
  rules: "string[]",
  server: "string",
  enrollToken: "string",
  ca: "string",
  stateDir: "string",
  spoolMaxBytes: "number",
  automaticResponse: "boolean",
  hostGroups: "string[]",
  isolationAllow: "string[]",
} as const satisfies Record<keyof AgentConfig, string>;

/** A config file's text, checked key by key: a typo must not silently turn a sensor back on. */
export function parseConfig(text: string, path: string): Partial<AgentConfig> {
  const data: unknown = load(text);
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) throw new Error(`${path}: the config must be a mapping`);
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (!Object.hasOwn(CONFIG_KEYS, key)) throw new Error(`${path}: unknown key '${key}'`);
    const kind = CONFIG_KEYS[key as keyof typeof CONFIG_KEYS];
    const ok =
      kind === "string[]"
        ? Array.isArray(value) && value.every((v) => typeof v === "string")
        : typeof value === kind && (kind !== "number" || (Number.isInteger(value) && (value as number) > 0));
    if (!ok) throw new Error(`${path}: '${key}' must be ${kind === "number" ? "a positive integer" : `a ${kind}`}`);
    config[key] = value;
  }
  return config;
}

export async function readConfig(path: string): Promise<Partial<AgentConfig>> {
  return parseConfig(await readFile(path, "utf8"), path);
}
