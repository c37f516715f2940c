import type { Event } from "@ring3/schema";
import { AhoCorasickMatcher } from "./aho-corasick.ts";
import type { MatchExplanation } from "./compile.ts";
import type { CompiledRule } from "./compiled-rule.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { EventView, fieldSlot } from "./event-view.ts";
import type { SigmaLogsource } from "./sigma-rule.ts";
import { literalFold } from "./value-test.ts";

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
 * The literals of one field (or, `slot` -1, of keywords: every value of the event), each standing for one atom
 * set of one rule, and a memo of which sets each recently seen value hits. Telemetry repeats itself (the same
 * Image, ParentImage, Hashes, User on thousands of events), so most values are looked up, not scanned.
 */
type FieldIndex = {
  readonly slot: number;
  readonly matcher: AhoCorasickMatcher;
  /** Per literal id: the atom set it belongs to, its length, and whether it must begin (1) / end (2) the value. */
  readonly literalSet: Int32Array;
  readonly literalLength: Int32Array;
  readonly literalAnchor: Uint8Array;
  readonly memo: Map<string, Seen>;
};

/** A value the prefilter has seen: lower-cased (rules read it so too), and the atom sets it hits. */
type Seen = { readonly lower: string; readonly sets: readonly number[] };

/** Characters of values the memos of one ruleset hold at most; they all start over when it is reached. */
const MEMO_MAX_CHARS = 1 << 21;
const MEMO_MAX_VALUE = 2048;
const ANCHOR_START = 1;
const ANCHOR_END = 2;

type Bucket = {
  readonly rules: readonly CompiledRule[];
  /** Bucket-local indexes of rules that the prefilter cannot rule out. */
  readonly always: readonly number[];
  readonly fields: readonly FieldIndex[];
  /** Per rule: how many atom sets must have a hit (0: the rule is in `always`). */
  readonly need: Uint16Array;
  /** Per atom set: its rule. */
  readonly setRule: Int32Array;
  /** Per-event scratch, valid where the mark equals the ruleset's epoch. */
  readonly setMarks: Uint32Array;
  readonly ruleMarks: Uint32Array;
  readonly ruleHits: Uint16Array;
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
  /** Events matched, and rules evaluated on them after the prefilter. */
  readonly events: number;
  readonly evaluatedRules: number;
};

/**
 * The rules of one load, indexed by logsource (an event only meets the rules whose logsource it satisfies)
 * and, inside each logsource, by the literals a rule cannot match without (Aho–Corasick over the fields those
 * literals belong to; a rule is evaluated only when each of its atom sets has a hit). Each rule runs in
 * isolation: one that throws or overruns its time budget is disabled and reported, and the others keep
 * running — a content error must never take the sensor down.
 */
export class Ruleset {
  readonly rules: readonly CompiledRule[];
  private readonly disabledRules = new Map<CompiledRule, Diagnostic>();
  /** product → category → service → bucket ("" for a missing part). */
  private readonly buckets = new Map<string, Map<string, Map<string, Bucket>>>();
  private bucketCount = 0;
  private readonly parents: Readonly<Record<string, readonly string[]>>;
  private readonly serviceAliases: Readonly<Record<string, string>>;
  private readonly budget: number;
  private readonly clock: () => number;
  private readonly onRuleDisabled: ((d: Diagnostic) => void) | undefined;
  private readonly usePrefilter: boolean;
  private readonly overruns = new Map<CompiledRule, number>();
  private readonly view = new EventView({ id: "", time: "", host: "", logsource: {}, fields: {} });
  private viewInUse = false;
  private epoch = 0;
  private memoChars = 0;
  private eventCount = 0;
  private evaluated = 0;
  private lookups = 0;
  private scans = 0;

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
    // One view serves every event; a call from inside another (an `onRuleDisabled` handler) gets its own.
    const nested = this.viewInUse;
    const view = nested ? new EventView(event) : this.view;
    if (!nested) view.reset(event);
    this.viewInUse = true;
    try {
      const candidates = this.usePrefilter ? this.candidates(bucket, view) : bucket.rules.map((_, i) => i);
      this.eventCount += 1;
      this.evaluated += candidates.length;
      return this.evaluate(bucket, candidates, view);
    } finally {
      this.viewInUse = nested;
    }
  }

  stats(): RulesetStats {
    let states = 0;
    let unindexed = 0;
    for (const bucket of this.allBuckets()) {
      for (const f of bucket.fields) states += f.matcher.stateCount;
      unindexed += bucket.always.length;
    }
    return {
      rules: this.rules.length,
      disabled: this.disabledRules.size,
      buckets: this.bucketCount,
      prefilterStates: states,
      unindexedRules: unindexed,
      prefilterLookups: this.lookups,
      prefilterScans: this.scans,
      events: this.eventCount,
      evaluatedRules: this.evaluated,
    };
  }

  private *allBuckets(): Iterable<Bucket> {
    for (const byCategory of this.buckets.values())
      for (const byService of byCategory.values()) yield* byService.values();
  }

  /**
   * The candidates' matches. The clock is read around the whole batch, not around each rule (a clock read
   * costs as much as evaluating a rule): under the budget, no rule in it can be over. Over it, the batch is
   * evaluated again rule by rule with the clock, which finds the slow rule — rules are pure, so the second
   * run gives the same answers — at twice the cost, on slow events only.
   */
  private evaluate(bucket: Bucket, candidates: readonly number[], view: EventView): RuleMatch[] {
    const matches: RuleMatch[] = [];
    const start = this.clock();
    for (const index of candidates) {
      const rule = bucket.rules[index] as CompiledRule;
      if (this.disabledRules.size > 0 && this.disabledRules.has(rule)) continue;
      const explanation = this.explain(rule, view);
      if (explanation !== undefined) matches.push(toMatch(rule, view.event, explanation));
    }
    if (this.clock() - start > this.budget) return this.evaluateTimed(bucket, candidates, view);
    if (this.overruns.size > 0) for (const index of candidates) this.overruns.delete(bucket.rules[index] as CompiledRule);
    return matches;
  }

  private evaluateTimed(bucket: Bucket, candidates: readonly number[], view: EventView): RuleMatch[] {
    const matches: RuleMatch[] = [];
    for (const index of candidates) {
      const rule = bucket.rules[index] as CompiledRule;
      if (this.disabledRules.has(rule)) continue;
      const start = this.clock();
      const explanation = this.explain(rule, view);
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
          continue;
        }
      } else if (this.overruns.size > 0) {
        this.overruns.delete(rule);
      }
      if (explanation !== undefined) matches.push(toMatch(rule, view.event, explanation));
    }
    return matches;
  }

  /** The explanation when the rule matches; undefined when it does not or has just been disabled. */
  private explain(rule: CompiledRule, view: EventView): MatchExplanation | undefined {
    try {
      // Explaining evaluates selections that `test` short-circuited past, so it too can hit a content bug.
      return rule.detection.test(view) ? rule.detection.explain(view) : undefined;
    } catch (error) {
      this.disable(rule, "R3_RULE_RUNTIME_ERROR", `rule threw while matching and was disabled: ${String(error)}`);
      return undefined;
    }
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

  /** Bucket-local indexes, ascending, of the rules whose every atom set has a hit in the event, and `always`. */
  private candidates(bucket: Bucket, view: EventView): number[] {
    const hits: number[] = [];
    if (bucket.fields.length > 0) {
      this.epoch = (this.epoch + 1) >>> 0;
      if (this.epoch === 0) {
        for (const b of this.allBuckets()) {
          b.setMarks.fill(0);
          b.ruleMarks.fill(0);
        }
        this.epoch = 1;
      }
      const epoch = this.epoch;
      const { setMarks, ruleMarks, ruleHits, setRule, need } = bucket;
      for (const entry of bucket.fields) {
        const values = entry.slot < 0 ? view.allStrings() : view.stringsAt(entry.slot);
        if (values === undefined || values.length === 0) continue;
        const lower = new Array<string>(values.length);
        for (let i = 0; i < values.length; i += 1) {
          const seen = this.seen(entry, values[i] as string);
          lower[i] = seen.lower;
          const sets = seen.sets;
          for (let k = 0; k < sets.length; k += 1) {
            const set = sets[k] as number;
            if (setMarks[set] === epoch) continue;
            setMarks[set] = epoch;
            const rule = setRule[set] as number;
            if (ruleMarks[rule] !== epoch) {
              ruleMarks[rule] = epoch;
              ruleHits[rule] = 0;
            }
            ruleHits[rule] = (ruleHits[rule] as number) + 1;
            if (ruleHits[rule] === need[rule]) hits.push(rule);
          }
        }
        if (entry.slot < 0) view.setAllLowerStrings(lower);
        else view.setLowerStringsAt(entry.slot, lower);
      }
    }
    for (const index of bucket.always) hits.push(index);
    return hits.length > 1 ? hits.sort((a, b) => a - b) : hits;
  }

  private seen(entry: FieldIndex, raw: string): Seen {
    this.lookups += 1;
    const known = entry.memo.get(raw);
    if (known !== undefined) return known;
    this.scans += 1;
    const lower = raw.toLowerCase();
    const text = lower.includes("\u017f") ? literalFold(lower) : lower;
    const sets: number[] = [];
    entry.matcher.scan(text, (id, end) => {
      const anchor = entry.literalAnchor[id] as number;
      if ((anchor & ANCHOR_START) !== 0 && end !== entry.literalLength[id]) return;
      if ((anchor & ANCHOR_END) !== 0 && end !== text.length) return;
      const set = entry.literalSet[id] as number;
      if (!sets.includes(set)) sets.push(set);
    });
    const seen: Seen = { lower, sets };
    if (raw.length <= MEMO_MAX_VALUE) {
      if (this.memoChars + raw.length > MEMO_MAX_CHARS) {
        for (const b of this.allBuckets()) for (const f of b.fields) f.memo.clear();
        this.memoChars = 0;
      }
      entry.memo.set(raw, seen);
      this.memoChars += raw.length;
    }
    return seen;
  }

  private bucket(logsource: SigmaLogsource): Bucket {
    const product = logsource.product ?? "";
    const category = logsource.category ?? "";
    const service = logsource.service ?? "";
    let byCategory = this.buckets.get(product);
    if (byCategory === undefined) {
      byCategory = new Map();
      this.buckets.set(product, byCategory);
    }
    let byService = byCategory.get(category);
    if (byService === undefined) {
      byService = new Map();
      byCategory.set(category, byService);
    }
    let bucket = byService.get(service);
    if (bucket === undefined) {
      bucket = this.buildBucket(logsource);
      byService.set(service, bucket);
      this.bucketCount += 1;
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
    const need = new Uint16Array(rules.length);
    const setRule: number[] = [];
    type Entry = { slot: number; literals: { text: string; id: number }[]; sets: number[]; anchors: number[] };
    const byField = new Map<string, Entry>();
    rules.forEach((rule, index) => {
      const sets = (rule.detection.atoms ?? []).filter((set) => set.length > 0);
      if (sets.length === 0) {
        always.push(index);
        return;
      }
      need[index] = sets.length;
      for (const set of sets) {
        const id = setRule.length;
        setRule.push(index);
        for (const atom of set) {
          const key = atom.field === undefined ? "\u0000" : atom.field.toLowerCase();
          let entry = byField.get(key);
          if (entry === undefined) {
            entry = { slot: atom.field === undefined ? -1 : fieldSlot(atom.field), literals: [], sets: [], anchors: [] };
            byField.set(key, entry);
          }
          entry.literals.push({ text: atom.text, id: entry.literals.length });
          entry.sets.push(id);
          entry.anchors.push((atom.start ? ANCHOR_START : 0) | (atom.end ? ANCHOR_END : 0));
        }
      }
    });
    const fields = [...byField.values()].map(
      (e): FieldIndex => ({
        slot: e.slot,
        matcher: new AhoCorasickMatcher(e.literals),
        literalSet: Int32Array.from(e.sets),
        literalLength: Int32Array.from(e.literals, (l) => l.text.length),
        literalAnchor: Uint8Array.from(e.anchors),
        memo: new Map(),
      }),
    );
    return {
      rules,
      always,
      fields,
      need,
      setRule: Int32Array.from(setRule),
      setMarks: new Uint32Array(setRule.length),
      ruleMarks: new Uint32Array(rules.length),
      ruleHits: new Uint16Array(rules.length),
    };
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
