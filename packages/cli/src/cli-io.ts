import type { Writable } from "node:stream";

/** Where a command writes. Tests pass buffers; `main` passes the process streams. */
export type CliIo = {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly cwd: string;
};

export type CliCommand = {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: readonly string[], io: CliIo): Promise<number>;
};

/** Exit codes shared by all commands, so scripts can tell "found something" from "could not run". */
export const ExitCode = {
  ok: 0,
  /** The command ran, and what it checks failed (rule tests failed, diagnostics of severity error). */
  failed: 1,
  /** Bad usage: unknown flag, missing argument. */
  usage: 2,
  /** An input could not be read at all. */
  input: 3,
} as const;
