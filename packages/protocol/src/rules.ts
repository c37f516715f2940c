import { Type, type Static } from "typebox";
import { IsoTime } from "./common.ts";
import { StoredEvent, WireLogsource } from "./events.ts";

/** A rule or correlation the server runs (on log-only hosts' events, and correlations across hosts). */
export const RuleInfo = Type.Object({
  /** The rule's id, or its title when it has none (what diagnostics and alerts call it). */
  id: Type.String(),
  kind: Type.Union([Type.Literal("rule"), Type.Literal("correlation")]),
  title: Type.String(),
  level: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  author: Type.Optional(Type.String()),
  file: Type.String(),
  logsource: Type.Optional(WireLogsource),
  techniques: Type.Array(Type.String()),
  enabled: Type.Boolean(),
});
export type RuleInfo = Static<typeof RuleInfo>;

/** A problem found loading or running the rules (`Diagnostic` of @ring3/detection). */
export const RuleDiagnostic = Type.Object({
  code: Type.String(),
  severity: Type.String(),
  message: Type.String(),
  file: Type.String(),
  line: Type.Integer(),
  col: Type.Integer(),
  rule: Type.Optional(Type.String()),
});
export type RuleDiagnostic = Static<typeof RuleDiagnostic>;

export const RuleList = Type.Object({
  /** Where the rules were read from; empty when the server runs no rules of its own. */
  dirs: Type.Array(Type.String()),
  loadedAt: IsoTime,
  rules: Type.Array(RuleInfo),
  diagnostics: Type.Array(RuleDiagnostic),
});
export type RuleList = Static<typeof RuleList>;

export const RuleUpdate = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });
export type RuleUpdate = Static<typeof RuleUpdate>;

/** One rule with its source: the alert page shows what fired, the rules page what is loaded. */
export const RuleDetail = Type.Intersect([
  RuleInfo,
  Type.Object({
    description: Type.Optional(Type.String()),
    references: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    /** The rule's YAML document as it was loaded. */
    yaml: Type.String(),
  }),
]);
export type RuleDetail = Static<typeof RuleDetail>;

/** "Test this rule against the last N hours": the stored events of that window run through the rule alone. */
export const RuleTestRequest = Type.Object(
  { hours: Type.Integer({ minimum: 1, maximum: 720 }) },
  { additionalProperties: false },
);
export type RuleTestRequest = Static<typeof RuleTestRequest>;

export const RuleTestResult = Type.Object({
  from: IsoTime,
  to: IsoTime,
  eventsScanned: Type.Integer({ minimum: 0 }),
  matches: Type.Integer({ minimum: 0 }),
  /** The scan stopped at the server's cap on events; `matches` counts what it saw. */
  truncated: Type.Boolean(),
  /** The first matching events (at most 20), to open in the host's timeline. */
  samples: Type.Array(StoredEvent),
});
export type RuleTestResult = Static<typeof RuleTestResult>;
