import type { ActionResult, ResponseRequest } from "@ring3/protocol";
import type { Event } from "@ring3/schema";
import { loadAll } from "js-yaml";

/**
 * A rule names its response in ring3's content with a custom top-level attribute (Sigma keeps unknown
 * top-level keys as custom attributes, so other Sigma tools read the rule unchanged):
 *
 *   ring3_response:
 *       - action: kill          # the process the event is about (ProcessId); tree: true for its descendants
 *         tree: true
 *       - action: quarantine    # the file the event names (TargetFilename)
 *       - action: block         # the SHA-256 of the event's image or file (Hashes: SHA256=…)
 *       - action: suspend       # like kill, reversibly
 *       - action: isolate       # the host; put it on critical rules only
 *         host_groups: [dmz]    # only on agents in one of these groups (absent: every agent)
 *
 * Nothing runs unless the agent's config turns automatic responses on (`automaticResponse: true`).
 */
export const PLAYBOOK_ACTIONS = ["kill", "suspend", "quarantine", "block", "isolate"] as const;
export type PlaybookAction = (typeof PLAYBOOK_ACTIONS)[number];

export type PlaybookStep = {
  readonly action: PlaybookAction;
  readonly tree: boolean;
  /** Empty: every host. */
  readonly hostGroups: readonly string[];
};

export type PlaybookIndex = {
  /** Steps per rule id. */
  readonly steps: ReadonlyMap<string, readonly PlaybookStep[]>;
  /** What was wrong with a `ring3_response` (the rule still loads; its playbook does not). */
  readonly errors: readonly string[];
};

function parseStep(value: unknown, where: string): PlaybookStep | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `${where}: a step must be a mapping`;
  const step = value as Record<string, unknown>;
  for (const key of Object.keys(step))
    if (!["action", "tree", "host_groups"].includes(key)) return `${where}: unknown key '${key}'`;
  const action = step.action;
  if (typeof action !== "string" || !(PLAYBOOK_ACTIONS as readonly string[]).includes(action))
    return `${where}: action must be one of ${PLAYBOOK_ACTIONS.join(", ")}`;
  if (step.tree !== undefined && typeof step.tree !== "boolean") return `${where}: tree must be true or false`;
  const groups = step.host_groups;
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === "string")))
    return `${where}: host_groups must be a list of group names`;
  return {
    action: action as PlaybookAction,
    tree: step.tree === true,
    hostGroups: groups ?? [],
  };
}

/** The playbooks of a rule set, from the rules' own text (every YAML document of every file). */
export function parsePlaybooks(sources: readonly { readonly path: string; readonly text: string }[]): PlaybookIndex {
  const steps = new Map<string, PlaybookStep[]>();
  const errors: string[] = [];
  for (const source of sources) {
    let documents: unknown[];
    try {
      documents = loadAll(source.text);
    } catch {
      continue; // The rule loader reports unreadable YAML; a playbook cannot be in it.
    }
    for (const document of documents) {
      if (typeof document !== "object" || document === null) continue;
      const rule = document as Record<string, unknown>;
      if (rule.ring3_response === undefined) continue;
      const where = `${source.path}: ring3_response`;
      if (typeof rule.id !== "string") {
        errors.push(`${where}: the rule has no id to attach the response to`);
        continue;
      }
      if (!Array.isArray(rule.ring3_response)) {
        errors.push(`${where}: must be a list of steps`);
        continue;
      }
      const parsed = rule.ring3_response.map((s, i) => parseStep(s, `${where}[${i}]`));
      const bad = parsed.filter((p) => typeof p === "string");
      if (bad.length > 0) errors.push(...bad);
      else steps.set(rule.id, parsed as PlaybookStep[]);
    }
  }
  return { steps, errors };
}

const field = (event: Event, name: string): string | number | undefined => {
  const value = event.fields[name];
  return typeof value === "string" || typeof value === "number" ? value : undefined;
};

/**
 * The request a step makes of an event, or why it cannot (the event lacks what the action needs).
 * `isolationAllow` is the agent's configured management endpoints: an automatic isolation keeps them open.
 */
export function stepRequest(
  step: PlaybookStep,
  event: Event,
  isolationAllow: readonly string[],
): ResponseRequest | string {
  switch (step.action) {
    case "kill":
    case "suspend": {
      const pid = Number(field(event, "ProcessId"));
      if (!Number.isInteger(pid) || pid <= 0) return `${step.action}: the event has no ProcessId`;
      return { action: step.action, pid, ...(step.tree ? { tree: true } : {}) };
    }
    case "quarantine": {
      const path = field(event, "TargetFilename");
      if (typeof path !== "string" || !path.startsWith("/")) return "quarantine: the event has no TargetFilename";
      return { action: "quarantine", path };
    }
    case "block": {
      const hashes = field(event, "Hashes");
      const sha256 = typeof hashes === "string" ? /SHA256=([0-9A-Fa-f]{64})/.exec(hashes)?.[1] : undefined;
      if (sha256 === undefined) return "block: the event has no SHA256 in Hashes";
      return { action: "block", sha256: sha256.toLowerCase() };
    }
    case "isolate":
      return { action: "isolate", allow: [...isolationAllow] };
  }
}

export type PlaybookRunnerOptions = {
  /** `automaticResponse` in the agent's config: false (the default) runs nothing. */
  readonly enabled: boolean;
  /** The groups this host belongs to (`hostGroups` in the agent's config). */
  readonly hostGroups: readonly string[];
  readonly isolationAllow: readonly string[];
  readonly execute: (request: ResponseRequest) => Promise<ActionResult>;
};

/** The agent-side hook: an alert of a rule with a playbook runs its steps (rate limits apply in the executor). */
export class PlaybookRunner {
  private readonly index: PlaybookIndex;
  private readonly options: PlaybookRunnerOptions;

  constructor(index: PlaybookIndex, options: PlaybookRunnerOptions) {
    this.index = index;
    this.options = options;
  }

  get rules(): number {
    return this.index.steps.size;
  }

  /** The results of the steps run for this alert; empty when responses are off or the rule has none. */
  async onAlert(ruleId: string, event: Event): Promise<{ step: PlaybookStep; result: ActionResult | string }[]> {
    if (!this.options.enabled) return [];
    const steps = this.index.steps.get(ruleId) ?? [];
    const out: { step: PlaybookStep; result: ActionResult | string }[] = [];
    for (const step of steps) {
      if (step.hostGroups.length > 0 && !step.hostGroups.some((g) => this.options.hostGroups.includes(g))) continue;
      const request = stepRequest(step, event, this.options.isolationAllow);
      out.push({ step, result: typeof request === "string" ? request : await this.options.execute(request) });
    }
    return out;
  }
}
