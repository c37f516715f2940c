import { createHash } from "node:crypto";
import type { RuleMatch } from "@ring3/detection";
import type { AlertLevel, WireAlert, WireEvent } from "@ring3/protocol";
import { ALERT_LEVELS, LIMITS } from "@ring3/protocol";
import type { Event, FieldValue } from "@ring3/schema";

/*
 * What the spool holds: one event or one alert per record, as the wire carries it. The first payload byte
 * says which ('e' or 'a'), the rest is the JSON text, so the uplink builds a batch by concatenating record
 * texts without parsing them again. Everything is made to fit the protocol's limits here, once, before it
 * is spooled: a record the server would refuse must never sit at the head of the queue.
 */

export const RECORD_KIND = { event: 0x65, alert: 0x61 } as const;
export type RecordKind = keyof typeof RECORD_KIND;

export function recordKind(payload: Uint8Array): RecordKind | undefined {
  if (payload[0] === RECORD_KIND.event) return "event";
  if (payload[0] === RECORD_KIND.alert) return "alert";
  return undefined;
}

function encode(kind: RecordKind, json: string): Buffer {
  const body = Buffer.from(` ${json}`, "utf8");
  body[0] = RECORD_KIND[kind];
  return body;
}

/** The JSON text of a record (without its kind byte). */
export function recordJson(payload: Buffer): string {
  return payload.toString("utf8", 1);
}

/** Extra room the truncation marker fields need, so a fitted event stays under the limit with them. */
const MARKER_RESERVE = 128;
/** Field names and string limits from the protocol's WireEvent schema. */
const MAX_FIELD_NAME = 256;
const TEXT_LIMITS = { id: 256, host: 255, product: 64, category: 64, service: 128 } as const;

export type FittedEvent = {
  readonly payload: Buffer;
  /** The event was over a limit and was cut down (`Ring3Truncated` in its fields). */
  readonly truncated: boolean;
};

/**
 * An event as a spool record, within LIMITS: string values longer than `maxFieldValueChars` are cut; if the
 * whole is still over `maxEventBytes`, `raw` is dropped, then string values are cut shorter and shorter, and
 * as a last resort fields are dropped from the end. A cut event says so in two fields, `Ring3Truncated: true`
 * and `Ring3OriginalBytes`, so an analyst knows the record is not whole.
 */
export function eventRecord(event: Event, maxEventBytes: number = LIMITS.maxEventBytes): FittedEvent {
  const json = JSON.stringify(event);
  const originalBytes = Buffer.byteLength(json);
  if (originalBytes <= maxEventBytes && withinShapeLimits(event))
    return { payload: encode("event", json), truncated: false };

  const budget = maxEventBytes - MARKER_RESERVE;
  // Cutting values shorter only helps down to the longest value there is.
  let chars: number = Math.min(LIMITS.maxFieldValueChars, longestString(event.fields, event.raw));
  const over = (w: WireEvent): boolean => Buffer.byteLength(JSON.stringify(w)) > budget;
  let wire = shaped(event, chars, true);
  // `raw` goes first: the fields are what rules and analysts read.
  if (over(wire)) wire = shaped(event, chars, false);
  while (over(wire) && chars > 64) {
    chars = Math.floor(chars / 2);
    wire = shaped(event, chars, false);
  }
  if (over(wire)) {
    const fields: Record<string, unknown> = {};
    let size = Buffer.byteLength(JSON.stringify({ ...wire, fields: {} }));
    for (const [name, value] of Object.entries(wire.fields)) {
      // `"name":value,`
      const add = Buffer.byteLength(JSON.stringify(name)) + Buffer.byteLength(JSON.stringify(value)) + 2;
      if (size + add > budget) break;
      fields[name] = value;
      size += add;
    }
    wire = { ...wire, fields };
  }
  const changed = JSON.stringify(wire) !== json;
  if (!changed) return { payload: encode("event", json), truncated: false };
  const marked = { ...wire, fields: { ...wire.fields, Ring3Truncated: true, Ring3OriginalBytes: originalBytes } };
  return { payload: encode("event", JSON.stringify(marked)), truncated: true };
}

function withinShapeLimits(event: Event): boolean {
  if (event.id.length > TEXT_LIMITS.id || event.host.length > TEXT_LIMITS.host) return false;
  const ls = event.logsource;
  if ((ls.product?.length ?? 0) > TEXT_LIMITS.product || (ls.category?.length ?? 0) > TEXT_LIMITS.category)
    return false;
  if ((ls.service?.length ?? 0) > TEXT_LIMITS.service) return false;
  for (const [name, value] of Object.entries(event.fields)) {
    if (name.length > MAX_FIELD_NAME || !valueWithin(value, LIMITS.maxFieldValueChars)) return false;
  }
  return true;
}

function longestString(...values: unknown[]): number {
  let longest = 0;
  const visit = (value: unknown): void => {
    if (typeof value === "string") longest = Math.max(longest, value.length);
    else if (Array.isArray(value)) for (const v of value as unknown[]) visit(v);
    else if (value !== null && typeof value === "object") for (const v of Object.values(value)) visit(v);
  };
  for (const value of values) visit(value);
  return longest;
}

function valueWithin(value: FieldValue | undefined, chars: number): boolean {
  if (typeof value === "string") return value.length <= chars;
  if (Array.isArray(value)) return (value as readonly FieldValue[]).every((v) => valueWithin(v, chars));
  if (value !== null && typeof value === "object") return Object.values(value).every((v) => valueWithin(v, chars));
  return true;
}

function cut(value: FieldValue, chars: number): FieldValue {
  if (typeof value === "string") return value.length <= chars ? value : value.slice(0, chars);
  if (Array.isArray(value)) return value.map((v: FieldValue) => cut(v, chars));
  if (value !== null && typeof value === "object") {
    const out: Record<string, FieldValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = cut(v, chars);
    return out;
  }
  return value;
}

function shaped(event: Event, chars: number, keepRaw: boolean): WireEvent {
  const fields: Record<string, FieldValue> = {};
  for (const [name, value] of Object.entries(event.fields)) fields[name.slice(0, MAX_FIELD_NAME)] = cut(value, chars);
  const ls = event.logsource;
  const logsource = {
    ...(ls.product === undefined ? {} : { product: ls.product.slice(0, TEXT_LIMITS.product) }),
    ...(ls.category === undefined ? {} : { category: ls.category.slice(0, TEXT_LIMITS.category) }),
    ...(ls.service === undefined ? {} : { service: ls.service.slice(0, TEXT_LIMITS.service) }),
  };
  const raw = keepRaw && event.raw !== undefined ? { raw: cut(event.raw as FieldValue, chars) } : {};
  return {
    id: event.id.slice(0, TEXT_LIMITS.id),
    time: event.time,
    host: event.host.slice(0, TEXT_LIMITS.host),
    logsource,
    fields,
    ...raw,
  };
}

/**
 * The alert id: the same rule on the same event is the same alert, so a batch resent after a crash cannot
 * raise it twice. SHA-256 keeps it within the protocol's Id pattern whatever the rule and event ids contain.
 */
export function alertId(ruleId: string, eventId: string): string {
  return `a-${createHash("sha256").update(ruleId).update("\0").update(eventId).digest("hex").slice(0, 40)}`;
}

export type Ancestor = { readonly pid: number; readonly image: string | null; readonly commandLine: string | null };

/** Explanation values are event values: long command lines are cut so one alert stays small. */
const EXPLANATION_VALUE_CHARS = 1024;
const MAX_EXPLANATION_BYTES = 32 * 1024;
const MAX_ANCESTRY = 64;

function level(value: string): AlertLevel {
  return (ALERT_LEVELS as readonly string[]).includes(value) ? (value as AlertLevel) : "medium";
}

const bounded = (list: readonly string[], items: number, chars: number): string[] =>
  list.slice(0, items).map((s) => s.slice(0, chars));

/** A rule match as the wire alert (limits from the WireAlert schema). */
export function ruleAlertRecord(match: RuleMatch, ancestry: readonly Ancestor[]): Buffer {
  const explanation = {
    condition: match.explanation.condition.slice(0, EXPLANATION_VALUE_CHARS),
    selections: match.explanation.selections.map((s) => ({
      name: s.name,
      fields: s.fields.map((f) => ({
        field: f.field,
        modifiers: f.modifiers,
        patterns: f.patterns.map((p) => p.slice(0, EXPLANATION_VALUE_CHARS)),
        values: f.values.map((v) => v.slice(0, EXPLANATION_VALUE_CHARS)),
      })),
    })),
  };
  const alert: WireAlert = {
    id: alertId(match.ruleId, match.event.id),
    time: match.event.time,
    eventId: match.event.id.slice(0, TEXT_LIMITS.id),
    ruleId: match.ruleId.slice(0, 128),
    title: match.title.slice(0, 512),
    level: level(match.level),
    ...(match.author === undefined ? {} : { author: match.author.slice(0, 1024) }),
    tags: bounded(match.tags, 64, 128),
    techniques: bounded(match.techniques, 64, 32),
    tactics: bounded(match.tactics, 32, 64),
    ...(JSON.stringify(explanation).length <= MAX_EXPLANATION_BYTES ? { explanation } : {}),
    ancestry: ancestry.slice(0, MAX_ANCESTRY).map((a) => ({
      pid: a.pid,
      image: a.image === null ? null : a.image.slice(0, EXPLANATION_VALUE_CHARS),
      commandLine: a.commandLine === null ? null : a.commandLine.slice(0, EXPLANATION_VALUE_CHARS),
    })),
  };
  return encode("alert", JSON.stringify(alert));
}

/** What the agent says about an alert it raises without a rule. */
export type AgentAlertSpec = {
  readonly title: string;
  readonly level: AlertLevel;
  /** ATT&CK technique ids (`T1547.006`) and tactic names (`persistence`). */
  readonly techniques?: readonly string[];
  readonly tactics?: readonly string[];
};

/**
 * An alert the agent raises without a rule: a kernel module loaded after start, a kernel taint change. Its
 * rule id names the event type under `ring3.` so the console groups and filters it like a rule's.
 */
export function agentAlertRecord(event: Event, spec: AgentAlertSpec): Buffer {
  const type = typeof event.fields.EventType === "string" ? event.fields.EventType : "agent";
  const ruleId = `ring3.${type}`;
  const techniques = spec.techniques ?? [];
  const tactics = spec.tactics ?? [];
  const alert: WireAlert = {
    id: alertId(ruleId, event.id),
    time: event.time,
    eventId: event.id.slice(0, TEXT_LIMITS.id),
    ruleId,
    title: spec.title,
    level: spec.level,
    author: "ring3",
    tags: [...techniques.map((t) => `attack.${t.toLowerCase()}`), ...tactics.map((t) => `attack.${t}`)],
    techniques: [...techniques],
    tactics: [...tactics],
  };
  return encode("alert", JSON.stringify(alert));
}
