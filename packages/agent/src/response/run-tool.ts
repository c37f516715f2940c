import { spawn } from "node:child_process";

export type ToolResult = { readonly code: number | null; readonly stdout: string; readonly stderr: string };

/**
 * Runs a system tool (nft, ss) with arguments as an array — never through a shell — and `input` on stdin.
 * A missing binary resolves with code null and the spawn error as stderr, so callers report it instead of
 * throwing from an event handler.
 */
export function runTool(
  command: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 15_000,
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", (error) => resolve({ code: null, stdout, stderr: error.message }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}
