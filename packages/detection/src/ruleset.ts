import type { Event, FieldValue } from "@ring3/schema";
import { AhoCorasickMatcher, ROW_STATES } from "./aho-corasick.ts";
import type { MatchExplanation } from "./compile.ts";
import type { CompiledRule } from "./compiled-rule.ts";
import { programOf, run, testsValues } from "./condition-program.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { equalsIgnoringCase, EventView, fieldName, fieldSlot, fieldStrings } from "./event-view.ts";
import type { SigmaLogsource } from "./sigma-rule.ts";
import { regexUnion } from "./regex-dfa.ts";
import type { FieldOp, Literal, RegexProgram, Requirement, ValueTest } from "./value-test.ts";
import { literalFold, literalGroupCount, valueMatches, VT } from "./value-test.ts";

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
  /** Worked out from `event` when first read (see `Ruleset.toMatch`). */
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
 * What a value holds, as its field's index finds it: the offset of its record in the ruleset's hit pool
 * (`Ruleset.pool`), `[setEnd, vetoEnd, end, …]` as offsets in the pool, then from offset + 3 the atom sets,
 * from `setEnd` the vetoes (rule indexes), from `vetoEnd` the literal groups (group ids). The records of all
 * values lie in one array, and a memo maps a value to a small integer: looking a value up then reads the
 * record itself, where a typed array per value would cost one more cache miss (its header) and an allocation.
 * The pool keeps the records of the memos' values; the record of a value seen once is laid out past them, and
 * is valid until the next scan (see `Ruleset.hits`).
 */
type Hits = number;

type Predicate = {
  readonly test: ValueTest;
  readonly cased: boolean;
  readonly set: number;
  /** Whether the index's `gate` answers for it. */
  readonly gated: boolean;
};

/**
 * An Aho–Corasick automaton over the literals the bucket's rules look for in one field — their atom sets,
 * vetoes and literal groups, and the keywords' (a keyword is looked for in every value) — with a memo of what
 * each recently seen value holds. Telemetry repeats itself (the same Image, ParentImage, Hashes, User on
 * thousands of events), so most values are looked up, not scanned, and each value once. Requirements that are
 * tests (a regex with no literal) run on each new value.
 */
type FieldIndex = {
  readonly matcher: AhoCorasickMatcher;
  /** Values seen at least twice, and values seen once lately (see `Ruleset.hits`). */
  readonly memo: Map<string, Hits>;
  readonly once: Set<string>;
  readonly predicates: readonly Predicate[];
  /**
   * The regexes of the predicates on raw values, as one (see `regexUnion`): a new value, which mostly holds
   * none, is read once rather than once per regex.
   */
  readonly gate: RegexProgram | undefined;
  /** With no predicates, a value shorter than every literal holds nothing. */
  readonly minLength: number;
  /** Whether the spelling of a number or boolean can hold a literal (lookups skip them otherwise). */
  readonly scalars: boolean;
  /** The field, as the rules spell it; "" for the keywords' own index. */
  readonly name: string;
  readonly slot: number;
  /** Position in the bucket's `fields` (-1 for the keywords' own index). */
  readonly position: number;
  /** The bucket's `vetoBase` and `groupBase`. */
  readonly vetoBase: number;
  readonly groupBase: number;
};

/**
 * Which indexes look at the value of an event key: the index of the field spelled so (else the keywords'
 * own index), and the indexes of fields spelled otherwise that the key answers when the event has no key
 * spelled as they are (Sigma field names are case-insensitive).
 */
type Route = { readonly primary: FieldIndex | undefined; readonly others: readonly FieldIndex[] };

/** The record of a value that holds nothing; it starts the pool. */
const NO_HITS: Hits = 0;
const POOL_START = 3;
/**
 * Ints the hit pool holds at most (4 MB); when a record to keep would not fit, every memo starts over. The
 * memos' limit in characters (`MEMO_MAX_CHARS`) nearly always comes first: most values hold nothing, and
 * take no room.
 */
const POOL_MAX = 1 << 20;

/** Characters of values the memos of one ruleset hold at most; they all start over when it is reached. */
const MEMO_MAX_CHARS = 1 << 20;
/** Values an index remembers having seen once; it forgets them all when it reaches this. */
const ONCE_MAX = 1024;
const MEMO_MAX_VALUE = 2048;
/** Every character `String(number)` and `String(boolean)` can produce. */
const SCALAR_CHARS = /^[0-9.+\-einfatyrulsn]*$/;
/** Below this many candidates, sorting by insertion beats the library sort. */
const INSERTION_SORT_MAX = 32;
/** One event in this many counts how often each atom set is hit (see `Bucket.ruleTrigger`)… */
const SAMPLE_EVERY = 8;
/** …and after this many counted events, each rule's trigger is chosen again. */
const RETRIGGER_AFTER = 4096;

type Bucket = {
  readonly rules: readonly CompiledRule[];
  /** Per rule, what its matches say of it (see `MatchInfo`). */
  readonly matchInfo: readonly MatchInfo[];
  /**
   * Per rule, the test it is evaluated with: its `afterVetoes` (the candidates are those no veto ruled out:
   * what the vetoes decide is decided), else its `test`. Most are condition programs, whose code is laid out
   * here one after another (`code` from `codeAt[rule]`, -1 for a test that is not a program) with their ops:
   * a rule evaluated a few times a second has cold data, and reaching it through the rule, its detection,
   * the test function and the program would cost a cache miss at each step.
   */
  readonly tests: readonly ((view: EventView) => boolean)[];
  readonly code: Int32Array;
  readonly codeAt: Int32Array;
  readonly ops: readonly (readonly FieldOp[])[];
  /**
   * Per rule, 1 when its evaluation is timed against the budget: its test is not a program, or a program that
   * tests values (see `testsValues`). The others only read the prefilter's marks, cannot overrun, and spare
   * the clock, which costs more than such a rule (see `evaluate`).
   */
  readonly timed: Uint8Array;
  /** Bucket-local indexes of rules that the prefilter cannot rule out. */
  readonly always: readonly number[];
  /** Per field the rules name (keywords included, see `FieldIndex`), and for keywords alone. */
  readonly fields: readonly FieldIndex[];
  readonly keywords: FieldIndex | undefined;
  /** The `fields` whose name has a dot: an event may hold them nested rather than under a key. */
  readonly dotted: readonly FieldIndex[];
  readonly routes: Map<string, Route>;
  /** The previous event's keys and their routes, by position: events of one source share their keys. */
  readonly recentKeys: string[];
  readonly recentRoutes: Route[];
  /** Per field index: the epoch of the event that last looked it up. */
  readonly fieldMarks: Uint32Array;
  /**
   * Per rule, its atom sets: `ruleSetIds[ruleSets[rule]…ruleSets[rule + 1]]` (none: the rule is in `always`).
   * Sets are numbered by content: the rules that look for the same literals in the same fields (a shared
   * `Image|endswith: '\\cmd.exe'` selection) share one set, which a value then marks once.
   */
  readonly ruleSets: Int32Array;
  readonly ruleSetIds: Int32Array;
  /**
   * Per rule, its trigger: one of its sets. A rule is a candidate when all its sets have a hit; a hit on a set
   * is noted, and only a hit on a trigger makes the rule's other sets be checked — so the trigger had better be
   * the set events hit least, and it is: the ruleset counts the hits on a sample of the events, and chooses
   * again now and then (see `retrigger`). Which set it is changes nothing but the time taken.
   */
  readonly ruleTrigger: Int32Array;
  /** Per set, the rules it is the trigger of: `triggerRules[triggerStart[set]…triggerStart[set + 1]]`. */
  readonly triggerStart: Int32Array;
  readonly triggerRules: Int32Array;
  /** Per atom set: its hits counted on the sample, halved at every new choice. */
  readonly setSeen: Uint32Array;
  /** Events seen (for the sample), and counted events since triggers were last chosen. */
  events: number;
  sampled: number;
  /** Where the ids of vetoes and of literal groups start in the literals' ids (see `buildBucket`). */
  readonly vetoBase: number;
  readonly groupBase: number;
  /** By literal group id: 1 for the groups of the bucket's rules, which the lookups mark in the view. */
  readonly groupsKnown: Uint8Array;
  /** Per-event scratch, valid where the mark equals the ruleset's epoch. */
  readonly setMarks: Uint32Array;
  readonly ruleMarks: Uint32Array;
  /** The rules whose trigger the event has hit (`triggeredCount` of them). */
  readonly triggered: Int32Array;
  /** Per rule: the epoch of the last event a veto (see `CompiledDetection.vetoes`) ruled it out of. */
  readonly vetoMarks: Uint32Array;
  /** The candidates of the event being matched (bucket-local rule indexes). */
  readonly candidates: Int32Array;
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
  /** The bucket of the previous event's logsource (see `bucket`). */
  private lastBucket:
    | {
        readonly product: string | undefined;
        readonly category: string | undefined;
        readonly service: string | undefined;
        readonly bucket: Bucket;
      }
    | undefined;
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
  /** Whether a veto was found in the event being matched; how many rules had their trigger hit in it. */
  private vetoed = false;
  private triggeredCount = 0;
  /** Whether the event being matched counts atom set hits (see `Bucket.ruleTrigger`). */
  private sampling = false;
  /** Scratch of `sets` and `groupHits`: the ids a scan finds. */
  private readonly found: number[] = [];
  private memoChars = 0;
  /** The hit records (see `Hits`), `poolUsed` of it. */
  private pool: Int32Array = new Int32Array(1024).fill(POOL_START, 0, POOL_START);
  private poolUsed = POOL_START;
  private eventCount = 0;
  private evaluated = 0;
  private lookups = 0;
  private scans = 0;
  private readonly explainer = (rule: CompiledRule, event: Event): MatchExplanation => this.explainMatch(rule, event);

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
    // One view serves every event; a call from inside another (an `onRuleDisabled` handler) gets its own, and
    // its own candidate list.
    const nested = this.viewInUse;
    const view = nested ? new EventView(event) : this.view;
    if (!nested) view.reset(event);
    this.viewInUse = true;
    try {
      const candidates = nested ? new Int32Array(bucket.rules.length) : bucket.candidates;
      const count = this.candidates(bucket, view, candidates);
      this.eventCount += 1;
      this.evaluated += count;
      return this.evaluate(bucket, candidates, count, view);
    } finally {
      this.viewInUse = nested;
    }
  }

  stats(): RulesetStats {
    let states = 0;
    let unindexed = 0;
    for (const bucket of this.allBuckets()) {
      for (const f of bucket.fields) states += f.matcher.stateCount;
      if (bucket.keywords !== undefined) states += bucket.keywords.matcher.stateCount;
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
   * run gives the same answers — at twice the cost, on slow events only. The batch's time is taken from its
   * first timed rule on (see `Bucket.timed`), and not at all when it has none.
   */
  private evaluate(bucket: Bucket, candidates: Int32Array, count: number, view: EventView): RuleMatch[] {
    const matches: RuleMatch[] = [];
    // Most events leave no candidate: nothing to time.
    if (count === 0) return matches;
    let timing = false;
    let start = 0;
    for (let i = 0; i < count; i += 1) {
      const index = candidates[i] as number;
      const rule = bucket.rules[index] as CompiledRule;
      if (this.disabledRules.size > 0 && this.disabledRules.has(rule)) continue;
      if (!timing && bucket.timed[index] === 1) {
        timing = true;
        start = this.clock();
      }
      if (this.holds(bucket, index, view)) matches.push(this.toMatch(bucket, index, view.event));
    }
    if (timing && this.clock() - start > this.budget) return this.evaluateTimed(bucket, candidates, count, view);
    if (this.overruns.size > 0)
      for (let i = 0; i < count; i += 1) this.overruns.delete(bucket.rules[candidates[i] as number] as CompiledRule);
    return matches;
  }

  private evaluateTimed(bucket: Bucket, candidates: Int32Array, count: number, view: EventView): RuleMatch[] {
    const matches: RuleMatch[] = [];
    for (let i = 0; i < count; i += 1) {
      const index = candidates[i] as number;
      const rule = bucket.rules[index] as CompiledRule;
      if (this.disabledRules.has(rule)) continue;
      if (bucket.timed[index] === 0) {
        if (this.holds(bucket, index, view)) matches.push(this.toMatch(bucket, index, view.event));
        continue;
      }
      const start = this.clock();
      const holds = this.holds(bucket, index, view);
      const elapsed = this.clock() - start;
      if (elapsed > this.budget) {
        // One overrun can be a GC pause; two in a row is the rule.
        const overruns = (this.overruns.get(rule) ?? 0) + 1;
        this.overruns.set(rule, overruns);
        if (overruns >= 2) {
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
      if (holds) matches.push(this.toMatch(bucket, index, view.event));
    }
    return matches;
  }

  /** Whether the bucket's rule `index` matches; false when it throws (it is then disabled). */
  private holds(bucket: Bucket, index: number, view: EventView): boolean {
    try {
      const at = bucket.codeAt[index] as number;
      return at >= 0
        ? run(bucket.code, at, bucket.ops[index] as readonly FieldOp[], view)
        : (bucket.tests[index] as (view: EventView) => boolean)(view);
    } catch (error) {
      const rule = bucket.rules[index] as CompiledRule;
      this.disable(rule, "R3_RULE_RUNTIME_ERROR", `rule threw while matching and was disabled: ${String(error)}`);
      return false;
    }
  }

  private toMatch(bucket: Bucket, index: number, event: Event): RuleMatch {
    return new LazyRuleMatch(bucket.matchInfo[index] as MatchInfo, event, this.explainer);
  }

  /**
   * Explaining evaluates selections that `test` short-circuited past, so it too can meet a content bug: the
   * rule is then disabled like one that throws while matching, and the match says why it has no explanation.
   */
  private explainMatch(rule: CompiledRule, event: Event): MatchExplanation {
    try {
      return rule.detection.explain(new EventView(event));
    } catch (error) {
      const message = `rule threw while explaining a match and was disabled: ${String(error)}`;
      if (!this.disabledRules.has(rule)) this.disable(rule, "R3_RULE_RUNTIME_ERROR", message);
      return { condition: "", selections: [], error: message };
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

  /**
   * Fills `out` with the bucket-local indexes, ascending, of the rules whose every atom set has a hit in the
   * event and that no veto rules out, and of `always`; returns how many. Each value of the event is looked up
   * once, through the route of its key; fields the rules name with a dot may also be nested, and are read
   * through the view. The lookups also mark in the view the literal groups the values hold.
   */
  private candidates(bucket: Bucket, view: EventView, out: Int32Array): number {
    if (!this.usePrefilter) {
      view.setGroupsKnown(undefined);
      for (let i = 0; i < bucket.rules.length; i += 1) out[i] = i;
      return bucket.rules.length;
    }
    view.setGroupsKnown(bucket.groupsKnown);
    let count = 0;
    this.vetoed = false;
    this.triggeredCount = 0;
    this.sampling = bucket.events++ % SAMPLE_EVERY === 0;
    if (bucket.fields.length > 0 || bucket.keywords !== undefined) {
      const epoch = this.nextEpoch();
      const fields = view.event.fields;
      const marks = bucket.fieldMarks;
      // Both lists at once: reading the keys of objects of many shapes one by one costs several times more.
      const keys = Object.keys(fields);
      const values = Object.values(fields);
      for (let position = 0; position < keys.length; position += 1) {
        const key = keys[position] as string;
        let route: Route;
        if (bucket.recentKeys[position] === key) route = bucket.recentRoutes[position] as Route;
        else {
          route = bucket.routes.get(key) ?? this.route(bucket, key);
          bucket.recentKeys[position] = key;
          bucket.recentRoutes[position] = route;
        }
        const primary = route.primary;
        if (primary !== undefined) {
          if (primary.position >= 0) marks[primary.position] = epoch;
          this.lookUp(bucket, primary, values[position] as FieldValue, view);
        }
        for (let i = 0; i < route.others.length; i += 1) {
          // The key answers for a field spelled otherwise only when no key is spelled as it, and only the
          // first such key does (as `EventView.value` reads it).
          const index = route.others[i] as FieldIndex;
          if (marks[index.position] === epoch || Object.hasOwn(fields, index.name)) continue;
          marks[index.position] = epoch;
          this.lookUp(bucket, index, values[position] as FieldValue, view);
        }
      }
      for (const index of bucket.dotted) {
        if (marks[index.position] === epoch) continue;
        const values = view.stringsAt(index.slot);
        if (values === undefined) continue;
        for (let i = 0; i < values.length; i += 1) this.mark(bucket, this.hits(index, values[i] as string), view);
      }
      const { triggered, ruleSets, ruleSetIds, setMarks } = bucket;
      for (let t = 0; t < this.triggeredCount; t += 1) {
        const rule = triggered[t] as number;
        let all = true;
        for (let k = ruleSets[rule] as number; k < (ruleSets[rule + 1] as number); k += 1) {
          if (setMarks[ruleSetIds[k] as number] !== epoch) {
            all = false;
            break;
          }
        }
        if (all) out[count++] = rule;
      }
      if (this.sampling && ++bucket.sampled >= RETRIGGER_AFTER) retrigger(bucket);
    }
    for (let i = 0; i < bucket.always.length; i += 1) out[count++] = bucket.always[i] as number;
    if (this.vetoed) {
      const vetoes = bucket.vetoMarks;
      let kept = 0;
      for (let i = 0; i < count; i += 1) {
        const rule = out[i] as number;
        if (vetoes[rule] !== this.epoch) out[kept++] = rule;
      }
      count = kept;
    }
    if (count > INSERTION_SORT_MAX) out.subarray(0, count).sort();
    else {
      for (let i = 1; i < count; i += 1) {
        const v = out[i] as number;
        let j = i - 1;
        for (; j >= 0 && (out[j] as number) > v; j -= 1) out[j + 1] = out[j] as number;
        out[j + 1] = v;
      }
    }
    return count;
  }

  private nextEpoch(): number {
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      for (const b of this.allBuckets()) {
        b.setMarks.fill(0);
        b.ruleMarks.fill(0);
        b.fieldMarks.fill(0);
        b.vetoMarks.fill(0);
      }
      this.epoch = 1;
    }
    return this.epoch;
  }

  /** The route of an event key in the bucket, made on the key's first sight (see `Route`). */
  private route(bucket: Bucket, key: string): Route {
    let primary = bucket.keywords;
    const others: FieldIndex[] = [];
    for (const index of bucket.fields) {
      if (index.name === key) primary = index;
      else if (index.name.length === key.length && equalsIgnoringCase(index.name, key)) others.push(index);
    }
    const route = { primary, others };
    bucket.routes.set(key, route);
    return route;
  }

  /** Takes in what the value (all of its strings) holds. */
  private lookUp(bucket: Bucket, index: FieldIndex, value: FieldValue, view: EventView): void {
    if (typeof value === "string") {
      if (value.length >= index.minLength) this.mark(bucket, this.hits(index, value), view);
      return;
    }
    if (value === null || (!index.scalars && typeof value !== "object")) return;
    for (const s of fieldStrings(value)) if (s.length >= index.minLength) this.mark(bucket, this.hits(index, s), view);
  }

  /** Notes the atom sets, vetoes and literal groups a value holds (see `Hits`). */
  private mark(bucket: Bucket, at: Hits, view: EventView): void {
    const epoch = this.epoch;
    const hits = this.pool;
    const setEnd = hits[at] as number;
    const vetoEnd = hits[at + 1] as number;
    const end = hits[at + 2] as number;
    const { triggerStart, triggerRules, setMarks, ruleMarks, triggered } = bucket;
    for (let k = at + 3; k < setEnd; k += 1) {
      const set = hits[k] as number;
      setMarks[set] = epoch;
      const last = triggerStart[set + 1] as number;
      for (let r = triggerStart[set] as number; r < last; r += 1) {
        const rule = triggerRules[r] as number;
        if (ruleMarks[rule] !== epoch) {
          ruleMarks[rule] = epoch;
          triggered[this.triggeredCount++] = rule;
        }
      }
    }
    if (this.sampling) {
      const seen = bucket.setSeen;
      for (let k = at + 3; k < setEnd; k += 1) {
        const set = hits[k] as number;
        seen[set] = (seen[set] as number) + 1;
      }
    }
    if (vetoEnd > setEnd) {
      this.vetoed = true;
      for (let k = setEnd; k < vetoEnd; k += 1) bucket.vetoMarks[hits[k] as number] = epoch;
    }
    if (end > vetoEnd) view.markGroups(hits, vetoEnd, end);
  }

  /**
   * What a value holds. The memo: a value's answer is kept once it has been seen twice. Most values repeat,
   * and are looked up; the others (a new command line, a temporary file's name) would only fill the memo and
   * make it start over, so a value seen once is only noted, in a small set that is dropped when full.
   */
  private hits(index: FieldIndex, raw: string): Hits {
    this.lookups += 1;
    const known = index.memo.get(raw);
    return known === undefined ? this.unknown(index, raw) : known;
  }

  /** `hits` for a value not in the memo. */
  private unknown(index: FieldIndex, raw: string): Hits {
    this.scans += 1;
    if (index.once.has(raw)) {
      // Seen twice: scanned again, and its record kept. Room is made first, so that the memos starting over
      // do not drop the record just laid out.
      if (this.memoChars + raw.length > MEMO_MAX_CHARS) this.forgetMemos();
      const hits = this.scan(index, raw, true);
      index.memo.set(raw, hits);
      this.memoChars += raw.length;
      return hits;
    }
    // Seen once: its record is laid out past the kept ones, and read by the caller before the next scan. Only
    // values that come back take room in the pool, so a stream of new values does not make the memos start
    // over, nor leave records behind.
    const hits = this.scan(index, raw, false);
    if (raw.length <= MEMO_MAX_VALUE) {
      if (index.once.size >= ONCE_MAX) index.once.clear();
      index.once.add(raw);
    }
    return hits;
  }

  /** What `raw` holds, scanned; with `keep`, its record stays in the pool (see `Hits`). */
  private scan(index: FieldIndex, raw: string, keep: boolean): Hits {
    const found = this.found;
    found.length = 0;
    let lower: string | undefined;
    if (!index.matcher.findFolded(raw, found)) {
      // Not ASCII. Vetoes and literal groups decide ops, so they are looked for in the value lower-cased as
      // the ops lower-case it; atom sets only have to miss nothing, and are also looked for in the value as
      // `literalFold` makes it (see there).
      found.length = 0;
      lower = raw.toLowerCase();
      index.matcher.find(lower, found);
      const folded = literalFold(lower);
      if (folded !== lower) {
        const loose: number[] = [];
        index.matcher.find(folded, loose);
        for (const id of loose) if (id < index.vetoBase) found.push(id);
      }
    }
    let gated = false;
    try {
      gated = index.gate !== undefined && !index.gate.test(raw);
    } catch {
      // Each predicate is then run, and meets the error itself.
    }
    for (const p of index.predicates) {
      if ((gated && p.gated) || found.includes(p.set)) continue;
      let holds = true;
      try {
        holds = valueMatches(p.test, p.cased ? raw : (lower ??= raw.toLowerCase()));
      } catch {
        // The rule's own evaluation meets the same error, and is disabled for it.
      }
      if (holds) found.push(p.set);
    }
    return found.length === 0 ? NO_HITS : this.record(found, index.vetoBase, index.groupBase, keep);
  }

  /**
   * Lays out the literals' ids a scan found as a record (see `Hits`). An id may come twice (two literals of
   * one atom set): noting it twice changes nothing, so they are neither sorted nor made distinct.
   */
  private record(ids: readonly number[], vetoBase: number, groupBase: number, keep: boolean): Hits {
    const size = ids.length + 3;
    if (keep && this.poolUsed + size > POOL_MAX) this.forgetMemos();
    if (this.poolUsed + size > this.pool.length) {
      const grown = new Int32Array(Math.max(this.pool.length * 2, this.poolUsed + size));
      grown.set(this.pool.subarray(0, this.poolUsed));
      this.pool = grown;
    }
    let sets = 0;
    let vetoes = 0;
    for (let i = 0; i < ids.length; i += 1) {
      const id = ids[i] as number;
      if (id < vetoBase) sets += 1;
      else if (id < groupBase) vetoes += 1;
    }
    const at = this.poolUsed;
    const out = this.pool;
    let set = at + 3;
    let veto = set + sets;
    let group = veto + vetoes;
    out[at] = veto;
    out[at + 1] = group;
    out[at + 2] = at + size;
    for (let i = 0; i < ids.length; i += 1) {
      const id = ids[i] as number;
      if (id < vetoBase) out[set++] = id;
      else if (id < groupBase) out[veto++] = id - vetoBase;
      else out[group++] = id - groupBase;
    }
    if (keep) this.poolUsed = at + size;
    return at;
  }

  /** Empties every memo, and the pool of their records. */
  private forgetMemos(): void {
    for (const b of this.allBuckets()) {
      for (const f of b.fields) f.memo.clear();
      b.keywords?.memo.clear();
    }
    this.memoChars = 0;
    this.poolUsed = POOL_START;
  }

  private bucket(logsource: SigmaLogsource): Bucket {
    // Events of one source come in runs, their logsource spelled with the same strings, which compare at once.
    const last = this.lastBucket;
    if (
      last !== undefined &&
      logsource.product === last.product &&
      logsource.category === last.category &&
      logsource.service === last.service
    ) {
      return last.bucket;
    }
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
    this.lastBucket = { product: logsource.product, category: logsource.category, service: logsource.service, bucket };
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
    const ruleSets = new Int32Array(rules.length + 1);
    const ruleSetIds: number[] = [];
    // Sets by content: each requirement as its field's slot, anchors and text (after its length, so that keys
    // joined stay apart whatever the text holds), or the identity of its test.
    const setIds = new Map<string, number>();
    const testIds = new Map<ValueTest, number>();
    const requirementKey = (slot: number, r: Requirement): string => {
      if (r.test === null) return `${slot}${r.start ? "^" : "-"}${r.end ? "$" : "-"}${r.text.length}:${r.text}`;
      let id = testIds.get(r.test);
      if (id === undefined) {
        id = testIds.size;
        testIds.set(r.test, id);
      }
      return `${slot}${r.cased ? "c" : "i"}#${id}`;
    };
    // What each literal stands for, before the ids are laid out (see `Hits`).
    const SET = 0;
    const VETO = 1;
    const GROUP = 2;
    type Entry = { literals: (Literal & { kind: number; of: number })[]; predicates: Predicate[] };
    // By the field's spelling: an event may have two keys that differ only in case, and a rule reads the one
    // it spells (or else the first that matches). Slot -1: keywords.
    const entries = new Map<number, Entry>();
    const entryFor = (field: string | undefined): Entry => {
      const slot = field === undefined ? -1 : fieldSlot(field);
      let entry = entries.get(slot);
      if (entry === undefined) {
        entry = { literals: [], predicates: [] };
        entries.set(slot, entry);
      }
      return entry;
    };
    const groupsKnown = new Uint8Array(literalGroupCount());
    rules.forEach((rule, index) => {
      // A filter shared by several rules brings the same groups to each.
      for (const group of rule.detection.literalGroups ?? []) {
        if (groupsKnown[group.id] === 1) continue;
        groupsKnown[group.id] = 1;
        const entry = entryFor(group.field);
        for (const l of group.literals) entry.literals.push({ ...l, kind: GROUP, of: group.id });
      }
      for (const veto of rule.detection.vetoes ?? []) {
        const entry = entryFor(veto.field);
        for (const r of veto.requirements) if (r.test === null) entry.literals.push({ ...r, kind: VETO, of: index });
      }
      const sets = (rule.detection.atoms ?? []).filter((set) => set.length > 0);
      ruleSets[index] = ruleSetIds.length;
      ruleSets[index + 1] = ruleSetIds.length + sets.length;
      if (sets.length === 0) {
        always.push(index);
        return;
      }
      for (const set of sets) {
        const keys: string[] = [];
        for (const atom of set) {
          const slot = atom.field === undefined ? -1 : fieldSlot(atom.field);
          for (const r of atom.requirements) keys.push(requirementKey(slot, r));
        }
        const key = keys.sort().join("\n");
        const known = setIds.get(key);
        if (known !== undefined) {
          ruleSetIds.push(known);
          continue;
        }
        const id = setIds.size;
        setIds.set(key, id);
        ruleSetIds.push(id);
        for (const atom of set) {
          const entry = entryFor(atom.field);
          for (const r of atom.requirements) {
            if (r.test !== null) entry.predicates.push({ test: r.test, cased: r.cased, set: id, gated: false });
            else entry.literals.push({ ...r, kind: SET, of: id });
          }
        }
      }
    });
    const setCount = setIds.size;
    const vetoBase = setCount;
    const groupBase = vetoBase + rules.length;
    const base = [0, vetoBase, groupBase];
    const keywords = entries.get(-1);
    entries.delete(-1);
    // Rows (see ROW_STATES): these automata scan every new value of every event.
    const fieldIndex = (slot: number, position: number, e: Entry): FieldIndex => {
      const literals = keywords === undefined ? e.literals : [...e.literals, ...keywords.literals];
      const all = keywords === undefined ? e.predicates : [...e.predicates, ...keywords.predicates];
      const raw = all.filter((p) => p.cased && p.test.kind === VT.regex);
      const gate = raw.length > 1 ? regexUnion(raw.map((p) => p.test.regex as RegexProgram)) : undefined;
      const predicates = all.map((p) => ({ ...p, gated: gate !== undefined && raw.includes(p) }));
      return {
        matcher: new AhoCorasickMatcher(
          literals.map((l) => ({ text: l.text, id: (base[l.kind] as number) + l.of, start: l.start, end: l.end })),
          ROW_STATES,
        ),
        memo: new Map(),
        once: new Set(),
        predicates,
        gate,
        minLength: predicates.length > 0 ? 0 : Math.min(...literals.map((l) => l.text.length)),
        scalars: predicates.length > 0 || literals.some((l) => SCALAR_CHARS.test(l.text)),
        name: slot < 0 ? "" : fieldName(slot),
        slot,
        position,
        vetoBase,
        groupBase,
      };
    };
    const fields = [...entries].map(([slot, e], position) => fieldIndex(slot, position, e));
    // Until hits have been counted, a rule's first set (its most selective, see `CompiledDetection.atoms`).
    const ruleTrigger = Int32Array.from(rules, (_, rule) =>
      (ruleSets[rule] as number) < (ruleSets[rule + 1] as number)
        ? (ruleSetIds[ruleSets[rule] as number] as number)
        : -1,
    );
    const triggerStart = new Int32Array(setCount + 1);
    const triggerRules = new Int32Array(rules.length - always.length);
    layTriggers(ruleTrigger, triggerStart, triggerRules);
    const tests = rules.map(({ detection }) =>
      this.usePrefilter && detection.afterVetoes !== undefined ? detection.afterVetoes : detection.test,
    );
    const code: number[] = [];
    const codeAt = new Int32Array(rules.length).fill(-1);
    // Without the prefilter, group nodes test the values themselves (see `EventView.groupFound`).
    const timed = new Uint8Array(rules.length).fill(1);
    const ops = tests.map((test, index) => {
      const program = programOf(test);
      if (program === undefined) return [];
      codeAt[index] = code.length;
      for (let i = 0; i < program.code.length; i += 1) code.push(program.code[i] as number);
      if (this.usePrefilter && !testsValues(program.code, 0)) timed[index] = 0;
      return program.ops;
    });
    return {
      rules,
      matchInfo: rules.map(matchInfoOf),
      tests,
      code: Int32Array.from(code),
      codeAt,
      ops,
      timed,
      always,
      fields,
      keywords: keywords === undefined ? undefined : fieldIndex(-1, -1, { literals: [], predicates: [] }),
      dotted: fields.filter((f) => f.name.includes(".")),
      routes: new Map(),
      recentKeys: [],
      recentRoutes: [],
      fieldMarks: new Uint32Array(fields.length),
      ruleSets,
      ruleSetIds: Int32Array.from(ruleSetIds),
      ruleTrigger,
      triggerStart,
      triggerRules,
      setSeen: new Uint32Array(setCount),
      events: 0,
      sampled: 0,
      vetoBase,
      groupBase,
      groupsKnown,
      setMarks: new Uint32Array(setCount),
      ruleMarks: new Uint32Array(rules.length),
      triggered: new Int32Array(rules.length),
      vetoMarks: new Uint32Array(rules.length),
      candidates: new Int32Array(rules.length),
    };
  }
}

/**
 * What a rule's matches say of it, gathered in one small object per rule: a match then reads one object, where
 * reading the rule and its document would cost a cache miss each (the rules of a busy bucket are cold data).
 */
type MatchInfo = Omit<RuleMatch, "event" | "explanation"> & { readonly rule: CompiledRule };

function matchInfoOf(rule: CompiledRule): MatchInfo {
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
    rule,
  };
}

/**
 * A match whose explanation is worked out when first read, from the event alone: most matches are counted,
 * correlated or dropped by a filter without anyone reading why they matched, and explaining costs as much as
 * matching again. The event must therefore not change after `match` (the schema's `Event` is readonly).
 */
class LazyRuleMatch implements RuleMatch {
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
  private readonly rule: CompiledRule;
  private readonly explainer: (rule: CompiledRule, event: Event) => MatchExplanation;
  private explained: MatchExplanation | undefined;

  constructor(info: MatchInfo, event: Event, explainer: (rule: CompiledRule, event: Event) => MatchExplanation) {
    this.ruleId = info.ruleId;
    this.title = info.title;
    this.level = info.level;
    this.status = info.status;
    this.author = info.author;
    this.tags = info.tags;
    this.techniques = info.techniques;
    this.tactics = info.tactics;
    this.file = info.file;
    this.event = event;
    this.rule = info.rule;
    this.explainer = explainer;
  }

  get explanation(): MatchExplanation {
    this.explained ??= this.explainer(this.rule, this.event);
    return this.explained;
  }

  /** What JSON.stringify writes: the match's fields, the explanation with them. */
  toJSON(): RuleMatch {
    const { ruleId, title, level, status, author, tags, techniques, tactics, file, event, explanation } = this;
    return { ruleId, title, level, status, author, tags, techniques, tactics, file, event, explanation };
  }
}

/** Chooses each rule's trigger again: its atom set the counted events hit least. */
function retrigger(bucket: Bucket): void {
  const { ruleSets, ruleSetIds, ruleTrigger, setSeen } = bucket;
  for (let rule = 0; rule + 1 < ruleSets.length; rule += 1) {
    const from = ruleSets[rule] as number;
    const to = ruleSets[rule + 1] as number;
    if (to - from < 2) continue;
    let best = ruleTrigger[rule] as number;
    for (let k = from; k < to; k += 1) {
      const set = ruleSetIds[k] as number;
      if ((setSeen[set] as number) < (setSeen[best] as number)) best = set;
    }
    ruleTrigger[rule] = best;
  }
  layTriggers(ruleTrigger, bucket.triggerStart, bucket.triggerRules);
  for (let i = 0; i < setSeen.length; i += 1) setSeen[i] = (setSeen[i] as number) >>> 1;
  bucket.sampled = 0;
}

/** Lays out, per set, the rules it is the trigger of (`Bucket.triggerStart`, `Bucket.triggerRules`). */
function layTriggers(ruleTrigger: Int32Array, start: Int32Array, rules: Int32Array): void {
  start.fill(0);
  for (let rule = 0; rule < ruleTrigger.length; rule += 1) {
    const set = ruleTrigger[rule] as number;
    if (set >= 0) start[set + 1] = (start[set + 1] as number) + 1;
  }
  for (let set = 1; set < start.length; set += 1) start[set] = (start[set] as number) + (start[set - 1] as number);
  const at = start.slice(0, -1);
  for (let rule = 0; rule < ruleTrigger.length; rule += 1) {
    const set = ruleTrigger[rule] as number;
    if (set >= 0) {
      rules[at[set] as number] = rule;
      at[set] = (at[set] as number) + 1;
    }
  }
}
