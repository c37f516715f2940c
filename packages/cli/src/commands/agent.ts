import { AGENT_USAGE, runAgentCommand } from "@ring3/agent";
import type { CliCommand } from "../cli-io.ts";

export const agentCommand: CliCommand = {
  name: "agent",
  summary: "run the Linux agent (process connector, audit, fanotify, sock_diag, /proc) with local detection",
  usage: AGENT_USAGE,
  run: (args, io) => runAgentCommand(args, io),
};
