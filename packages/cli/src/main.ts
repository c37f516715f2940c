import type { CliCommand, CliIo } from "./cli-io.ts";
import { ExitCode } from "./cli-io.ts";
import { agentCommand } from "./commands/agent.ts";
import { evtxCommand } from "./commands/evtx.ts";
import { huntCommand } from "./commands/hunt.ts";
import { respondCommand } from "./commands/respond.ts";
import { rulesCommand } from "./commands/rules.ts";
import { upCommand } from "./commands/up.ts";

const commands: readonly CliCommand[] = [
  upCommand,
  rulesCommand,
  evtxCommand,
  huntCommand,
  agentCommand,
  respondCommand,
];

function help(): string {
  const lines = ["ring3 — a user-mode EDR", "", "Usage: ring3 <command> [options]", "", "Commands:"];
  for (const command of commands) lines.push(`  ${command.name.padEnd(10)} ${command.summary}`);
  return lines.join("\n") + "\n";
}

export async function main(argv: readonly string[], io?: CliIo): Promise<number> {
  const out: CliIo = io ?? { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    out.stdout.write(help());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    out.stderr.write(`ring3: unknown command '${name}'\n\n${help()}`);
    return ExitCode.usage;
  }
  return command.run(rest, out);
}
