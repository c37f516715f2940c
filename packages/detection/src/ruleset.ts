import type { Event, FieldValue } from "@ring3/schema";
import { AhoCorasickMatcher, ROW_STATES } from "./aho-corasick.ts";
import type { MatchExplanation } from "./compile.ts";
import type { CompiledRule } from "./compiled-rule.ts";
import type { Diagnostic } from "./diagnostics.ts";
import type { GroupHits, GroupSource } from "./event-view.ts";
import { EventView, fieldSlot, fieldStrings } from "./event-view.ts";
import type { SigmaLogsource } from "./sigma-rule.ts";
import type { Literal, ValueTest } from "./value-test.ts";
import { literalFold, literalGroupCount, literalGroupOf, valueMatches } from "./value-test.ts";

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
 * An Aho–Corasick automaton over the literals of one field (or, `slot` -1, of keywords: every value of the
 * event), with a memo of what each recently seen value holds. Telemetry repeats itself (the same Image,
 * ParentImage, Hashes, User on thousands of events), so most values are looked up, not scanned.
 */
type Index<T> = {
  readonly slot: number;
  readonly matcher: AhoCorasickMatcher;
  /** Per literal: what it stands for (an atom set, or a group literal's id), its length, and its anchors. */
  readonly target: Int32Array;
  readonly length: Int32Array;
  readonly anchor: Uint8Array;
  /** Values seen at least twice, and values seen once lately (see `memoised`). */
  readonly memo: Map<string, T>;
  readonly once: Map<string, T>;
  /** Per literal, the last scan that took it (see `Ruleset.scan`). */
  readonly stamps: Uint32Array;
  stamp: number;
};

/**
 * The atom sets of the bucket's rules on one field: scanned for in every event, to choose the candidates.
 * Requirements that are tests (a regex with no literal) are run on each new value.
 */
type SetIndex = Index<readonly number[]> & {
  readonly predicates: readonly { readonly test: ValueTest; readonly cased: boolean; readonly set: number }[];
  /** With no predicates, a value shorter than every literal holds nothing. */
  readonly minLength: number;
  /** Whether the spelling of a number or boolean can hold a literal (keyword scans skip them otherwise). */
  readonly scalars: boolean;
};

/**
 * The literal groups of the field ops of the bucket's rules on one field: scanned for only when a candidate
 * rule's op asks (see `GroupSource`), so the many literals of filters cost nothing on events no rule is
 * evaluated on.
 */
type GroupIndex = Index<GroupHits>;

const NO_SETS: readonly number[] = [];
const NO_GROUPS: GroupHits = { groups: [], literals: [] };
const NO_VALUES: readonly GroupHits[] = [];

/** Characters of values the memos of one ruleset hold at most; they all start over when it is reached. */
const MEMO_MAX_CHARS = 1 << 20;
/** Values an index remembers having seen once; it forgets them all when it reaches this. */
const ONCE_MAX = 1024;
const MEMO_MAX_VALUE = 2048;
const ANCHOR_START = 1;
const ANCHOR_END = 2;
/** Every character `String(number)` and `String(boolean)` can produce. */
const SCALAR_CHARS = /^[0-9.+\-einfatyrulsn]*$/;

type Bucket = {
  readonly rules: readonly CompiledRule[];
  /** Bucket-local indexes of rules that the prefilter cannot rule out. */
  readonly always: readonly number[];
  readonly sets: readonly SetIndex[];
  /** Per rule: how many atom sets must have a hit (0: the rule is in `always`). */
  readonly need: Uint16Array;
  /** Per atom set: its rule. */
  readonly setRule: Int32Array;
  /** Per-event scratch, valid where the mark equals the ruleset's epoch. */
  readonly setMarks: Uint32Array;
  readonly ruleMarks: Uint32Array;
  readonly ruleHits: Uint16Array;
  readonly groups: ReadonlyMap<number, GroupIndex>;
  readonly groupSource: GroupSource;
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
      for (const f of bucket.sets) states += f.matcher.stateCount;
      for (const f of bucket.groups.values()) states += f.matcher.stateCount;
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
      this.useGroups(bucket, index, view);
      const explanation = this.explain(rule, view);
      if (explanation !== undefined) matches.push(toMatch(rule, view.event, explanation));
    }
    if (this.clock() - start > this.budget) return this.evaluateTimed(bucket, candidates, view);
    if (this.overruns.size > 0)
      for (const index of candidates) this.overruns.delete(bucket.rules[index] as CompiledRule);
    return matches;
  }

  private evaluateTimed(bucket: Bucket, candidates: readonly number[], view: EventView): RuleMatch[] {
    const matches: RuleMatch[] = [];
    for (const index of candidates) {
      const rule = bucket.rules[index] as CompiledRule;
      if (this.disabledRules.has(rule)) continue;
      this.useGroups(bucket, index, view);
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

  /**
   * Field ops read the prefilter's literal groups only for rules its atom sets chose: looking for the groups
   * scans every new value with all of the field's group literals, which pays off over the few rules that get
   * this far, not for the handful of rules with no atoms, which are evaluated on every event.
   */
  private useGroups(bucket: Bucket, index: number, view: EventView): void {
    view.setGroupSource(this.usePrefilter && (bucket.need[index] as number) > 0 ? bucket.groupSource : undefined);
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
    if (bucket.sets.length > 0) {
      this.epoch = (this.epoch + 1) >>> 0;
      if (this.epoch === 0) {
        for (const b of this.allBuckets()) {
          b.setMarks.fill(0);
          b.ruleMarks.fill(0);
        }
        this.epoch = 1;
      }
      for (const index of bucket.sets) {
        if (index.slot < 0) {
          this.keywords(bucket, index, view, hits);
          continue;
        }
        const values = view.stringsAt(index.slot);
        if (values === undefined) continue;
        for (let i = 0; i < values.length; i += 1) this.mark(bucket, this.sets(index, values[i] as string), hits);
      }
    }
    for (const index of bucket.always) hits.push(index);
    return hits.length > 1 ? hits.sort((a, b) => a - b) : hits;
  }

  /** Keywords: every value of the event, skipping those too short or too numeric to hold a literal. */
  private keywords(bucket: Bucket, index: SetIndex, view: EventView, hits: number[]): void {
    const fields = view.event.fields;
    for (const key in fields) {
      const value = fields[key] as FieldValue;
      if (typeof value === "string") {
        if (value.length >= index.minLength) this.mark(bucket, this.sets(index, value), hits);
      } else if (value !== null && (index.scalars || typeof value === "object")) {
        for (const s of fieldStrings(value)) {
          if (s.length >= index.minLength) this.mark(bucket, this.sets(index, s), hits);
        }
      }
    }
  }

  private mark(bucket: Bucket, sets: readonly number[], hits: number[]): void {
    const epoch = this.epoch;
    const { setMarks, ruleMarks, ruleHits, setRule, need } = bucket;
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

  /** The atom sets a value hits. */
  private sets(index: SetIndex, raw: string): readonly number[] {
    return this.memoised(index, raw, () => {
      const found: number[] = [];
      const take = (set: number): void => {
        if (!found.includes(set)) found.push(set);
      };
      let lower: string | undefined;
      // Literals are looked for in the value as `literalFold` makes it (see there).
      if (!this.scan(index, raw, true, take)) {
        found.length = 0;
        lower = raw.toLowerCase();
        this.scan(index, literalFold(lower), false, take);
      }
      for (const p of index.predicates) {
        if (found.includes(p.set)) continue;
        let holds = true;
        try {
          holds = valueMatches(p.test, p.cased ? raw : (lower ??= raw.toLowerCase()));
        } catch {
          // The rule's own evaluation meets the same error, and is disabled for it.
        }
        if (holds) found.push(p.set);
      }
      return found.length === 0 ? NO_SETS : found;
    });
  }

  /**
   * The literal groups a value holds, lower-cased exactly as their ops see it; undefined the first time the
   * value is asked about. A value met once is cheaper to test by the few ops that ask than to scan for every
   * group of its field; one met again (telemetry repeats) is scanned once and remembered.
   */
  private groupHits(index: GroupIndex, raw: string): GroupHits | undefined {
    this.lookups += 1;
    const known = index.memo.get(raw);
    if (known !== undefined) return known;
    if (index.once.get(raw) === undefined) {
      this.rememberOnce(index, raw, NO_GROUPS);
      return undefined;
    }
    this.scans += 1;
    const literals: number[] = [];
    const take = (literal: number): void => {
      literals.push(literal);
    };
    if (!this.scan(index, raw, true, take)) {
      literals.length = 0;
      this.scan(index, raw.toLowerCase(), false, take);
    }
    let found = NO_GROUPS;
    if (literals.length > 0) {
      literals.sort((a, b) => a - b);
      const groups: number[] = [];
      for (const literal of literals) {
        const group = literalGroupOf(literal);
        if (groups[groups.length - 1] !== group) groups.push(group);
      }
      found = { groups, literals };
    }
    this.remember(index, raw, found);
    return found;
  }

  /**
   * The memo: a value's answer is kept once it has been seen twice. Most values repeat, and are looked up;
   * the others (a new command line, a temporary file's name) would only fill the memo and make it start over,
   * so a value seen once is only noted, in a small map that is dropped when full.
   */
  private memoised<T>(index: Index<T>, raw: string, compute: () => T): T {
    this.lookups += 1;
    const known = index.memo.get(raw);
    if (known !== undefined) return known;
    const once = index.once.get(raw);
    if (once !== undefined) {
      this.remember(index, raw, once);
      return once;
    }
    this.scans += 1;
    const found = compute();
    this.rememberOnce(index, raw, found);
    return found;
  }

  private rememberOnce<T>(index: Index<T>, raw: string, found: T): void {
    if (raw.length > MEMO_MAX_VALUE) return;
    if (index.once.size >= ONCE_MAX) index.once.clear();
    index.once.set(raw, found);
  }

  private remember<T>(index: Index<T>, raw: string, found: T): void {
    if (raw.length > MEMO_MAX_VALUE) return;
    if (this.memoChars + raw.length > MEMO_MAX_CHARS) {
      for (const b of this.allBuckets()) {
        for (const f of b.sets) f.memo.clear();
        for (const f of b.groups.values()) f.memo.clear();
      }
      this.memoChars = 0;
    }
    index.memo.set(raw, found);
    this.memoChars += raw.length;
  }

  /**
   * Calls `take` with the target of each literal found in `text` where its anchors allow, once per literal.
   * `ascii`: `text` is the raw value, lower-cased on the way; returns false, having taken only part of the
   * literals, when it is not ASCII.
   */
  private scan<T>(index: Index<T>, text: string, ascii: boolean, take: (target: number) => void): boolean {
    // A literal found again in the same scan adds nothing: each scan stamps the literals it has taken.
    const stamps = index.stamps;
    const stamp = (index.stamp = (index.stamp + 1) >>> 0);
    const length = text.length;
    const hit = (id: number, end: number): void => {
      if (stamps[id] === stamp) return;
      const anchor = index.anchor[id] as number;
      if ((anchor & ANCHOR_START) !== 0 && end !== index.length[id]) return;
      if ((anchor & ANCHOR_END) !== 0 && end !== length) return;
      stamps[id] = stamp;
      take(index.target[id] as number);
    };
    if (ascii) return index.matcher.scanAscii(text, hit);
    index.matcher.scan(text, hit);
    return true;
  }

  /** The group hits of a field's values (slot -1: of every value), for `GroupSource`. */
  private fieldGroupHits(bucket: Bucket, view: EventView, slot: number): readonly GroupHits[] | undefined {
    const index = bucket.groups.get(slot);
    if (index === undefined) return undefined;
    const values = slot < 0 ? view.allStrings() : view.stringsAt(slot);
    if (values === undefined) return NO_VALUES;
    const hits: GroupHits[] = [];
    let complete = true;
    for (const value of values) {
      const found = this.groupHits(index, value);
      if (found === undefined) complete = false;
      else hits.push(found);
    }
    return complete ? hits : undefined;
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
    type Entry = {
      literals: { text: string; id: number }[];
      targets: number[];
      anchors: number[];
      predicates: { test: ValueTest; cased: boolean; set: number }[];
    };
    // By the field's spelling: an event may have two keys that differ only in case, and a rule reads the one
    // it spells (or else the first that matches).
    const setEntries = new Map<number, Entry>();
    const groupEntries = new Map<number, Entry>();
    const entryFor = (entries: Map<number, Entry>, field: string | undefined): Entry => {
      const slot = field === undefined ? -1 : fieldSlot(field);
      let entry = entries.get(slot);
      if (entry === undefined) {
        entry = { literals: [], targets: [], anchors: [], predicates: [] };
        entries.set(slot, entry);
      }
      return entry;
    };
    const add = (entry: Entry, literal: Literal, target: number): void => {
      entry.literals.push({ text: literal.text, id: entry.literals.length });
      entry.targets.push(target);
      entry.anchors.push((literal.start ? ANCHOR_START : 0) | (literal.end ? ANCHOR_END : 0));
    };
    const known = new Uint8Array(literalGroupCount());
    rules.forEach((rule, index) => {
      // A filter shared by several rules brings the same groups to each.
      for (const group of rule.detection.literalGroups ?? []) {
        if (known[group.id] === 1) continue;
        known[group.id] = 1;
        const entry = entryFor(groupEntries, group.field);
        group.literals.forEach((literal, k) => add(entry, literal, group.first + k));
      }
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
          const entry = entryFor(setEntries, atom.field);
          for (const r of atom.requirements) {
            if (r.test !== null) entry.predicates.push({ test: r.test, cased: r.cased, set: id });
            else add(entry, r, id);
          }
        }
      }
    });
    // Rows (see ROW_STATES) only for the atom sets, scanned in every event; group literals are scanned for
    // only on a value's second asking.
    const index = <T>(slot: number, e: Entry, rows: number): Index<T> => ({
      slot,
      matcher: new AhoCorasickMatcher(e.literals, rows),
      target: Int32Array.from(e.targets),
      length: Int32Array.from(e.literals, (l) => l.text.length),
      anchor: Uint8Array.from(e.anchors),
      memo: new Map(),
      once: new Map(),
      stamps: new Uint32Array(e.literals.length),
      stamp: 0,
    });
    const sets = [...setEntries].map(([slot, e]): SetIndex => ({
      ...index<readonly number[]>(slot, e, ROW_STATES),
      predicates: e.predicates,
      minLength: e.predicates.length > 0 ? 0 : Math.min(...e.literals.map((l) => l.text.length)),
      scalars: e.predicates.length > 0 || e.literals.some((l) => SCALAR_CHARS.test(l.text)),
    }));
    const groups = new Map([...groupEntries].map(([slot, e]) => [slot, index<GroupHits>(slot, e, 1)]));
    const bucket: Bucket = {
      rules,
      always,
      sets,
      need,
      setRule: Int32Array.from(setRule),
      setMarks: new Uint32Array(setRule.length),
      ruleMarks: new Uint32Array(rules.length),
      ruleHits: new Uint16Array(rules.length),
      groups,
      groupSource: { known, hits: (view, slot) => this.fieldGroupHits(bucket, view, slot) },
    };
    return bucket;
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
