import { existsSync } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Writable } from "node:stream";
import type { Detector, RuleSource } from "@ring3/detection";
import { createDetector, loadRules } from "@ring3/detection";
import type { Event } from "@ring3/schema";
import { LinuxAgent } from "./agent.ts";
import type { AgentConfig } from "./agent-config.ts";
import { AGENT_CONFIG_DEFAULTS, readConfig } from "./agent-config.ts";
import type { SensorStatus } from "./sensor.ts";
import { INVENTORY_ALERT_TYPES, INVENTORY_SERVICE } from "./sensors/kernel-inventory/source.ts";

/** Where the agent command writes. The CLI passes its own streams (the CLI depends on this package, not the reverse). */
export type AgentIo = {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly cwd: string;
};

export const AGENT_USAGE = `Usage: ring3 agent [--config <file>] [--stdout] [--rules <dir>]... [--no-default-rules]

Runs the Linux agent in the foreground until SIGTERM or SIGINT: process connector, audit, fanotify,
sock_diag and /proc sensors, a process tree, and local detection with Sigma rules (content/rules/linux when
present, plus every --rules). Status goes to stderr; with --stdout every event is a JSON line on stdout and
sensor counters a periodic {"health": …} line. Alerts (rule matches, and "health": true alerts when a
sensor lost events) are JSON lines with "alert": true on stdout either way.

Config file (YAML or JSON), every key optional; packages/agent/ring3-agent.example.yaml documents each one:
  connector: true        audit: true         auditBacklogLimit: 8192
  fanotify: true         fileInclude: [/]    fileExclude: [/var/log/journal]
  sockDiag: true         sockDiagIntervalMs: 30000                   healthIntervalMs: 10000
  watchedPaths: [/etc/passwd, …]             rules: [dir, …]         emitInventory: true
  kernelInventoryIntervalMs: 60000
`;

type ParsedArgs = {
  readonly config?: string;
  readonly stdout: boolean;
  readonly rules: string[];
  readonly defaultRules: boolean;
};

function parseArgs(args: readonly string[]): ParsedArgs | string {
  const out: { config?: string; stdout: boolean; rules: string[]; defaultRules: boolean } = {
    stdout: false,
    rules: [],
    defaultRules: true,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string | undefined => args[++i];
    if (arg === "--stdout") out.stdout = true;
    else if (arg === "--no-default-rules") out.defaultRules = false;
    else if (arg === "--config" || arg === "--rules") {
      const v = value();
      if (v === undefined) return `${arg} needs a value`;
      if (arg === "--config") out.config = v;
      else out.rules.push(v);
    } else return `unknown option '${arg}'`;
  }
  return out;
}

async function ruleFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const out: string[] = [];
  for (const name of (await readdir(path)).sort()) {
    if (name.startsWith(".")) continue;
    const child = join(path, name);
    if ((await stat(child)).isDirectory()) out.push(...(await ruleFiles(child)));
    else if (/\.ya?ml$/i.test(name)) out.push(child);
  }
  return out;
}

/** ring3's shipped Linux rules, looked up from the repository root this package lives in. */
function defaultRulesDir(): string {
  return resolve(import.meta.dirname, "..", "..", "..", "content", "rules", "linux");
}

async function loadDetector(
  dirs: readonly string[],
  stderr: Writable,
  defaults: boolean,
): Promise<Detector | undefined> {
  if (dirs.length === 0) {
    const why = defaults ? `${defaultRulesDir()} is absent` : "--no-default-rules";
    stderr.write(`ring3 agent: detection: off, no rules (${why} and no --rules given)\n`);
    return undefined;
  }
  const sources: RuleSource[] = [];
  for (const dir of dirs)
    for (const path of await ruleFiles(dir)) sources.push({ path, text: await readFile(path, "utf8") });
  const loaded = loadRules(sources);
  const errors = loaded.diagnostics.filter((d) => d.severity === "error").length;
  const { detector } = createDetector(loaded);
  stderr.write(
    `ring3 agent: detection: ${loaded.stats.compiled} rules from ${sources.length} files (${dirs.join(", ")})${errors > 0 ? `, ${errors} errors` : ""}\n`,
  );
  return detector;
}

function describe(status: SensorStatus): string {
  if (status.state === "degraded") return `degraded: ${status.reason}`;
  return status.detail === undefined ? status.state : `${status.state}: ${status.detail}`;
}

/** `ring3 agent …`: runs until SIGTERM/SIGINT and returns the exit code. */
export async function runAgentCommand(args: readonly string[], io: AgentIo): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === "string") {
    io.stderr.write(`ring3 agent: ${parsed}\n\n${AGENT_USAGE}`);
    return 2;
  }
  let config: AgentConfig = AGENT_CONFIG_DEFAULTS;
  if (parsed.config !== undefined) {
    try {
      config = { ...AGENT_CONFIG_DEFAULTS, ...(await readConfig(resolve(io.cwd, parsed.config))) };
    } catch (error) {
      io.stderr.write(`ring3 agent: cannot read the config: ${(error as Error).message}\n`);
      return 3;
    }
  }
  const dirs = [
    ...(parsed.defaultRules && existsSync(defaultRulesDir()) ? [defaultRulesDir()] : []),
    ...config.rules,
    ...parsed.rules,
  ].map((d) => resolve(io.cwd, d));
  let detector: Detector | undefined;
  try {
    detector = await loadDetector(dirs, io.stderr, parsed.defaultRules);
  } catch (error) {
    io.stderr.write(`ring3 agent: cannot read the rules: ${(error as Error).message}\n`);
    return 3;
  }

  let agent: LinuxAgent | undefined = undefined;
  const onEvent = (event: Event): void => {
    if (parsed.stdout) io.stdout.write(JSON.stringify(event) + "\n");
    if (event.fields.EventType === "SensorLoss" && event.logsource.service === "ring3") {
      io.stdout.write(JSON.stringify({ alert: true, health: true, time: event.time, event }) + "\n");
      return;
    }
    if (
      event.logsource.service === INVENTORY_SERVICE &&
      typeof event.fields.EventType === "string" &&
      INVENTORY_ALERT_TYPES.has(event.fields.EventType)
    )
      io.stdout.write(JSON.stringify({ alert: true, inventory: true, time: event.time, event }) + "\n");
    if (detector === undefined || agent === undefined) return;
    for (const alert of detector.detect(event).alerts) {
      if (alert.kind !== "rule") continue;
      const match = alert.match;
      const pid = Number(event.fields.ProcessId ?? event.fields.pid);
      const ancestry = Number.isFinite(pid)
        ? agent.tree
            .ancestry(pid)
            .map((p) => ({ pid: p.pid, image: p.image ?? null, commandLine: p.commandLine ?? null }))
        : [];
      io.stdout.write(
        JSON.stringify({
          alert: true,
          time: event.time,
          rule: { id: match.ruleId, title: match.title, level: match.level, tags: match.tags },
          event,
          ancestry,
        }) + "\n",
      );
    }
  };
  agent = new LinuxAgent({
    ...config,
    onEvent,
    onStatus: (sensor, status) => io.stderr.write(`ring3 agent: ${sensor}: ${describe(status)}\n`),
    ...(parsed.stdout ? { onHealth: (health) => io.stdout.write(JSON.stringify({ health }) + "\n") } : {}),
  });

  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolveStop) => (onSignal = resolveStop));
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    try {
      await agent.start();
    } catch (error) {
      io.stderr.write(`ring3 agent: start failed: ${(error as Error).message}\n`);
      await agent.stop();
      return 1;
    }
    io.stderr.write(`ring3 agent: running (pid ${process.pid}); SIGTERM or SIGINT stops\n`);
    const signal = await stopped;
    io.stderr.write(`ring3 agent: ${signal}: stopping\n`);
    await agent.stop();
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
  const stats = agent.stats();
  io.stderr.write(`ring3 agent: stopped after ${stats.events} events\n`);
  return 0;
}
