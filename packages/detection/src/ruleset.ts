import type { Event } from "@ring3/schema";
import { AhoCorasickMatcher } from "./aho-corasick.ts";
import type { MatchExplanation } from "./compile.ts";
import type { CompiledRule } from "./compiled-rule.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { EventView } from "./event-view.ts";
import type { SigmaLogsource } from "./sigma-rule.ts";

/** One rule firing on one event. Carries the rule's author: the Detection Rule License requires it. */
export type RuleMatch = {
  readonly ruleId: string;
  readonly title: string;
  readonly level: string;
  readonly status: string | undefined;
  readonly author: string | undefined;
  readonly tags: readonly string[];
  readonly techniques: readonly string[];
  readonly tactics: readonly string[];
  readonly file: string;
  readonly event: Event;
  readonly explanation: MatchExplanation;
};

export type RulesetOptions = {
  /**
   * Categories that also see the events of another category, e.g. Sigma's `registry_event` rules run on
   * registry_add / registry_delete / registry_set / registry_rename events.
   */
  readonly categoryParents?: Readonly<Record<string, readonly string[]>>;
  /** Service names some rules use for the service events carry (rule's service → event's service). */
  readonly serviceAliases?: Readonly<Record<string, string>>;
  /** Per-rule, per-event time budget in milliseconds (default 25). A rule over it twice in a row is disabled. */
  readonly ruleTimeBudgetMs?: number;
  /** Monotonic clock in ms; defaults to `performance.now` where the host has it. */
  readonly clock?: () => number;
  /** Called when a rule is disabled at run time (it threw, or it was too slow). */
  readonly onRuleDisabled?: (diagnostic: Diagnostic) => void;
  /** Evaluate every rule of the logsource, without the literal prefilter (for tests and comparisons). */
  readonly prefilter?: boolean;
};

/** Sigma taxonomy: `registry_event` is the union of the four registry categories. */
export const DEFAULT_CATEGORY_PARENTS: Readonly<Record<string, readonly string[]>> = {
  registry_add: ["registry_event"],
  registry_delete: ["registry_event"],
  registry_set: ["registry_event"],
  registry_rename: ["registry_event"],
};

/**
 * The literals of one field, and a memo of which rules each recently seen value hits. Telemetry repeats itself
 * (the same Image, ParentImage, Hashes, User on thousands of events), so most values are looked up, not scanned.
 * The memo is bounded by characters held and simply starts over when full.
 */
type FieldIndex = {
  readonly field: string | undefined;
  readonly matcher: AhoCorasickMatcher;
  readonly memo: Map<string, readonly number[]>;
  memoChars: number;
  lookups: number;
  scans: number;
};

const MEMO_MAX_CHARS = 1 << 20;
const MEMO_MAX_VALUE = 2048;

function literalHits(entry: FieldIndex, raw: string): readonly number[] {
  entry.lookups += 1;
  const known = entry.memo.get(raw);
  if (known !== undefined) return known;
  entry.scans += 1;
  const found: number[] = [];
  entry.matcher.scan(raw.toLowerCase(), (id) => {
    if (!found.includes(id)) found.push(id);
  });
  if (raw.length <= MEMO_MAX_VALUE) {
    if (entry.memoChars + raw.length > MEMO_MAX_CHARS) {
      entry.memo.clear();
      entry.memoChars = 0;
    }
    entry.memo.set(raw, found);
    entry.memoChars += raw.length;
  }
  return found;
}

type Bucket = {
  readonly rules: readonly CompiledRule[];
  /** Bucket-local indexes of rules that the prefilter cannot rule out. */
  readonly always: readonly number[];
  readonly fields: readonly FieldIndex[];
  readonly marks: Uint32Array;
};

export type RulesetStats = {
  readonly rules: number;
  readonly disabled: number;
  readonly buckets: number;
  readonly prefilterStates: number;
  readonly unindexedRules: number;
  /** Field values looked up in the prefilter, and how many of them had to be scanned (not memoised). */
  readonly prefilterLookups: number;
  readonly prefilterScans: number;
};

/**
 * The rules of one load, indexed by logsource (an event only meets the rules whose logsource it satisfies)
 * and, inside each logsource, by the literals a rule cannot match without (Aho–Corasick over the fields those
 * literals belong to). Each rule runs in isolation: one that throws or overruns its time budget is disabled
 * and reported, and the others keep running — a content error must never take the sensor down.
 */
export class Ruleset {
  readonly rules: readonly CompiledRule[];
  private readonly disabledRules = new Map<CompiledRule, Diagnostic>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly parents: Readonly<Record<string, readonly string[]>>;
  private readonly serviceAliases: Readonly<Record<string, string>>;
  private readonly budget: number;
  private readonly clock: () => number;
  private readonly onRuleDisabled: ((d: Diagnostic) => void) | undefined;
  private readonly usePrefilter: boolean;
  private epoch = 0;
  private readonly overruns = new Map<CompiledRule, number>();

  constructor(rules: readonly CompiledRule[], options: RulesetOptions = {}) {
    this.rules = rules;
    this.parents = options.categoryParents ?? DEFAULT_CATEGORY_PARENTS;
    this.serviceAliases = options.serviceAliases ?? {};
    this.budget = options.ruleTimeBudgetMs ?? 25;
    const perf = (globalThis as { performance?: { now(): number } }).performance;
    this.clock = options.clock ?? (perf === undefined ? Date.now : () => perf.now());
    this.onRuleDisabled = options.onRuleDisabled;
    this.usePrefilter = options.prefilter ?? true;
  }

  /** Rules disabled at run time, with the reason. */
  get disabled(): readonly Diagnostic[] {
    return [...this.disabledRules.values()];
  }

  /** All rules whose logsource the event satisfies, in load order (before the prefilter). */
  rulesFor(logsource: SigmaLogsource): readonly CompiledRule[] {
    return this.bucket(logsource).rules;
  }

  match(event: Event): RuleMatch[] {
    const bucket = this.bucket(event.logsource);
    if (bucket.rules.length === 0) return [];
    const view = new EventView(event);
    const candidates = this.usePrefilter ? this.candidates(bucket, view) : bucket.rules.map((_, i) => i);
    const matches: RuleMatch[] = [];
    for (const index of candidates) {
      const rule = bucket.rules[index];
      if (rule === undefined || this.disabledRules.has(rule)) continue;
      const explanation = this.run(rule, view);
      if (explanation !== undefined) matches.push(toMatch(rule, event, explanation));
    }
    return matches;
  }

  stats(): RulesetStats {
    let states = 0;
    let unindexed = 0;
    let lookups = 0;
    let scans = 0;
    for (const b of this.buckets.values()) {
      for (const f of b.fields) {
        states += f.matcher.stateCount;
        lookups += f.lookups;
        scans += f.scans;
      }
      unindexed += b.always.length;
    }
    return {
      rules: this.rules.length,
      disabled: this.disabledRules.size,
      buckets: this.buckets.size,
      prefilterStates: states,
      unindexedRules: unindexed,
      prefilterLookups: lookups,
      prefilterScans: scans,
    };
  }

  /** The explanation when the rule matches; undefined when it does not or has just been disabled. */
  private run(rule: CompiledRule, view: EventView): MatchExplanation | undefined {
    const start = this.clock();
    let explanation: MatchExplanation | undefined;
    try {
      // Explaining evaluates selections that `test` short-circuited past, so it too can hit a content bug.
      explanation = rule.detection.test(view) ? rule.detection.explain(view) : undefined;
    } catch (error) {
      this.disable(rule, "R3_RULE_RUNTIME_ERROR", `rule threw while matching and was disabled: ${String(error)}`);
      return undefined;
    }
    const elapsed = this.clock() - start;
    if (elapsed > this.budget) {
      // One overrun can be a GC pause; two in a row is the rule.
      const count = (this.overruns.get(rule) ?? 0) + 1;
      this.overruns.set(rule, count);
      if (count >= 2) {
        this.disable(
          rule,
          "R3_RULE_TIME_BUDGET",
          `rule took ${elapsed.toFixed(1)} ms on one event (budget ${this.budget} ms) twice in a row and was disabled`,
        );
        return undefined;
      }
    } else if (this.overruns.size > 0) {
      this.overruns.delete(rule);
    }
    return explanation;
  }

  private disable(rule: CompiledRule, code: string, message: string): void {
    const diagnostic: Diagnostic = {
      code,
      severity: "error",
      message,
      file: rule.rule.file,
      line: 0,
      col: 0,
      rule: rule.ref,
    };
    this.disabledRules.set(rule, diagnostic);
    this.onRuleDisabled?.(diagnostic);
  }

  private candidates(bucket: Bucket, view: EventView): number[] {
    if (bucket.fields.length === 0) return bucket.always.slice();
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      bucket.marks.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    const marks = bucket.marks;
    const hits: number[] = [];
    for (const entry of bucket.fields) {
      const values = entry.field === undefined ? view.allStrings() : view.strings(entry.field);
      if (values === undefined) continue;
      for (const raw of values) {
        for (const id of literalHits(entry, raw)) {
          if (marks[id] !== epoch) {
            marks[id] = epoch;
            hits.push(id);
          }
        }
      }
    }
    for (const id of bucket.always) if (marks[id] !== epoch) hits.push(id);
    return hits.sort((a, b) => a - b);
  }

  private bucket(logsource: SigmaLogsource): Bucket {
    const key = `${logsource.product ?? ""}|${logsource.category ?? ""}|${logsource.service ?? ""}`;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = this.buildBucket(logsource);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private buildBucket(logsource: SigmaLogsource): Bucket {
    const categories = new Set<string>();
    if (logsource.category !== undefined) {
      categories.add(logsource.category);
      for (const parent of this.parents[logsource.category] ?? []) categories.add(parent);
    }
    const rules = this.rules.filter((r) => {
      const ls = r.rule.logsource;
      if (ls.product !== undefined && ls.product !== logsource.product) return false;
      if (ls.service !== undefined && (this.serviceAliases[ls.service] ?? ls.service) !== logsource.service)
        return false;
      if (ls.category !== undefined && !categories.has(ls.category)) return false;
      return true;
    });
    const always: number[] = [];
    const byField = new Map<string, { field: string | undefined; literals: { text: string; id: number }[] }>();
    rules.forEach((rule, index) => {
      const atoms = rule.detection.atoms;
      if (atoms === undefined || atoms.length === 0) {
        always.push(index);
        return;
      }
      for (const atom of atoms) {
        const key = atom.field === undefined ? "\u0000" : atom.field.toLowerCase();
        let entry = byField.get(key);
        if (entry === undefined) {
          entry = { field: atom.field, literals: [] };
          byField.set(key, entry);
        }
        entry.literals.push({ text: atom.literal, id: index });
      }
    });
    const fields = [...byField.values()].map((e): FieldIndex => ({
      field: e.field,
      matcher: new AhoCorasickMatcher(e.literals),
      memo: new Map(),
      memoChars: 0,
      lookups: 0,
      scans: 0,
    }));
    return { rules, always, fields, marks: new Uint32Array(rules.length) };
  }
}

function toMatch(rule: CompiledRule, event: Event, explanation: MatchExplanation): RuleMatch {
  const doc = rule.rule;
  return {
    ruleId: rule.ref,
    title: doc.title,
    level: doc.level ?? "medium",
    status: doc.status,
    author: doc.author,
    tags: doc.tags,
    techniques: rule.techniques,
    tactics: rule.tactics,
    file: doc.file,
    event,
    explanation,
  };
}
