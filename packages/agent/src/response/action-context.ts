/** Who asked: the server's command channel, an operator on the endpoint (`ring3 respond`), or a playbook. */
export type ResponseOrigin = "server" | "local" | "playbook";

/** What every action is run with. */
export type ActionContext = {
  /** Report what would be done, change nothing. */
  readonly dryRun: boolean;
  /** Aborted when the action's timeout passes: loops stop waiting and report what they got done. */
  readonly signal: AbortSignal;
  readonly origin: ResponseOrigin;
};

/** A finished action: a sentence for people and the structured part for programs. */
export type ActionOutcome = {
  readonly message: string;
  readonly details: Record<string, unknown>;
};
