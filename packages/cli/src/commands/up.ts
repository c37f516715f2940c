import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createInterface } from "node:readline";
import type { RunningServer } from "@ring3/server";
import type { CliCommand, CliIo } from "../cli-io.ts";
import { ExitCode } from "../cli-io.ts";

const REPO_ROOT = resolve(import.meta.dirname, "..", "..", "..", "..");
const RING3_BIN = join(REPO_ROOT, "packages", "cli", "bin", "ring3.js");
const CONTENT_RULES = join(REPO_ROOT, "content", "rules");
const WEB_DIST = join(REPO_ROOT, "packages", "web", "dist");
const DEFAULT_PORT = 8443;

const USAGE = `Usage: ring3 up [--data-dir <dir>] [--port <n>] [--rules <dir>]...

Starts the whole stack on this machine until Ctrl-C (SIGINT) or SIGTERM: the ring3 server on embedded SQLite
(HTTPS on 127.0.0.1, with a CA it creates), the console (when packages/web/dist is built), and a local agent
enrolled to the server automatically. The agent runs every sensor as root and the /proc-only set otherwise,
with ring3's Linux rules (content/rules/linux); the server runs content/rules on hosts that only ship logs.
--rules adds Sigma rule directories (a SigmaHQ checkout's rules/linux, say) to both.

The first start prints the console's admin password, once. Everything lives in the data directory
(default $XDG_DATA_HOME/ring3, i.e. ~/.local/share/ring3): server/ (database, TLS CA and certificate) and
agent/ (credential, pinned CA, spool). A later start reuses it: same admin, same host, no re-enrollment.
`;

/** $XDG_DATA_HOME/ring3, else ~/.local/share/ring3: one place per user, outside any checkout. */
export function defaultDataDir(): string {
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "ring3");
}

type UpOptions = { dataDir: string; port: number; rules: string[] };

function parse(args: readonly string[], io: CliIo): UpOptions | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        "data-dir": { type: "string" },
        port: { type: "string" },
        rules: { type: "string", multiple: true },
      },
    }));
  } catch (error) {
    return (error as Error).message;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port must be 0…65535, not '${values.port}'`;
  return {
    dataDir: resolve(io.cwd, values["data-dir"] ?? defaultDataDir()),
    port,
    rules: (values.rules ?? []).map((dir) => resolve(io.cwd, dir)),
  };
}

/** Why the agent runs the reduced sensor set, or undefined when it runs them all. */
function reducedSensorsReason(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  return "not running as root: the process connector, audit, fanotify and sock_diag need root (CAP_NET_ADMIN, CAP_AUDIT_CONTROL, CAP_SYS_ADMIN); the agent polls /proc instead (sudo npx ring3 up for all of them)";
}

/** A one-use enrollment token for the local agent, created straight in the store (no admin session needed). */
async function localEnrollmentToken(server: RunningServer): Promise<string> {
  const { hashSecret, newSecret } = await import("@ring3/server");
  const secret = newSecret("enrollment");
  const now = new Date();
  const token = await server.store.createEnrollmentToken({
    description: "ring3 up: the local agent",
    createdBy: "ring3 up",
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 15 * 60_000).toISOString(),
    maxUses: 1,
    secretHash: hashSecret(secret),
  });
  await server.store.appendAudit({
    time: now.toISOString(),
    actor: "ring3 up",
    action: "enrollment_token.create",
    target: token.id,
    details: { reason: "local agent", maxUses: 1 },
  });
  return secret;
}

/** `ring3 agent` as a child, its stderr passed on with a prefix; an IPC channel makes it stop if we die. */
function startAgent(
  server: RunningServer,
  agentDir: string,
  rules: readonly string[],
  token: string | undefined,
  io: CliIo,
): ChildProcess {
  const args = [RING3_BIN, "agent", "--server", server.url, "--state-dir", agentDir];
  if (server.ca !== undefined) args.push("--ca", server.ca.certPath);
  for (const dir of rules) args.push("--rules", dir);
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    // The token goes through the environment, not argv: other users can read a process's argv.
    env: { ...process.env, ...(token === undefined ? {} : { RING3_ENROLL_TOKEN: token }) },
  });
  createInterface({ input: child.stderr! }).on("line", (line) => {
    io.stderr.write(`[agent] ${line.replace(/^ring3 agent: /, "")}\n`);
  });
  return child;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function up(options: UpOptions, io: CliIo): Promise<number> {
  // Listening first: a Ctrl-C during start-up still stops cleanly once things are up.
  const stopRequested = new Promise<NodeJS.Signals>((resolveSignal) => {
    process.once("SIGINT", resolveSignal);
    process.once("SIGTERM", resolveSignal);
  });
  const serverDir = join(options.dataDir, "server");
  const agentDir = join(options.dataDir, "agent");
  const rulesDirs = [...(existsSync(CONTENT_RULES) ? [CONTENT_RULES] : []), ...options.rules];
  let server: RunningServer;
  try {
    // Loaded here, not at the top: every other ring3 command (the agent above all) must not carry the server.
    const { startServer } = await import("@ring3/server");
    server = await startServer({ dataDir: serverDir, host: "127.0.0.1", port: options.port, rulesDirs });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e.code === "EADDRINUSE" ? `port ${options.port} is in use (choose another with --port <n>)` : e.message;
    io.stderr.write(`ring3 up: the server did not start: ${why}\n`);
    return ExitCode.failed;
  }
  const out = (line: string): void => void io.stdout.write(`${line}\n`);
  out(`ring3 is up: ${server.url}/`);
  out(`  data:    ${options.dataDir}`);
  out(
    existsSync(join(WEB_DIST, "index.html"))
      ? `  console: ${server.url}/`
      : `  console: not built (npm run build:web); the API is at ${server.url}/api/v1`,
  );
  if (server.ca !== undefined) out(`  CA:      ${server.ca.certPath} (sha256 ${server.ca.fingerprint256})`);
  if (server.admin !== undefined)
    out(`  login:   ${server.admin.username} / ${server.admin.password}   (shown this once: keep it)`);
  else out(`  login:   the admin account exists (its password was printed at the first start)`);

  const reduced = reducedSensorsReason();
  out(`  agent:   ${reduced === undefined ? "all sensors (running as root)" : `reduced sensors: ${reduced}`}`);
  out(`Ctrl-C stops everything.`);

  let stopping = false;
  // A token only while the agent has no credential yet (the first start, or one that died mid-enrollment).
  const launch = async (): Promise<ChildProcess> => {
    const enrolled = existsSync(join(agentDir, "link.json"));
    return startAgent(server, agentDir, options.rules, enrolled ? undefined : await localEnrollmentToken(server), io);
  };
  let agent = await launch();
  let restarts = 0;
  // An agent that dies is started again (the spool keeps its events), a few times and then not.
  const watch = (child: ChildProcess): void => {
    child.once("exit", (code, signal) => {
      if (stopping) return;
      restarts += 1;
      io.stderr.write(`ring3 up: the agent exited (${signal ?? `code ${code}`})`);
      if (restarts > 5) {
        io.stderr.write("; not restarting it again\n");
        return;
      }
      io.stderr.write("; restarting it in 2 s\n");
      setTimeout(() => {
        if (stopping) return;
        void launch().then((child) => {
          agent = child;
          watch(child);
        });
      }, 2000);
    });
  };
  watch(agent);

  const signal = await stopRequested;
  stopping = true;
  io.stderr.write(`ring3 up: ${signal}: stopping the agent, then the server\n`);
  // The agent first: it flushes its spool to the still-running server.
  if (agent.exitCode === null && agent.signalCode === null) {
    agent.kill("SIGTERM");
    if (!(await waitExit(agent, 20_000))) {
      io.stderr.write("ring3 up: the agent did not stop within 20 s; killing it\n");
      agent.kill("SIGKILL");
      await waitExit(agent, 5000);
    }
  }
  await server.close();
  io.stderr.write("ring3 up: stopped\n");
  return ExitCode.ok;
}

export const upCommand: CliCommand = {
  name: "up",
  summary: "start the server, the console and a local agent enrolled to it (one command, one data dir)",
  usage: USAGE,
  async run(args, io) {
    if (args.includes("--help") || args.includes("-h")) {
      io.stdout.write(USAGE);
      return ExitCode.ok;
    }
    const options = parse(args, io);
    if (typeof options === "string") {
      io.stderr.write(`ring3 up: ${options}\n\n${USAGE}`);
      return ExitCode.usage;
    }
    return up(options, io);
  },
};
