import { Writable } from "node:stream";
import type { CliIo } from "../src/cli-io.ts";
import { main } from "../src/main.ts";

/** Runs `ring3 …` in-process with captured output. */
export async function runCli(
  args: readonly string[],
  cwd = process.cwd(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        append(chunk.toString());
        done();
      },
    });
  const io: CliIo = {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    cwd,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}
