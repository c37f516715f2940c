import type { SourcePosition } from "./diagnostics.ts";
import type { YScalar } from "./yaml-tree.ts";

/** The rule model after reading and validation, before compilation (pySigma's SigmaRule stage). */
export type SigmaLogsource = {
  readonly product?: string;
  readonly category?: string;
  readonly service?: string;
};

export const RULE_LEVELS = ["informational", "low", "medium", "high", "critical"] as const;
export type RuleLevel = (typeof RULE_LEVELS)[number];

/** `Field|mod1|mod2: value(s)`. A keyword search (no field) has `field` undefined. */
export type FieldSpec = {
  readonly field: string | undefined;
  readonly modifiers: readonly string[];
  readonly values: readonly YScalar[];
  readonly pos: SourcePosition;
};

/**
 * A search identifier under `detection`. A map is an AND of field specs; a list of maps is an OR of those;
 * a list of plain values is a keyword search (an OR across the whole event).
 */
export type SearchIdentifier = {
  readonly name: string;
  readonly pos: SourcePosition;
  readonly alternatives: readonly (readonly FieldSpec[])[];
};

export type ConditionText = {
  readonly text: string;
  readonly pos: SourcePosition;
  readonly quoted: boolean;
  /** The source of a condition written over several lines (see YScalar.raw), for diagnostic positions. */
  readonly raw?: string;
};

export type SigmaDetection = {
  readonly identifiers: ReadonlyMap<string, SearchIdentifier>;
  readonly conditions: readonly ConditionText[];
};

type DocumentMeta = {
  readonly file: string;
  readonly pos: SourcePosition;
  readonly id: string | undefined;
  readonly name: string | undefined;
  readonly title: string;
  readonly description: string | undefined;
  readonly author: string | undefined;
  readonly date: string | undefined;
  readonly modified: string | undefined;
  readonly tags: readonly string[];
  readonly references: readonly string[];
  /** The document as written, for display and for the rule page. */
  readonly yaml: string;
};

export type SigmaRule = DocumentMeta & {
  readonly kind: "rule";
  readonly status: string | undefined;
  readonly level: RuleLevel | undefined;
  readonly logsource: SigmaLogsource;
  readonly detection: SigmaDetection;
  readonly falsepositives: readonly string[];
  readonly fields: readonly string[];
  /** SigmaHQ's pointer to its regression test, relative to the corpus root. */
  readonly regressionTestsPath: string | undefined;
};

export type SigmaFilter = DocumentMeta & {
  readonly kind: "filter";
  readonly logsource: SigmaLogsource;
  /** Rule ids or names the filter applies to. */
  readonly rules: readonly string[];
  readonly detection: SigmaDetection;
};

export const CORRELATION_TYPES = [
  "event_count",
  "value_count",
  "temporal",
  "temporal_ordered",
  "value_sum",
  "value_avg",
  "value_percentile",
] as const;
export type CorrelationType = (typeof CORRELATION_TYPES)[number];

export const CONDITION_OPERATORS = ["gt", "gte", "lt", "lte", "eq", "neq"] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** Spec: "a map of exactly one condition criterion", or several linked by AND to express a range. */
export type CorrelationCondition = {
  readonly predicates: readonly { readonly operator: ConditionOperator; readonly value: number }[];
  /** value_count / value_sum / value_avg / value_percentile aggregate these fields (several are linked by AND). */
  readonly fields: readonly string[];
};

export type SigmaCorrelation = DocumentMeta & {
  readonly kind: "correlation";
  readonly status: string | undefined;
  readonly level: RuleLevel | undefined;
  readonly falsepositives: readonly string[];
  readonly type: CorrelationType;
  /** Rule ids or names (or other correlations) whose matches feed this one, in order for temporal_ordered. */
  readonly rules: readonly string[];
  readonly groupBy: readonly string[];
  readonly timespanMs: number;
  readonly timespan: string;
  readonly condition: CorrelationCondition | undefined;
  /** alias → (rule id/name → field name in that rule's events). */
  readonly aliases: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Whether the referenced rules also raise their own alerts (spec: `generate`, default false). */
  readonly generate: boolean;
};

export type SigmaDocument = SigmaRule | SigmaFilter | SigmaCorrelation;

/** How a rule is named in diagnostics and alerts. */
export function documentRef(doc: { readonly id: string | undefined; readonly title: string }): string {
  return doc.id ?? doc.title;
}
