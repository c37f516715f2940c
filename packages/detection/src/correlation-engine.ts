import type { Event } from "@ring3/schema";
import type { CompiledRule } from "./compiled-rule.ts";
import { attackRefs } from "./compiled-rule.ts";
import type { Diagnostic, DiagnosticSeverity, SourcePosition } from "./diagnostics.ts";
import { EventView } from "./event-view.ts";
import type { RuleMatch } from "./ruleset.ts";
import type { ConditionOperator, CorrelationType, SigmaCorrelation } from "./sigma-rule.ts";
import { documentRef } from "./sigma-rule.ts";

/*
 * Sigma correlation rules at run time, over event time (`event.time`, never the wall clock).
 *
 * Inputs. A correlation sees the matches of the rules it names (by `id` or `name`) and, for chaining (spec:
 * "Refers to one or multiple Sigma or Correlations rules. Allowing the user to chain multiple correlations
 * together"), the hits of the correlations it names. A hit's time is its `lastTime`; its fields are its
 * group-by values, then the fields of the newest event behind it. One event matching several rules of an
 * event-counting correlation counts once, as `(rule_a or rule_b) | count` would.
 *
 * Groups. The group-by values (spec: "When you use multiple fields they are linked by an AND") are read through
 * `aliases` for the rule the input came from. An event without a group-by field is not dropped: "absent" is a
 * group value of its own (`null` in `CorrelationMatch.group`). Values compare exactly, case and all.
 *
 * Two ways of deciding, because Sigma says what to count and not when to look:
 * - Sliding windows, firing early: event_count, value_count, temporal, temporal_ordered and value_sum when the
 *   condition has only `gt`/`gte`. Adding events can only raise these measures, so the condition is decided on
 *   the event that makes it true, over [t - timespan, t] where t is the group's newest event time. The group
 *   then stays silent until event time passes t + timespan: one alert, not one per further event, and the next
 *   alert's window shares no event with this one.
 * - Closed windows: any condition with `lt`, `lte`, `eq` or `neq` (that a count stays under a bound is only
 *   known once no more events can come), and value_avg and value_percentile always (a mean or a share over a
 *   partly seen window is not the rule's aggregate, and both move either way). A group's window opens at its
 *   first event and spans [start, start + timespan]. It closes when event time (the newest the engine has
 *   seen, or `advance(time)`) passes its end, or at `flush()`; the condition is evaluated once, then, and the
 *   group's next event opens a new window.
 *
 * What is measured:
 * - event_count: events in the window.
 * - value_count: distinct values of `condition.field` (several fields: distinct combinations); an event
 *   without the field(s) takes no part.
 * - temporal: distinct referenced rules matched in the window. Without a condition all of them (spec: "All
 *   events defined by the rules referred by the rule field must occur in the time frame"); a condition counts
 *   them (spec: "the count of different event types (Sigma rules matching)").
 * - temporal_ordered: the longest prefix of `rules` matched in that order — each by a later (or, at equal
 *   times, later-arriving) and different event than the one before, all within the timespan. Without a
 *   condition the whole list. This is "a chain in order exists", not "the rules' first occurrences are in
 *   order": a success that precedes the failures in the window must not hide failures followed by a success.
 * - value_sum / value_avg: sum / mean of the numeric `condition.field` (numbers or numeric strings; an event
 *   where it is anything else takes no part).
 * - value_percentile (spec: "Check when a certain percentage of observed values occur", example `field: Image,
 *   lte: 1` = "a processes name … [less] than 1% of all the processes"): the share, in percent, of the group's
 *   events (those having the field) that carry each distinct value. Every value whose share meets the
 *   condition is one hit, naming it in `values`. `lte: 1` is a process name making up at most 1% of a
 *   computer's process starts in the window.
 *
 * Memory. At most `maxGroups` groups per correlation (beyond it the least recently updated sliding group, or
 * the oldest closed-window group, is dropped unevaluated) and `maxEventsPerGroup` events per group (the oldest
 * is dropped: a sliding window then undercounts, a closed window keeps exact counts and only lists fewer
 * events; a distinct-value table stops growing at that size). Both are counted in `stats()`. Events are kept
 * in time order within a group; one already older than its group's window is dropped (`late`), and a group
 * idle for a timespan behind the newest event time is forgotten.
 *
 * `generate` (spec: "defines if the rules referred from the correlation rule should be converted as
 * stand-alone rules … or if only the correlation query should be generated (default)") is `standsAlone()`.
 * A correlation that has an error does not run and does not silence the rules it names: better noisy than
 * blind.
 */

export type CorrelationMatch = {
  /** The correlation's id, or its title when it has none. */
  readonly correlationId: string;
  readonly name: string | undefined;
  readonly title: string;
  readonly level: string;
  readonly status: string | undefined;
  readonly author: string | undefined;
  readonly tags: readonly string[];
  readonly techniques: readonly string[];
  readonly tactics: readonly string[];
  readonly file: string;
  readonly type: CorrelationType;
  /** group-by name (an alias name as written) → the group's value; null for events without the field. */
  readonly group: Readonly<Record<string, string | null>>;
  /** value_percentile: the `condition.field` value(s) whose share met the condition. */
  readonly values: Readonly<Record<string, string>> | undefined;
  /** The measure that met the condition (see the module comment; value_percentile: a percentage). */
  readonly value: number;
  /** Contributing rule matches, newest last, at most `maxMatchesPerAlert` together with `correlations`. */
  readonly matches: readonly RuleMatch[];
  /** Contributing hits of chained correlations. */
  readonly correlations: readonly CorrelationMatch[];
  /** Contributing inputs the two lists above leave out. */
  readonly omitted: number;
  readonly firstTime: string;
  readonly lastTime: string;
};

export type CorrelationEngineOptions = {
  /** Groups kept per correlation (default 10,000). */
  readonly maxGroups?: number;
  /** Events kept per group (default 1,000). */
  readonly maxEventsPerGroup?: number;
  /** Contributing matches listed in one CorrelationMatch (default 20). */
  readonly maxMatchesPerAlert?: number;
};

export type CorrelationStats = {
  /** Correlations running. */
  readonly correlations: number;
  /** Correlations not running because of an error diagnostic. */
  readonly disabled: number;
  readonly groups: number;
  readonly events: number;
  readonly fired: number;
  readonly groupsEvicted: number;
  readonly eventsEvicted: number;
  /** Distinct values not tracked because a group's value table was full. */
  readonly valuesDropped: number;
  /** Inputs older than their group's window. */
  readonly late: number;
  /** Inputs whose `event.time` does not parse. */
  readonly badTime: number;
};

type Counters = {
  -readonly [K in "fired" | "groupsEvicted" | "eventsEvicted" | "valuesDropped" | "late" | "badTime"]: number;
};

/** One match or hit entering a correlation. */
type Input = {
  readonly time: number;
  readonly timeText: string;
  /** Set for rule matches: one event matching several rules is counted once. */
  readonly eventId: string | undefined;
  readonly rule: RuleMatch | undefined;
  readonly hit: CorrelationMatch | undefined;
  /** The event behind the input (for a hit, the newest one). */
  readonly view: EventView | undefined;
};

type Entry = {
  readonly input: Input;
  readonly position: number;
  /** value_count / value_percentile: the condition values; temporal types: the position; otherwise "". */
  readonly key: string;
  readonly num: number;
};

type KeyStat = { count: number; first: Input; last: Input };

/** The latest-starting sequence of entries matching `rules[0..i]` in order (temporal_ordered). */
type Chain = { readonly start: number; readonly entries: readonly Entry[] };

type Group = {
  readonly values: readonly (string | undefined)[];
  /** Time-ordered; ties keep arrival order. */
  readonly entries: Entry[];
  readonly keys: Map<string, KeyStat>;
  count: number;
  sum: number;
  /** Closed windows: when the window opened. */
  readonly start: number;
  newest: number;
  first: Input;
  last: Input;
  silentUntil: number;
  lastEventId: string | undefined;
  chains: (Chain | undefined)[];
};

type Position = {
  /** Field read for each group-by entry, after aliases. */
  readonly groupFields: readonly string[];
  readonly valueFields: readonly string[];
};

type Predicate = { readonly operator: ConditionOperator; readonly value: number };

type Dependent = { readonly correlator: Correlator; readonly position: number };

type Target =
  | { readonly kind: "rule"; readonly rule: CompiledRule }
  | { readonly kind: "correlation"; readonly doc: SigmaCorrelation };

/** Measures that only grow as events are added: a lower bound on them can be decided early. */
const GROWING: ReadonlySet<CorrelationType> = new Set([
  "event_count",
  "value_count",
  "temporal",
  "temporal_ordered",
  "value_sum",
]);
/** Types whose measure needs the distinct keys of the window. */
const KEYED: ReadonlySet<CorrelationType> = new Set(["value_count", "temporal", "value_percentile"]);
/** Types that count events, where one event matching two referenced rules must count once. */
const EVENT_COUNTING: ReadonlySet<CorrelationType> = new Set([
  "event_count",
  "value_count",
  "value_sum",
  "value_avg",
  "value_percentile",
]);

export class CorrelationEngine {
  /** Problems found while wiring the correlations; a correlation with an error does not run. */
  readonly diagnostics: readonly Diagnostic[];
  /** Dependencies before dependents, so hits flow forward within one call. */
  private readonly correlators: Correlator[] = [];
  private readonly byRule = new Map<string, Dependent[]>();
  /** Rules and correlations named by a running correlation, and those named by one with `generate: true`. */
  private readonly referenced = new Set<string>();
  private readonly generated = new Set<string>();
  private readonly disabledCount: number;
  private readonly counters: Counters = {
    fired: 0,
    groupsEvicted: 0,
    eventsEvicted: 0,
    valuesDropped: 0,
    late: 0,
    badTime: 0,
  };
  private watermark = Number.NEGATIVE_INFINITY;

  constructor(
    correlations: readonly SigmaCorrelation[],
    rules: readonly CompiledRule[],
    options: CorrelationEngineOptions = {},
  ) {
    const limits: Limits = {
      maxGroups: Math.max(1, options.maxGroups ?? 10_000),
      maxEvents: Math.max(1, options.maxEventsPerGroup ?? 1_000),
      maxListed: Math.max(0, options.maxMatchesPerAlert ?? 20),
    };
    const diagnostics: Diagnostic[] = [];
    const report = (
      doc: SigmaCorrelation,
      code: string,
      severity: DiagnosticSeverity,
      message: string,
      at: SourcePosition = locate(doc),
    ): void => {
      diagnostics.push({ code, severity, message, file: doc.file, line: at.line, col: at.col, rule: documentRef(doc) });
    };

    // Spec: "A rule can be referred to by the `id` or `name` of a Sigma rule."
    const byRef = new Map<string, Target[]>();
    const index = (key: string | undefined, target: Target): void => {
      if (key === undefined) return;
      const list = byRef.get(key) ?? [];
      if (!list.includes(target)) list.push(target);
      byRef.set(key, list);
    };
    for (const rule of rules) {
      const target: Target = { kind: "rule", rule };
      index(rule.rule.id, target);
      index(rule.rule.name, target);
    }
    for (const doc of correlations) {
      const target: Target = { kind: "correlation", doc };
      index(doc.id, target);
      index(doc.name, target);
    }

    const broken = new Set<SigmaCorrelation>();
    const resolved = new Map<SigmaCorrelation, { ref: string; targets: Target[] }[]>();
    for (const doc of correlations) {
      const positions: { ref: string; targets: Target[] }[] = [];
      const seen = new Set<Target>();
      for (const ref of doc.rules) {
        const targets = byRef.get(ref);
        if (targets === undefined) {
          report(
            doc,
            "R3_CORR_UNKNOWN_RULE",
            "error",
            `correlation names '${ref}', which is neither the id nor the name of a loaded rule or correlation`,
            locate(doc, "rules", ref, "item"),
          );
          broken.add(doc);
          continue;
        }
        if (targets.some((t) => seen.has(t))) {
          // The schema: `rules` has "uniqueItems": a rule twice would let one event satisfy two places.
          report(
            doc,
            "R3_CORR_DUPLICATE_RULE",
            "warning",
            `'${ref}' is named twice; it counts once`,
            locate(doc, "rules", ref, "item"),
          );
          continue;
        }
        if (targets.length > 1) {
          report(
            doc,
            "R3_CORR_AMBIGUOUS_RULE",
            "warning",
            `'${ref}' names ${targets.length} documents (${targets.map(targetRef).join(", ")}); all of them feed this place`,
            locate(doc, "rules", ref, "item"),
          );
        }
        for (const t of targets) seen.add(t);
        positions.push({ ref, targets });
      }
      resolved.set(doc, positions);

      const fields = doc.condition?.fields ?? [];
      if ((doc.type === "value_sum" || doc.type === "value_avg") && fields.length > 1) {
        report(doc, "R3_CORR_NUMERIC_FIELDS", "error", `a ${doc.type} correlation adds up exactly one field`);
        broken.add(doc);
      }
      if (
        (doc.type === "event_count" || doc.type === "temporal" || doc.type === "temporal_ordered") &&
        fields.length > 0
      ) {
        report(doc, "R3_CORR_FIELD_IGNORED", "warning", `a ${doc.type} correlation has no use for \`condition.field\``);
      }
      for (const [alias, perRule] of doc.aliases) {
        for (const key of perRule.keys()) {
          const known = positions.some((p) => p.ref === key || p.targets.some((t) => targetKeys(t).includes(key)));
          if (!known) {
            report(
              doc,
              "R3_CORR_ALIAS_UNKNOWN_RULE",
              "warning",
              `alias '${alias}' maps rule '${key}', which this correlation does not name`,
              locate(doc, "aliases", key, "key"),
            );
          }
        }
      }
    }

    // Chains must end: a correlation that feeds itself, directly or not, never settles.
    const order: SigmaCorrelation[] = [];
    const state = new Map<SigmaCorrelation, "visiting" | "done">();
    const stack: SigmaCorrelation[] = [];
    const inCycle = new Set<SigmaCorrelation>();
    const refAt = (doc: SigmaCorrelation, named: SigmaCorrelation): SourcePosition => {
      const ref = resolved
        .get(doc)
        ?.find((p) => p.targets.some((t) => t.kind === "correlation" && t.doc === named))?.ref;
      return locate(doc, "rules", ref, "item");
    };
    const visit = (doc: SigmaCorrelation): void => {
      state.set(doc, "visiting");
      stack.push(doc);
      for (const p of resolved.get(doc) ?? []) {
        for (const t of p.targets) {
          if (t.kind !== "correlation") continue;
          const s = state.get(t.doc);
          if (s === "visiting") {
            const cycle = stack.slice(stack.indexOf(t.doc));
            const path = [...cycle, t.doc].map((c) => `'${c.name ?? documentRef(c)}'`).join(" → ");
            cycle.forEach((c, i) => {
              if (inCycle.has(c)) return;
              const next = cycle[i + 1] ?? t.doc;
              report(
                c,
                "R3_CORR_CYCLE",
                "error",
                `correlations reference each other in a loop: ${path}`,
                refAt(c, next),
              );
              inCycle.add(c);
              broken.add(c);
            });
          } else if (s === undefined) {
            visit(t.doc);
          }
        }
      }
      stack.pop();
      state.set(doc, "done");
      order.push(doc);
    };
    for (const doc of correlations) if (!state.has(doc)) visit(doc);

    const correlatorOf = new Map<SigmaCorrelation, Correlator>();
    for (const doc of order) {
      const positions = resolved.get(doc) ?? [];
      const failed = positions
        .flatMap((p) => p.targets)
        .find((t) => t.kind === "correlation" && !correlatorOf.has(t.doc));
      if (!broken.has(doc) && failed?.kind === "correlation") {
        report(
          doc,
          "R3_CORR_DEPENDENCY_DISABLED",
          "error",
          `it names correlation '${targetRef(failed)}', which does not run`,
          refAt(doc, failed.doc),
        );
        broken.add(doc);
      }
      if (broken.has(doc)) continue;
      const correlator = new Correlator(doc, positions, limits, this.counters);
      const reachable = correlator.maxMeasure();
      const floor = correlator.lowerBound();
      if (reachable !== undefined && floor !== undefined && floor > reachable) {
        report(
          doc,
          "R3_CORR_UNREACHABLE",
          "warning",
          `the condition needs a ${doc.type} of at least ${floor}, but at most ${reachable} can be observed` +
            (doc.type.startsWith("temporal") ? " (the number of rules)" : " (maxEventsPerGroup)"),
        );
      }
      correlatorOf.set(doc, correlator);
      this.correlators.push(correlator);
      positions.forEach((p, position) => {
        for (const t of p.targets) {
          const key = targetKey(t);
          this.referenced.add(key);
          if (doc.generate) this.generated.add(key);
          if (t.kind === "rule") {
            const list = this.byRule.get(key) ?? [];
            list.push({ correlator, position });
            this.byRule.set(key, list);
          } else {
            correlatorOf.get(t.doc)?.dependents.push({ correlator, position });
          }
        }
      });
    }
    // In file order, as a reader of the content would meet them.
    this.diagnostics = diagnostics.sort((x, y) =>
      x.file < y.file ? -1 : x.file > y.file ? 1 : x.line - y.line || x.col - y.col,
    );
    this.disabledCount = correlations.length - this.correlators.length;
  }

  /**
   * Feeds one rule match. Returns the correlation hits it causes — through chains too — and those of windows
   * that its event time closes.
   */
  observe(match: RuleMatch): CorrelationMatch[] {
    const dependents = this.byRule.get(`${match.file}\u0000${match.ruleId}`);
    const time = Date.parse(match.event.time);
    if (Number.isNaN(time)) {
      if (dependents !== undefined) this.counters.badTime += 1;
      return [];
    }
    const out = this.advanceTo(time);
    if (dependents === undefined) return out;
    const input: Input = {
      time,
      timeText: match.event.time,
      eventId: match.event.id,
      rule: match,
      hit: undefined,
      view: new EventView(match.event),
    };
    for (const d of dependents) this.feed(d, input, out);
    return out;
  }

  /** Moves event time forward (an ISO time or epoch ms): closes the windows that end before it. */
  advance(time: string | number): CorrelationMatch[] {
    const ms = typeof time === "number" ? time : Date.parse(time);
    return Number.isNaN(ms) ? [] : this.advanceTo(ms);
  }

  /** End of input: closes and evaluates every open window, then forgets all state. */
  flush(): CorrelationMatch[] {
    const out: CorrelationMatch[] = [];
    for (const c of this.correlators) {
      for (const hit of c.closeAll()) this.emit(c, hit, out);
    }
    return out;
  }

  /** Whether a match is an alert on its own: not named by a running correlation, or named by one with `generate: true`. */
  standsAlone(match: RuleMatch | CorrelationMatch): boolean {
    const key = "ruleId" in match ? `${match.file}\u0000${match.ruleId}` : `${match.file}\u0000${match.correlationId}`;
    return !this.referenced.has(key) || this.generated.has(key);
  }

  stats(): CorrelationStats {
    let groups = 0;
    let events = 0;
    for (const c of this.correlators) {
      groups += c.groups.size;
      for (const g of c.groups.values()) events += g.entries.length;
    }
    return { ...this.counters, correlations: this.correlators.length, disabled: this.disabledCount, groups, events };
  }

  private advanceTo(time: number): CorrelationMatch[] {
    const out: CorrelationMatch[] = [];
    if (time <= this.watermark) return out;
    this.watermark = time;
    for (const c of this.correlators) {
      for (const hit of c.expire(time)) this.emit(c, hit, out);
    }
    return out;
  }

  private feed(dependent: Dependent, input: Input, out: CorrelationMatch[]): void {
    for (const hit of dependent.correlator.add(input, dependent.position)) this.emit(dependent.correlator, hit, out);
  }

  private emit(from: Correlator, hit: CorrelationMatch, out: CorrelationMatch[]): void {
    this.counters.fired += 1;
    out.push(hit);
    if (from.dependents.length === 0) return;
    const newest = newestEvent(hit);
    const input: Input = {
      time: Date.parse(hit.lastTime),
      timeText: hit.lastTime,
      eventId: undefined,
      rule: undefined,
      hit,
      view: newest === undefined ? undefined : new EventView(newest),
    };
    for (const d of from.dependents) this.feed(d, input, out);
  }
}

type Limits = { readonly maxGroups: number; readonly maxEvents: number; readonly maxListed: number };

/** One running correlation: its groups and how inputs change them. */
class Correlator {
  readonly doc: SigmaCorrelation;
  readonly groups = new Map<string, Group>();
  readonly dependents: Dependent[] = [];
  private readonly positions: readonly Position[];
  private readonly predicates: readonly Predicate[];
  /** Sliding windows deciding early, or closed windows deciding at their end (see the module comment). */
  private readonly sliding: boolean;
  private readonly limits: Limits;
  private readonly counters: Counters;
  private readonly meta: Omit<
    CorrelationMatch,
    "group" | "values" | "value" | "matches" | "correlations" | "omitted" | "firstTime" | "lastTime"
  >;

  constructor(
    doc: SigmaCorrelation,
    positions: readonly { ref: string; targets: readonly Target[] }[],
    limits: Limits,
    counters: Counters,
  ) {
    this.doc = doc;
    this.limits = limits;
    this.counters = counters;
    this.positions = positions.map((p) => {
      const keys = [p.ref, ...p.targets.flatMap(targetKeys)];
      // Spec: aliases "can then be referenced in `group-by` attributes and are resolved to their respective field
      // names"; a rule an alias does not map reads the field named like the alias.
      const field = (name: string): string => {
        const perRule = doc.aliases.get(name);
        for (const k of keys) {
          const f = perRule?.get(k);
          if (f !== undefined) return f;
        }
        return name;
      };
      return { groupFields: doc.groupBy.map(field), valueFields: (doc.condition?.fields ?? []).map(field) };
    });
    // Temporal types without a condition: "All events defined by the rules referred by the rule field must occur".
    this.predicates = doc.condition?.predicates ?? [{ operator: "gte", value: positions.length }];
    this.sliding = GROWING.has(doc.type) && this.predicates.every((p) => p.operator === "gt" || p.operator === "gte");
    const { techniques, tactics } = attackRefs(doc.tags);
    this.meta = {
      correlationId: documentRef(doc),
      name: doc.name,
      title: doc.title,
      level: doc.level ?? "medium",
      status: doc.status,
      author: doc.author,
      tags: doc.tags,
      techniques,
      tactics,
      file: doc.file,
      type: doc.type,
    };
  }

  /** The largest measure the limits allow, where they cap it. */
  maxMeasure(): number | undefined {
    if (this.doc.type === "temporal" || this.doc.type === "temporal_ordered") return this.positions.length;
    if (this.doc.type === "value_count" || (this.doc.type === "event_count" && this.sliding))
      return this.limits.maxEvents;
    return undefined;
  }

  /** The smallest integer measure the condition accepts, when it has a lower bound. */
  lowerBound(): number | undefined {
    let floor: number | undefined;
    for (const p of this.predicates) {
      const f = p.operator === "gt" ? Math.floor(p.value) + 1 : p.operator === "gte" ? Math.ceil(p.value) : undefined;
      if (f !== undefined) floor = Math.max(floor ?? f, f);
    }
    return floor;
  }

  add(input: Input, position: number): CorrelationMatch[] {
    const pos = this.positions[position];
    if (pos === undefined) return [];
    let key = "";
    let num = 0;
    const type = this.doc.type;
    if (type === "temporal" || type === "temporal_ordered") {
      key = String(position);
    } else if (type === "value_count" || type === "value_percentile") {
      const values = pos.valueFields.map((f) => fieldText(input, f));
      if (values.some((v) => v === undefined)) return [];
      key = JSON.stringify(values);
    } else if (type === "value_sum" || type === "value_avg") {
      const n = toNumber(fieldText(input, pos.valueFields[0] ?? ""));
      if (n === undefined) return [];
      num = n;
    }
    const values = pos.groupFields.map((f) => fieldText(input, f));
    // JSON keeps "absent" (null) apart from the string "null".
    const id = JSON.stringify(values);
    const entry: Entry = { input, position, key, num };
    return this.sliding ? this.addSliding(id, values, entry) : this.addWindowed(id, values, entry);
  }

  /** Closes the windows event time has passed; forgets sliding groups idle for a whole timespan. */
  expire(now: number): CorrelationMatch[] {
    const span = this.doc.timespanMs;
    const out: CorrelationMatch[] = [];
    // Map order is window-start order for closed windows and least-recent-update order for sliding ones.
    for (const [id, group] of this.groups) {
      if (this.sliding) {
        if (group.newest >= now - span) break;
        this.groups.delete(id);
      } else {
        if (group.start + span >= now) break;
        this.groups.delete(id);
        out.push(...this.close(group));
      }
    }
    return out;
  }

  closeAll(): CorrelationMatch[] {
    const out: CorrelationMatch[] = [];
    if (!this.sliding) for (const group of this.groups.values()) out.push(...this.close(group));
    this.groups.clear();
    return out;
  }

  private addSliding(id: string, values: readonly (string | undefined)[], entry: Entry): CorrelationMatch[] {
    const span = this.doc.timespanMs;
    let group = this.groups.get(id);
    if (group === undefined) group = this.newGroup(id, values, entry.input);
    else {
      // Re-inserting keeps the Map in least-recently-updated order for eviction and expiry.
      this.groups.delete(id);
      this.groups.set(id, group);
    }
    if (this.isRepeat(group, entry)) return [];
    const now = Math.max(group.newest, entry.input.time);
    if (entry.input.time < now - span) {
      this.counters.late += 1;
      return [];
    }
    group.newest = now;
    // Room first, so that the new event's value always finds a place in the distinct-value table.
    while ((group.entries[0]?.input.time ?? now) < now - span) this.removeOldest(group);
    while (group.entries.length >= this.limits.maxEvents) {
      this.removeOldest(group);
      this.counters.eventsEvicted += 1;
    }
    const atEnd = this.insert(group, entry);
    if (this.doc.type === "temporal_ordered") {
      if (atEnd) extendChains(group.chains, entry);
      else group.chains = chainsOf(group.entries, this.positions.length);
    }
    if (now <= group.silentUntil) return [];
    const measure = this.measure(group, now);
    if (!this.test(measure)) return [];
    group.silentUntil = now + span;
    return [this.slidingHit(group, measure, now)];
  }

  private addWindowed(id: string, values: readonly (string | undefined)[], entry: Entry): CorrelationMatch[] {
    const out: CorrelationMatch[] = [];
    let group = this.groups.get(id);
    if (group !== undefined && entry.input.time > group.start + this.doc.timespanMs) {
      this.groups.delete(id);
      out.push(...this.close(group));
      group = undefined;
    }
    group ??= this.newGroup(id, values, entry.input);
    if (this.isRepeat(group, entry)) return out;
    if (entry.input.time < group.first.time) group.first = entry.input;
    if (entry.input.time >= group.last.time) group.last = entry.input;
    group.newest = Math.max(group.newest, entry.input.time);
    this.insert(group, entry);
    // A closed window's measures stay exact past the cap: only the listed events are lost.
    while (group.entries.length > this.limits.maxEvents) {
      group.entries.shift();
      this.counters.eventsEvicted += 1;
    }
    return out;
  }

  private newGroup(id: string, values: readonly (string | undefined)[], first: Input): Group {
    if (this.groups.size >= this.limits.maxGroups) {
      const oldest = this.groups.keys().next();
      if (oldest.done !== true) {
        this.groups.delete(oldest.value);
        this.counters.groupsEvicted += 1;
      }
    }
    const group: Group = {
      values,
      entries: [],
      keys: new Map(),
      count: 0,
      sum: 0,
      start: first.time,
      newest: first.time,
      first,
      last: first,
      silentUntil: Number.NEGATIVE_INFINITY,
      lastEventId: undefined,
      chains: [],
    };
    this.groups.set(id, group);
    return group;
  }

  /** The same event again through another referenced rule (matches of one event arrive together). */
  private isRepeat(group: Group, entry: Entry): boolean {
    const eventId = entry.input.eventId;
    if (!EVENT_COUNTING.has(this.doc.type) || eventId === undefined) return false;
    if (group.lastEventId === eventId) return true;
    group.lastEventId = eventId;
    return false;
  }

  /** Adds to the entries (time order, after equal times) and the measures; true when it went to the end. */
  private insert(group: Group, entry: Entry): boolean {
    const entries = group.entries;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((entries[mid]?.input.time ?? 0) <= entry.input.time) lo = mid + 1;
      else hi = mid;
    }
    entries.splice(lo, 0, entry);
    group.count += 1;
    group.sum += entry.num;
    if (KEYED.has(this.doc.type)) {
      const stat = group.keys.get(entry.key);
      if (stat !== undefined) {
        stat.count += 1;
        if (entry.input.time < stat.first.time) stat.first = entry.input;
        if (entry.input.time >= stat.last.time) stat.last = entry.input;
      } else if (group.keys.size < this.limits.maxEvents) {
        group.keys.set(entry.key, { count: 1, first: entry.input, last: entry.input });
      } else {
        this.counters.valuesDropped += 1;
      }
    }
    return lo === entries.length - 1;
  }

  /** Sliding windows only: forgets the oldest entry and takes it out of the measures. */
  private removeOldest(group: Group): void {
    const entry = group.entries.shift();
    if (entry === undefined) return;
    group.count -= 1;
    group.sum -= entry.num;
    const stat = group.keys.get(entry.key);
    if (stat !== undefined && --stat.count <= 0) group.keys.delete(entry.key);
  }

  private measure(group: Group, now: number): number {
    switch (this.doc.type) {
      case "event_count":
        return group.count;
      case "value_count":
      case "temporal":
        return group.keys.size;
      case "temporal_ordered":
        return longestChain(group.chains, now - this.doc.timespanMs)?.entries.length ?? 0;
      case "value_sum":
        return group.sum;
      case "value_avg":
        return group.count === 0 ? Number.NaN : group.sum / group.count;
      case "value_percentile":
        // Per value; see close().
        return Number.NaN;
    }
  }

  private test(measure: number): boolean {
    if (Number.isNaN(measure)) return false;
    return this.predicates.every((p) => compare(p.operator, measure, p.value));
  }

  /** A sliding group fired at `now`: who contributed, per type. */
  private slidingHit(group: Group, measure: number, now: number): CorrelationMatch {
    const entries = this.contributors(group, now);
    const total = this.doc.type.startsWith("temporal") ? entries.length : group.count;
    const first = entries[0]?.input ?? group.first;
    const last = entries.at(-1)?.input ?? group.last;
    return this.hit(group, measure, undefined, entries, total, first, last);
  }

  private contributors(group: Group, now: number): Entry[] {
    if (this.doc.type === "temporal_ordered") {
      return [...(longestChain(group.chains, now - this.doc.timespanMs)?.entries ?? [])];
    }
    if (this.doc.type === "temporal") {
      // The newest match of each rule.
      const seen = new Set<number>();
      const out: Entry[] = [];
      for (let i = group.entries.length - 1; i >= 0; i--) {
        const e = group.entries[i];
        if (e === undefined || seen.has(e.position)) continue;
        seen.add(e.position);
        out.unshift(e);
      }
      return out;
    }
    return group.entries;
  }

  /** A closed window: evaluates the condition once. */
  private close(group: Group): CorrelationMatch[] {
    if (this.doc.type === "value_percentile") {
      const out: CorrelationMatch[] = [];
      for (const [key, stat] of group.keys) {
        const share = (stat.count * 100) / group.count;
        if (!this.test(share)) continue;
        const entries = group.entries.filter((e) => e.key === key);
        const parsed = JSON.parse(key) as string[];
        const values: Record<string, string> = {};
        (this.doc.condition?.fields ?? []).forEach((f, i) => (values[f] = parsed[i] ?? ""));
        out.push(this.hit(group, share, values, entries, stat.count, stat.first, stat.last));
      }
      return out;
    }
    if (this.doc.type === "temporal_ordered") group.chains = chainsOf(group.entries, this.positions.length);
    const measure = this.measure(group, group.newest);
    if (!this.test(measure)) return [];
    const entries = this.contributors(group, group.newest);
    const total = this.doc.type.startsWith("temporal") ? entries.length : group.count;
    const aggregate = !this.doc.type.startsWith("temporal");
    const first = aggregate ? group.first : (entries[0]?.input ?? group.first);
    const last = aggregate ? group.last : (entries.at(-1)?.input ?? group.last);
    return [this.hit(group, measure, undefined, entries, total, first, last)];
  }

  private hit(
    group: Group,
    value: number,
    values: Readonly<Record<string, string>> | undefined,
    entries: readonly Entry[],
    total: number,
    first: Input,
    last: Input,
  ): CorrelationMatch {
    const listed = entries.slice(Math.max(0, entries.length - this.limits.maxListed));
    const matches: RuleMatch[] = [];
    const correlations: CorrelationMatch[] = [];
    for (const e of listed) {
      if (e.input.rule !== undefined) matches.push(e.input.rule);
      if (e.input.hit !== undefined) correlations.push(e.input.hit);
    }
    const groupRecord: Record<string, string | null> = {};
    this.doc.groupBy.forEach((name, i) => (groupRecord[name] = group.values[i] ?? null));
    return {
      ...this.meta,
      group: groupRecord,
      values,
      value,
      matches,
      correlations,
      omitted: Math.max(0, total - listed.length),
      firstTime: first.timeText,
      lastTime: last.timeText,
    };
  }
}

function compare(operator: ConditionOperator, a: number, b: number): boolean {
  switch (operator) {
    case "gt":
      return a > b;
    case "gte":
      return a >= b;
    case "lt":
      return a < b;
    case "lte":
      return a <= b;
    case "eq":
      return a === b;
    case "neq":
      return a !== b;
  }
}

/**
 * temporal_ordered, one entry at a time in time order: chains[i] is the latest-starting chain matching
 * rules[0..i]. Keeping the latest start is enough: any chain a later event could complete within the timespan
 * could also be completed from it.
 */
function extendChains(chains: (Chain | undefined)[], entry: Entry): void {
  const i = entry.position;
  if (i === 0) {
    chains[0] = { start: entry.input.time, entries: [entry] };
    return;
  }
  const previous = chains[i - 1];
  const tail = previous?.entries.at(-1);
  // Spec: "the events appear in the order provided": two places are two events.
  if (previous === undefined || (tail?.input.eventId !== undefined && tail.input.eventId === entry.input.eventId))
    return;
  chains[i] = { start: previous.start, entries: [...previous.entries, entry] };
}

function chainsOf(entries: readonly Entry[], positions: number): (Chain | undefined)[] {
  const chains: (Chain | undefined)[] = new Array<Chain | undefined>(positions).fill(undefined);
  for (const e of entries) extendChains(chains, e);
  return chains;
}

/** The longest chain that starts inside the window. */
function longestChain(chains: readonly (Chain | undefined)[], windowStart: number): Chain | undefined {
  for (let i = chains.length - 1; i >= 0; i--) {
    const c = chains[i];
    if (c !== undefined && c.start >= windowStart) return c;
  }
  return undefined;
}

/** A field of an input as one string: undefined when absent, a list as its JSON. */
function fieldText(input: Input, field: string): string | undefined {
  if (input.hit !== undefined) {
    // A chained hit's group-by (and percentile) values first, then the fields of its newest event.
    const lower = field.toLowerCase();
    for (const [name, value] of [...Object.entries(input.hit.group), ...Object.entries(input.hit.values ?? {})]) {
      if (name.toLowerCase() === lower) return value ?? undefined;
    }
  }
  const strings = input.view?.strings(field);
  if (strings === undefined) return undefined;
  return strings.length === 1 ? strings[0] : JSON.stringify(strings);
}

function toNumber(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function newestEvent(hit: CorrelationMatch): Event | undefined {
  const rule = hit.matches.at(-1);
  const chained = hit.correlations.at(-1);
  if (rule === undefined) return chained === undefined ? undefined : newestEvent(chained);
  if (chained === undefined || Date.parse(rule.event.time) >= Date.parse(chained.lastTime)) return rule.event;
  return newestEvent(chained);
}

function targetKey(t: Target): string {
  return t.kind === "rule" ? `${t.rule.rule.file}\u0000${t.rule.ref}` : `${t.doc.file}\u0000${documentRef(t.doc)}`;
}

function targetRef(t: Target): string {
  return t.kind === "rule" ? t.rule.ref : documentRef(t.doc);
}

/** What aliases may key a target by (spec: "`<Sigma rule name>` is the name given by the `name` attribute"). */
function targetKeys(t: Target): string[] {
  const doc = t.kind === "rule" ? t.rule.rule : t.doc;
  return [doc.name, doc.id].filter((k) => k !== undefined);
}

/**
 * Where a diagnostic about a correlation points. The loader keeps only the document's position (0:0 when
 * the fast reader read it), so the line naming `needle` is found in the document's text: an item of the
 * `section` list, or a key under it.
 */
function locate(doc: SigmaCorrelation, section?: string, needle?: string, kind?: "item" | "key"): SourcePosition {
  const lines = doc.yaml.split(/\r?\n/);
  // `yaml` may start with `---`, comments or blank lines before the root mapping at `doc.pos`.
  const root = Math.max(
    0,
    lines.findIndex((l) => l.trim() !== "" && !l.startsWith("#") && !l.startsWith("---") && !l.startsWith("%")),
  );
  const lineOf = (index: number): number => (doc.pos.line > 0 ? doc.pos.line - root + index : index + 1);
  const start = { line: lineOf(root), col: doc.pos.col > 0 ? doc.pos.col : 1 };
  if (section === undefined || needle === undefined) return start;
  const from = lines.findIndex((l) => new RegExp(`^\\s*${section}\\s*:`).test(l));
  if (from < 0) return start;
  const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern =
    kind === "item"
      ? new RegExp(`^\\s*-\\s*["']?${escaped}["']?\\s*(#.*)?$`)
      : new RegExp(`^\\s*["']?${escaped}["']?\\s*:`);
  for (let i = from + 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (pattern.test(line)) return { line: lineOf(i), col: line.indexOf(needle) + 1 };
  }
  return start;
}
