import { join, resolve } from "node:path";
import type { Writable } from "node:stream";
import {
  CONTROL_SOCKET_NAME,
  DEFAULT_TIMEOUTS_MS,
  ResponseExecutor,
  defaultStateDir,
  requestViaSocket,
} from "@ring3/agent";
import type { ActionResult, ResponseRequest } from "@ring3/agent";
import type { CliCommand, CliIo } from "../cli-io.ts";
import { ExitCode } from "../cli-io.ts";

export const RESPOND_USAGE = `Usage: ring3 respond <action> [arguments] [--json] [--dry-run] [--state-dir <dir>]

Response actions on this endpoint, for operators and break-glass. When the agent runs, the request goes to it
(<state dir>/${CONTROL_SOCKET_NAME}); otherwise ring3 respond acts by itself. Either way the action is recorded
in the action log (<state dir>/actions.jsonl).

  kill <pid> [--tree] [--force] [--start-time <ticks>]   SIGTERM, then SIGKILL after a grace period
  suspend <pid> [--tree] [--force]                       freeze (cgroup v2 freezer, else SIGSTOP)
  resume <pid> [--tree]                                  undo a suspend
  quarantine <path> [--force]                            move the file into the quarantine store; prints its id
  restore <id>                                           put a quarantined file back exactly as it was
  isolate --allow <host:port>... [--dns] [--dhcp]        cut the network but these; prints a break-glass token
  release [--token <token>]                              end the isolation (locally, with the token)
  block <sha256>                                         executions of that file fail with EPERM
  unblock <sha256>
  list                                                   quarantined files, suspensions, isolation, blocks

Options:
  --json              print the result as JSON (an ActionResult)
  --dry-run           report what would be done, change nothing
  --force             quarantine a system-critical path / act on a process on the critical list
  --tree              the process and all its descendants
  --state-dir <dir>   the agent's state directory (default ${defaultStateDir()})

Exit status: 0 done, 1 refused or failed (the result says why, with an R3_ERR_RESPONSE_* code), 2 bad usage.
`;

type Parsed = {
  request: ResponseRequest;
  json: boolean;
  stateDir: string | undefined;
};

const PROCESS_ACTIONS = new Set(["kill", "suspend", "resume"]);
const FLAGS_WITH_VALUE = new Set(["--allow", "--token", "--start-time", "--state-dir"]);
const SWITCHES = new Set(["--json", "--dry-run", "--force", "--tree", "--dns", "--dhcp"]);

/** Which switches and valued flags each action takes; anything else is a usage error. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  kill: ["--tree", "--force", "--start-time"],
  suspend: ["--tree", "--force", "--start-time"],
  resume: ["--tree", "--start-time"],
  quarantine: ["--force"],
  restore: [],
  isolate: ["--allow", "--dns", "--dhcp"],
  release: ["--token"],
  block: [],
  unblock: [],
  list: [],
};

function parse(args: readonly string[], cwd: string): Parsed | string {
  const [action, ...rest] = args;
  if (action === undefined) return "an action is needed";
  const allowed = ALLOWED[action];
  if (allowed === undefined) return `unknown action '${action}'`;
  const positional: string[] = [];
  const switches = new Set<string>();
  const values = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (FLAGS_WITH_VALUE.has(arg)) {
      const value = rest[++i];
      if (value === undefined) return `${arg} needs a value`;
      values.set(arg, [...(values.get(arg) ?? []), value]);
    } else if (SWITCHES.has(arg)) switches.add(arg);
    else if (arg.startsWith("--")) return `unknown option '${arg}'`;
    else positional.push(arg);
  }
  for (const flag of [...switches, ...values.keys()])
    if (!["--json", "--dry-run", "--state-dir"].includes(flag) && !allowed.includes(flag))
      return `${action} does not take ${flag}`;
  const one = (): string | undefined => (positional.length === 1 ? positional[0] : undefined);
  const dryRun = switches.has("--dry-run") ? { dryRun: true } : {};
  let request: ResponseRequest;
  if (PROCESS_ACTIONS.has(action)) {
    const pid = one();
    if (pid === undefined || !/^\d{1,7}$/.test(pid)) return `${action} needs one pid`;
    const start = values.get("--start-time")?.[0];
    if (start !== undefined && !/^\d{1,15}$/.test(start)) return "--start-time takes clock ticks (a whole number)";
    request = {
      action: action as "kill" | "suspend" | "resume",
      pid: Number(pid),
      ...(switches.has("--tree") ? { tree: true } : {}),
      ...(switches.has("--force") ? { force: true } : {}),
      ...(start === undefined ? {} : { startTime: Number(start) }),
      ...dryRun,
    };
  } else if (action === "quarantine") {
    const path = one();
    if (path === undefined) return "quarantine needs one path";
    request = { action, path: resolve(cwd, path), ...(switches.has("--force") ? { force: true } : {}), ...dryRun };
  } else if (action === "restore") {
    const id = one();
    if (id === undefined) return "restore needs one quarantine id";
    request = { action, id, ...dryRun };
  } else if (action === "isolate") {
    if (positional.length > 0) return "isolate takes no arguments but --allow <host:port>";
    const allow = values.get("--allow") ?? [];
    if (allow.length === 0) return "isolate needs at least one --allow <host:port> (the management endpoint to keep)";
    request = {
      action,
      allow,
      ...(switches.has("--dns") ? { dns: true } : {}),
      ...(switches.has("--dhcp") ? { dhcp: true } : {}),
      ...dryRun,
    };
  } else if (action === "release") {
    if (positional.length > 0) return "release takes no arguments but --token <token>";
    const token = values.get("--token")?.[0];
    request = { action, ...(token === undefined ? {} : { token }), ...dryRun };
  } else if (action === "block" || action === "unblock") {
    const sha256 = one();
    if (sha256 === undefined || !/^[0-9a-fA-F]{64}$/.test(sha256)) return `${action} needs one SHA-256 (64 hex digits)`;
    request = { action, sha256: sha256.toLowerCase(), ...dryRun };
  } else {
    if (positional.length > 0 || switches.has("--dry-run")) return "list takes no arguments";
    request = { action: "list" };
  }
  const stateDir = values.get("--state-dir")?.[0];
  return {
    request,
    json: switches.has("--json"),
    stateDir: stateDir === undefined ? undefined : resolve(cwd, stateDir),
  };
}

function scalar(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== "object" || v === null))
    return value.length === 0 ? "-" : value.join(", ");
  return JSON.stringify(value);
}

function printList(details: Record<string, unknown>, out: Writable): void {
  const isolation = details.isolation as { isolated: boolean; since?: string; allow?: string[] };
  out.write(
    `  isolation: ${isolation.isolated ? `isolated since ${isolation.since ?? "?"} (kept open: ${scalar(isolation.allow)})` : "not isolated"}\n`,
  );
  const quarantined = details.quarantined as { id: string; path: string; sha256: string; quarantinedAt: string }[];
  out.write(`  quarantined: ${quarantined.length}\n`);
  for (const q of quarantined) out.write(`    ${q.id}  ${q.path}  sha256 ${q.sha256}  since ${q.quarantinedAt}\n`);
  const suspended = details.suspended as {
    pid: number;
    comm: string;
    members: unknown[];
    method: string;
    suspendedAt: string;
  }[];
  out.write(`  suspended: ${suspended.length}\n`);
  for (const s of suspended)
    out.write(`    pid ${s.pid} (${s.comm}), ${s.members.length} process(es), ${s.method}, since ${s.suspendedAt}\n`);
  const blocked = details.blocked as { hashes: { sha256: string; addedAt: string }[]; enforced: boolean };
  out.write(
    `  blocked: ${blocked.hashes.length}${blocked.hashes.length > 0 ? (blocked.enforced ? " (enforced)" : " (recorded; enforced while the agent runs)") : ""}\n`,
  );
  for (const h of blocked.hashes) out.write(`    ${h.sha256}  since ${h.addedAt}\n`);
  const recent = details.recent as { time: string; origin: string; action: string; ok: boolean; message: string }[];
  out.write(`  recent actions: ${recent.length}\n`);
  for (const r of recent)
    out.write(`    ${r.time}  ${r.origin}  ${r.action}  ${r.ok ? "ok" : "failed"}  ${r.message}\n`);
}

function print(result: ActionResult, io: CliIo): void {
  const out = io.stdout;
  out.write(
    `ring3 respond ${result.action}: ${result.ok ? "ok" : (result.code ?? "failed")}${result.dryRun === true ? " (dry run)" : ""}\n`,
  );
  out.write(`  ${result.message}\n`);
  const details = result.details ?? {};
  if (result.action === "list" && result.ok) printList(details, out);
  else
    for (const [key, value] of Object.entries(details)) {
      // A multi-line value (the isolation ruleset of a dry run) is printed as an indented block.
      if (typeof value === "string" && value.includes("\n"))
        out.write(`  ${key}:\n${value.trimEnd().replace(/^/gm, "    ")}\n`);
      else out.write(`  ${key}: ${scalar(value)}\n`);
    }
}

/** `ring3 respond …`: one action, through the running agent when there is one. */
export async function runRespond(args: readonly string[], io: CliIo): Promise<number> {
  if (args[0] === "--help" || args[0] === "-h") {
    io.stdout.write(RESPOND_USAGE);
    return ExitCode.ok;
  }
  const parsed = parse(args, io.cwd);
  if (typeof parsed === "string") {
    io.stderr.write(`ring3 respond: ${parsed}\n\n${RESPOND_USAGE}`);
    return ExitCode.usage;
  }
  const stateDir = parsed.stateDir ?? defaultStateDir();
  const socket = join(stateDir, CONTROL_SOCKET_NAME);
  let result: ActionResult | undefined;
  try {
    result = await requestViaSocket(socket, parsed.request, DEFAULT_TIMEOUTS_MS[parsed.request.action] + 5000);
  } catch (error) {
    // An agent took the request and then went quiet: acting here too could do it twice.
    io.stderr.write(`ring3 respond: the agent did not answer: ${(error as Error).message} (see its action log)\n`);
    return ExitCode.failed;
  }
  if (result === undefined) {
    // No agent here: act in this process. A block can only be recorded (nothing stays to enforce it).
    const executor = new ResponseExecutor({ stateDir, enforceBlocks: false });
    result = await executor.execute(parsed.request, { origin: "local" });
  } else if (!parsed.json) io.stderr.write(`ring3 respond: done by the running agent (${socket})\n`);
  if (parsed.json) io.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else print(result, io);
  return result.ok ? ExitCode.ok : ExitCode.failed;
}

export const respondCommand: CliCommand = {
  name: "respond",
  summary: "response actions on this endpoint: kill, suspend, quarantine, isolate, block (and their undo)",
  usage: RESPOND_USAGE,
  run: (args, io) => runRespond(args, io),
};
