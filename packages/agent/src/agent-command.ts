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
import type { AgentLink } from "./link/agent-link.ts";
import type { LinkFlags } from "./link/link-setup.ts";
import { LINK_FLAGS, agentAlertSpec, contentVersion, openAgentLink } from "./link/link-setup.ts";
import { defaultStateDir } from "./link/enrollment.ts";
import { AgentResponse } from "./response/agent-response.ts";

/** Where the agent command writes. The CLI passes its own streams (the CLI depends on this package, not the reverse). */
export type AgentIo = {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly cwd: string;
};

export const AGENT_USAGE = `Usage: ring3 agent [--config <file>] [--stdout] [--rules <dir>]... [--no-default-rules]
                   [--server <url> [--enroll-token <token>] [--ca <pem file>]] [--state-dir <dir>]

Runs the Linux agent in the foreground until SIGTERM or SIGINT: process connector, audit, fanotify,
sock_diag and /proc sensors, a process tree, and local detection with Sigma rules (content/rules/linux when
present, plus every --rules). Status goes to stderr; with --stdout every event is a JSON line on stdout and
sensor counters a periodic {"health": …} line. Alerts (rule matches, and "health": true alerts when a
sensor lost events) are JSON lines with "alert": true on stdout either way.

With --server, events and alerts also go to an on-disk spool in the state directory (default /var/lib/ring3
as root, else ~/.local/state/ring3) and from there to the ring3 server. The first run enrolls with the token
(--enroll-token, or RING3_ENROLL_TOKEN in the environment) and pins the server's CA (--ca, the server data
dir's tls/ca.pem); later runs reuse the credential kept in the state directory.

Config file (YAML or JSON), every key optional; packages/agent/ring3-agent.example.yaml documents each one:
  connector: true        audit: true         auditBacklogLimit: 8192
  fanotify: true         fileInclude: [/]    fileExclude: [/var/log/journal]
  sockDiag: true         sockDiagIntervalMs: 60000                   healthIntervalMs: 10000
  watchedPaths: [/etc/passwd, …]             rules: [dir, …]         emitInventory: true
  kernelInventoryIntervalMs: 60000                                    spoolMaxBytes: 268435456
  server: <url>          enrollToken: <token>                        ca: <pem file>   stateDir: <dir>
  automaticResponse: false                  hostGroups: [group, …]  isolationAllow: [host:port, …]
`;

type ParsedArgs = {
  readonly config?: string;
  readonly stdout: boolean;
  readonly rules: string[];
  readonly defaultRules: boolean;
  readonly link: LinkFlags;
};

function parseArgs(args: readonly string[]): ParsedArgs | string {
  const out: { config?: string; stdout: boolean; rules: string[]; defaultRules: boolean; link: LinkFlags } = {
    stdout: false,
    rules: [],
    defaultRules: true,
    link: {},
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
    } else if (Object.hasOwn(LINK_FLAGS, arg)) {
      const v = value();
      if (v === undefined) return `${arg} needs a value`;
      out.link[LINK_FLAGS[arg as keyof typeof LINK_FLAGS]] = v;
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
): Promise<{ detector: Detector | undefined; sources: readonly RuleSource[] }> {
  if (dirs.length === 0) {
    const why = defaults ? `${defaultRulesDir()} is absent` : "--no-default-rules";
    stderr.write(`ring3 agent: detection: off, no rules (${why} and no --rules given)\n`);
    return { detector: undefined, sources: [] };
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
  return { detector, sources };
}

/**
 * JSON lines for stdout, written once per event-loop turn: a sensor batch of a few hundred events becomes one
 * write(2) instead of one each (at 5,000 file events/s the per-line writes cost the agent more CPU than
 * reading and normalising the events). Order is kept; the buffer is flushed before the next I/O is polled,
 * so a line reaches the reader within the turn that produced it, and at once when it holds LINE_BUFFER_CHARS.
 */
// Below V8's large-object threshold (128 KiB): a larger joined string would sit in large-object space until
// the next full collection, and at storm rates those add up to tens of MB of RSS.
const LINE_BUFFER_CHARS = 32 * 1024;

class LineWriter {
  private readonly stream: Writable;
  private lines: string[] = [];
  private chars = 0;
  private scheduled = false;

  constructor(stream: Writable) {
    this.stream = stream;
  }

  write(line: string): void {
    this.lines.push(line);
    this.chars += line.length + 1;
    if (this.chars >= LINE_BUFFER_CHARS) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  flush(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.join("\n") + "\n";
    this.lines = [];
    this.chars = 0;
    this.stream.write(text);
  }
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
  // Before anything that can report: a blocked exec can be denied as soon as the block list is re-applied.
  const out = new LineWriter(io.stdout);
  let detector: Detector | undefined;
  let link: AgentLink | undefined;
  let response: AgentResponse | undefined;
  try {
    const rules = await loadDetector(dirs, io.stderr, parsed.defaultRules);
    detector = rules.detector;
    link = await openAgentLink(parsed.link, config, {
      cwd: io.cwd,
      contentVersion: contentVersion(rules.sources),
      serverDetects: detector === undefined,
      log: (message) => io.stderr.write(`ring3 agent: ${message}\n`),
    });
    const stateDir = parsed.link.stateDir ?? config.stateDir;
    const serverEndpoint = link?.serverEndpoint();
    response = await AgentResponse.start({
      stateDir: stateDir === undefined ? defaultStateDir() : resolve(io.cwd, stateDir),
      automaticResponse: config.automaticResponse,
      hostGroups: config.hostGroups,
      // An isolated host still answers to its server, or it could never be released from the console.
      isolationAllow: [...config.isolationAllow, ...(serverEndpoint === undefined ? [] : [serverEndpoint])],
      sources: rules.sources,
      log: (message) => io.stderr.write(`ring3 agent: ${message}\n`),
      onExecDenied: (denial) =>
        out.write(JSON.stringify({ alert: true, execBlocked: true, time: new Date().toISOString(), ...denial })),
    });
    link?.attachExecutor(response.executor);
  } catch (error) {
    io.stderr.write(`ring3 agent: cannot start: ${(error as Error).message}\n`);
    return 3;
  }

  let agent: LinuxAgent | undefined = undefined;
  const onEvent = (event: Event): void => {
    link?.event(event);
    if (parsed.stdout) out.write(JSON.stringify(event));
    if (event.fields.EventType === "SensorLoss" && event.logsource.service === "ring3") {
      link?.agentAlert(event, agentAlertSpec(event));
      out.write(JSON.stringify({ alert: true, health: true, time: event.time, event }));
      return;
    }
    if (
      event.logsource.service === INVENTORY_SERVICE &&
      typeof event.fields.EventType === "string" &&
      INVENTORY_ALERT_TYPES.has(event.fields.EventType)
    ) {
      link?.agentAlert(event, agentAlertSpec(event));
      out.write(JSON.stringify({ alert: true, inventory: true, time: event.time, event }));
    }
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
      link?.ruleAlert(match, ancestry);
      response?.onRuleAlert(match.ruleId, event);
      out.write(
        JSON.stringify({
          alert: true,
          time: event.time,
          // When the engine matched: `time` is the event's own (from the kernel's record), so the difference is
          // the agent's detection latency, whatever a slow reader of this output adds afterwards.
          detectedAt: new Date().toISOString(),
          rule: { id: match.ruleId, title: match.title, level: match.level, tags: match.tags },
          event,
          ancestry,
        }),
      );
    }
  };
  agent = new LinuxAgent({
    ...config,
    onEvent,
    onStatus: (sensor, status) => {
      link?.sensorStatus(sensor, status);
      io.stderr.write(`ring3 agent: ${sensor}: ${describe(status)}\n`);
    },
    ...(parsed.stdout ? { onHealth: (health) => out.write(JSON.stringify({ health })) } : {}),
  });

  // Under `ring3 up` stdout and stderr are pipes to the parent: once it is gone (even by SIGKILL) every write
  // fails with EPIPE, and an unhandled stream error would end the agent before it restores the host's audit
  // rules and settings. A broken output is therefore ignored; the agent stops as on SIGTERM.
  const ignoreBrokenPipe = (error: NodeJS.ErrnoException): void => {
    if (error.code !== "EPIPE") throw error;
  };
  io.stdout.on("error", ignoreBrokenPipe);
  io.stderr.on("error", ignoreBrokenPipe);
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolveStop) => (onSignal = resolveStop));
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  // Started by `ring3 up` with an IPC channel: when that parent dies, even by SIGKILL, the agent stops too.
  const onParentGone = (): void => onSignal("SIGHUP");
  process.once("disconnect", onParentGone);
  try {
    try {
      await agent.start();
    } catch (error) {
      io.stderr.write(`ring3 agent: start failed: ${(error as Error).message}\n`);
      await agent.stop();
      await link?.stop(0);
      await response?.stop();
      return 1;
    }
    io.stderr.write(`ring3 agent: running (pid ${process.pid}); SIGTERM or SIGINT stops\n`);
    const signal = await stopped;
    io.stderr.write(`ring3 agent: ${signal}: stopping\n`);
    await agent.stop();
    // After the sensors, so their last events are spooled; the link then ships what it can and closes the spool.
    await link?.stop();
    // Last: blocks lift only once the sensors have stopped reporting what happens.
    await response?.stop();
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    process.off("disconnect", onParentGone);
  }
  out.flush();
  io.stdout.off("error", ignoreBrokenPipe);
  io.stderr.off("error", ignoreBrokenPipe);
  const stats = agent.stats();
  io.stderr.write(`ring3 agent: stopped after ${stats.events} events\n`);
  return 0;
}
