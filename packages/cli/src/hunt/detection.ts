import type { Alert, MatchExplanation, RuleMatch } from "@ring3/detection";
import { RULE_LEVELS } from "@ring3/detection";
import type { Event, Logsource, EventFields } from "@ring3/schema";
import type { AttackCatalog } from "../attack.ts";
import { ruleTactics } from "../attack.ts";
import type { EventSource } from "./input-records.ts";
import { compareText } from "./text.ts";

/** The event as hunt output carries it: the envelope and fields, without the raw record. */
export type DetectionEvent = {
  readonly id: string;
  readonly time: string;
  readonly host: string;
  readonly logsource: Logsource;
  readonly fields: EventFields;
};

/** What a correlation alert adds: its window, group, measure, and the events behind it. */
export type CorrelationDetail = {
  readonly type: string;
  readonly group: Readonly<Record<string, string | null>>;
  readonly value: number;
  readonly firstTime: string;
  readonly lastTime: string;
  readonly rules: readonly string[];
  readonly events: readonly string[];
};

/**
 * One alert of a hunt, self-contained: output formatters and the summary read only this. The rule's author is
 * always carried (the Detection Rule License requires it). A correlation's `event`, `source` and `explanation`
 * are those of the newest rule match behind it.
 */
export type Detection = {
  readonly kind: "rule" | "correlation";
  readonly time: string;
  readonly host: string;
  readonly level: string;
  readonly ruleId: string;
  readonly title: string;
  readonly author: string | null;
  readonly status: string | null;
  readonly ruleFile: string;
  readonly tags: readonly string[];
  readonly techniques: readonly string[];
  /** From the rule's tags; for a rule tagged with techniques only, their tactics in the ATT&CK catalog. */
  readonly tactics: readonly string[];
  readonly source: EventSource | null;
  /** Every field a selection matched → the event's values that matched, in explanation order. */
  readonly matched: Readonly<Record<string, readonly string[]>>;
  readonly event: DetectionEvent | null;
  readonly explanation: MatchExplanation | null;
  readonly correlation: CorrelationDetail | null;
};

/** Rank of a level in RULE_LEVELS; a level outside Sigma's list ranks lowest, so a filter never hides more. */
export function levelRank(level: string): number {
  return Math.max(0, (RULE_LEVELS as readonly string[]).indexOf(level.toLowerCase()));
}

function matchedFields(explanation: MatchExplanation | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const selection of explanation?.selections ?? []) {
    for (const match of selection.fields) {
      const values = (out[match.field] ??= []);
      for (const value of match.values) if (!values.includes(value)) values.push(value);
    }
  }
  return out;
}

function detectionEvent(event: Event): DetectionEvent {
  return { id: event.id, time: event.time, host: event.host, logsource: event.logsource, fields: event.fields };
}

type Meta = Pick<RuleMatch, "title" | "author" | "status" | "file" | "tags" | "techniques">;

function ruleMeta(meta: Meta, ruleId: string, catalog: AttackCatalog) {
  return {
    ruleId,
    title: meta.title,
    author: meta.author ?? null,
    status: meta.status ?? null,
    ruleFile: meta.file,
    tags: meta.tags,
    techniques: meta.techniques,
    tactics: ruleTactics(catalog, meta.tags, meta.techniques),
  };
}

/** `sourceOf` maps the events the hunt fed to the detector back to their input file and record. */
export function toDetection(
  alert: Alert,
  catalog: AttackCatalog,
  sourceOf: (event: Event) => EventSource | undefined,
): Detection {
  if (alert.kind === "rule") {
    const m = alert.match;
    return {
      kind: "rule",
      time: m.event.time,
      host: m.event.host,
      level: m.level,
      ...ruleMeta(m, m.ruleId, catalog),
      source: sourceOf(m.event) ?? null,
      matched: matchedFields(m.explanation),
      event: detectionEvent(m.event),
      explanation: m.explanation,
      correlation: null,
    };
  }
  const c = alert.match;
  const newest = c.matches.at(-1);
  return {
    kind: "correlation",
    time: c.lastTime,
    host: newest?.event.host ?? "",
    level: c.level,
    ...ruleMeta(c, c.correlationId, catalog),
    source: newest === undefined ? null : (sourceOf(newest.event) ?? null),
    matched: matchedFields(newest?.explanation),
    event: newest === undefined ? null : detectionEvent(newest.event),
    explanation: newest?.explanation ?? null,
    correlation: {
      type: c.type,
      group: c.group,
      value: c.value,
      firstTime: c.firstTime,
      lastTime: c.lastTime,
      rules: [...new Set(c.matches.map((m) => m.ruleId))],
      events: c.matches.map((m) => m.event.id),
    },
  };
}

/** Timeline order: event time, then input file, record and rule, so equal times sort the same on every run. */
export function compareDetections(a: Detection, b: Detection): number {
  const ta = Date.parse(a.time);
  const tb = Date.parse(b.time);
  if (ta !== tb && !(Number.isNaN(ta) && Number.isNaN(tb))) {
    if (Number.isNaN(ta)) return 1;
    if (Number.isNaN(tb)) return -1;
    return ta - tb;
  }
  return (
    compareText(a.time, b.time) ||
    compareText(a.source?.file ?? "", b.source?.file ?? "") ||
    (a.source?.record ?? a.source?.line ?? 0) - (b.source?.record ?? b.source?.line ?? 0) ||
    compareText(a.ruleId, b.ruleId)
  );
}
