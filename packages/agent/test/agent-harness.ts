import { spawn } from "node:child_process";
import { join } from "node:path";

/** Polls `probe` until it returns a value, failing after `timeoutMs`: tests wait for events, never sleep. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export type AgentProcess = {
  /** The JSON lines printed so far on stdout. */
  lines(): Record<string, unknown>[];
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
};

/** `ring3 agent <args>` as a child process, resolved once it says it is running. */
export async function startAgentProcess(args: readonly string[]): Promise<AgentProcess> {
  const cli = join(import.meta.dirname, "..", "..", "cli", "bin", "ring3.js");
  const child = spawn(process.execPath, [cli, "agent", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const agent: AgentProcess = {
    // Only complete lines: a pipe read can end in the middle of one (the agent writes lines in batches).
    lines: () =>
      stdout
        .slice(0, stdout.lastIndexOf("\n") + 1)
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
  try {
    await waitFor("the agent to run", () => (stderr.includes("running (pid") ? true : undefined), 15000);
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}
