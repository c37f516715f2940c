import { join } from "node:path";
import type { Event } from "@ring3/schema";
import { CONTROL_SOCKET_NAME, ResponseControlServer } from "./control-socket.ts";
import { PlaybookRunner, parsePlaybooks } from "./playbook.ts";
import type { ExecDenial } from "./response-addon.ts";
import { ResponseExecutor } from "./response-executor.ts";

export type AgentResponseOptions = {
  readonly stateDir: string;
  /** Playbooks run only when an admin turns this on. */
  readonly automaticResponse: boolean;
  readonly hostGroups: readonly string[];
  /** Management endpoints every isolation keeps open. */
  readonly isolationAllow: readonly string[];
  /** The rules the agent runs, for their `ring3_response` playbooks. */
  readonly sources: readonly { readonly path: string; readonly text: string }[];
  readonly log: (message: string) => void;
  readonly onExecDenied: (denial: ExecDenial) => void;
};

/**
 * Response inside `ring3 agent`: the executor (isolation and the block list re-applied at start), the local
 * control socket `ring3 respond` talks to, and the playbook hook alerts go through. A part that cannot start
 * is reported and left out; the agent runs on.
 */
export class AgentResponse {
  readonly executor: ResponseExecutor;
  private readonly control: ResponseControlServer;
  private readonly playbooks: PlaybookRunner;
  private readonly log: (message: string) => void;

  private constructor(options: AgentResponseOptions) {
    this.log = options.log;
    this.executor = new ResponseExecutor({
      stateDir: options.stateDir,
      managementEndpoints: options.isolationAllow,
      onExecDenied: options.onExecDenied,
    });
    this.control = new ResponseControlServer(this.executor, join(options.stateDir, CONTROL_SOCKET_NAME));
    const index = parsePlaybooks(options.sources);
    for (const error of index.errors) options.log(`response: playbook ignored: ${error}`);
    this.playbooks = new PlaybookRunner(index, {
      enabled: options.automaticResponse,
      hostGroups: options.hostGroups,
      isolationAllow: options.isolationAllow,
      execute: (request) => this.executor.execute(request, { origin: "playbook" }),
    });
  }

  static async start(options: AgentResponseOptions): Promise<AgentResponse> {
    const response = new AgentResponse(options);
    for (const line of await response.executor.start()) options.log(`response: ${line}`);
    try {
      await response.control.listen();
      options.log(`response: ring3 respond answered on ${response.control.path}`);
    } catch (error) {
      options.log(`response: degraded: no control socket (${(error as Error).message}); ring3 respond acts alone`);
    }
    options.log(
      `response: automatic responses ${options.automaticResponse ? "ON" : "off"} (${response.playbooks.rules} rules with a playbook${options.hostGroups.length > 0 ? `; host groups ${options.hostGroups.join(", ")}` : ""})`,
    );
    return response;
  }

  /** A rule alert: its playbook, if any and if enabled, runs in the background; results go to the log. */
  onRuleAlert(ruleId: string, event: Event): void {
    void this.playbooks.onAlert(ruleId, event).then((results) => {
      for (const { step, result } of results) {
        const text =
          typeof result === "string"
            ? `skipped: ${result}`
            : `${result.ok ? "ok" : (result.code ?? "failed")}: ${result.message}`;
        this.log(`response: playbook of rule ${ruleId}: ${step.action} ${text}`);
      }
    });
  }

  async stop(): Promise<void> {
    await this.control.close();
    await this.executor.stop();
  }
}
