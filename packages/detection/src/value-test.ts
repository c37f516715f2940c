import { AhoCorasickMatcher } from "./aho-corasick.ts";
import type { EventView } from "./event-view.ts";
import { fieldSlot } from "./event-view.ts";

/**
 * Compiled tests as data, run by two small interpreter functions (`valueMatches`, `fieldMatches`). A ruleset
 * has tens of thousands of value tests; as closures each would be its own function for V8 to warm up, and the
 * call sites that invoke them would go megamorphic. As objects of one shape evaluated by one switch, the hot
 * path is a handful of functions that V8 optimises once — the same reason Falco and Hyperscan compile rules to
 * data rather than code.
 */
export const VT = {
  equals: 0,
  prefix: 1,
  suffix: 2,
  contains: 3,
  /** `*`-only glob: ordered segments, optionally anchored. */
  glob: 4,
  regex: 5,
  always: 6,
  empty: 7,
  /** Many plain literals at once (see `ListMatcher`). */
  list: 8,
  /** Anything else (numbers, networks, dates): a function. */
  fn: 9,
} as const;
export type ValueTestKind = (typeof VT)[keyof typeof VT];

export type RegexProgram = { test(input: string): boolean };

/**
 * A lower-cased text that a value cannot pass a test without containing (once lower-cased), and whether it
 * must also begin (`start`) or end (`end`) the value. The ruleset's prefilter indexes them.
 */
export type Literal = { readonly text: string; readonly start: boolean; readonly end: boolean };

export type ValueTest = {
  readonly kind: ValueTestKind;
  /** The rule value in Sigma syntax, for explanations. */
  readonly pattern: string;
  readonly lit: string;
  readonly segments: readonly string[];
  readonly anchoredStart: boolean;
  readonly anchoredEnd: boolean;
  readonly regex: RegexProgram | null;
  readonly list: ListMatcher | null;
  readonly fn: ((input: string) => boolean) | null;
  /** Literals of which one must occur in the value for the test to pass (undefined: none known). */
  readonly literals: readonly Literal[] | undefined;
};

type ValueTestInit = Partial<Omit<ValueTest, "kind" | "pattern" | "literals">>;

/** Every ValueTest is built here, with every property present and in one order: one hidden class. */
export function valueTest(
  kind: ValueTestKind,
  pattern: string,
  literals: readonly Literal[] | undefined,
  init: ValueTestInit = {},
): ValueTest {
  return {
    kind,
    pattern,
    lit: init.lit ?? "",
    segments: init.segments ?? [],
    anchoredStart: init.anchoredStart ?? false,
    anchoredEnd: init.anchoredEnd ?? false,
    regex: init.regex ?? null,
    list: init.list ?? null,
    fn: init.fn ?? null,
    literals,
  };
}

export function valueMatches(t: ValueTest, input: string): boolean {
  switch (t.kind) {
    case VT.equals:
      return input === t.lit;
    case VT.prefix:
      return input.startsWith(t.lit);
    case VT.suffix:
      return input.endsWith(t.lit);
    case VT.contains:
      return input.includes(t.lit);
    case VT.glob:
      return globMatches(t, input);
    case VT.regex:
      // The regex engine costs microseconds; a value without any of its required literals cannot match.
      return (
        (t.literals === undefined || hasLiteral(literalFold(input), t.literals)) &&
        (t.regex as RegexProgram).test(input)
      );
    case VT.always:
      return true;
    case VT.empty:
      return input === "";
    case VT.list:
      return (t.list as ListMatcher).matches(input);
    case VT.fn:
      return (t.fn as (input: string) => boolean)(input);
  }
}

/**
 * The form of a value that literals are looked for in: lower-cased, and with U+017F (long s) as `s`, because
 * a case-insensitive regex matches `s` with it while `toLowerCase` keeps it (U+212A, the Kelvin sign, already
 * lower-cases to `k`; other ASCII letters have no such partner).
 */
export function literalFold(value: string): string {
  const lower = value.toLowerCase();
  return lower.includes("\u017f") ? lower.replaceAll("\u017f", "s") : lower;
}

function hasLiteral(lower: string, literals: readonly Literal[]): boolean {
  for (let i = 0; i < literals.length; i += 1) if (lower.includes((literals[i] as Literal).text)) return true;
  return false;
}

/**
 * `*`-only glob: the first segment is a prefix, the last a suffix, the middle ones are found left to right.
 * Greedy leftmost search is exact for `*`-only patterns and linear in the input.
 */
function globMatches(t: ValueTest, input: string): boolean {
  const segments = t.segments;
  let from = 0;
  let to = input.length;
  let first = 0;
  let last = segments.length;
  if (t.anchoredStart) {
    const head = segments[0] as string;
    if (!input.startsWith(head)) return false;
    from = head.length;
    first = 1;
  }
  if (t.anchoredEnd) {
    const tail = segments[segments.length - 1] as string;
    if (!input.endsWith(tail) || input.length - tail.length < from) return false;
    to = input.length - tail.length;
    last = segments.length - 1;
  }
  for (let i = first; i < last; i += 1) {
    const seg = segments[i] as string;
    const at = input.indexOf(seg, from);
    if (at < 0 || at + seg.length > to) return false;
    from = at + seg.length;
  }
  return true;
}

/**
 * "Any of these values" for long lists of plain literals — SigmaHQ has rules with hundreds of hashes or emoji:
 * a set lookup (equals), a lookup per distinct length (startswith, endswith) and one Aho–Corasick scan
 * (contains), so a list costs about as much as one value.
 */
export class ListMatcher {
  private readonly equals = new Set<string>();
  private readonly prefixes: [number, Set<string>][] = [];
  private readonly suffixes: [number, Set<string>][] = [];
  private readonly automaton: AhoCorasickMatcher | undefined;
  private readonly others: ValueTest[] = [];

  constructor(tests: readonly ValueTest[]) {
    const contains: { text: string; id: number }[] = [];
    const prefixes = new Map<number, Set<string>>();
    const suffixes = new Map<number, Set<string>>();
    for (const t of tests) {
      if (t.kind === VT.equals) this.equals.add(t.lit);
      else if (t.kind === VT.contains) contains.push({ text: t.lit, id: contains.length });
      else if (t.kind === VT.prefix || t.kind === VT.suffix) {
        const byLength = t.kind === VT.prefix ? prefixes : suffixes;
        const set = byLength.get(t.lit.length) ?? new Set<string>();
        set.add(t.lit);
        byLength.set(t.lit.length, set);
      } else this.others.push(t);
    }
    this.prefixes = [...prefixes];
    this.suffixes = [...suffixes];
    this.automaton = contains.length === 0 ? undefined : new AhoCorasickMatcher(contains);
  }

  matches(input: string): boolean {
    if (this.equals.has(input)) return true;
    for (const [length, set] of this.prefixes)
      if (input.length >= length && set.has(input.slice(0, length))) return true;
    for (const [length, set] of this.suffixes) {
      if (input.length >= length && set.has(input.slice(input.length - length))) return true;
    }
    if (this.automaton?.contains(input) === true) return true;
    for (const t of this.others) if (valueMatches(t, input)) return true;
    return false;
  }
}

/** Below this many values, testing them one by one is as fast as building lookups. */
const LIST_THRESHOLD = 8;

/** The tests of an OR-list, with long runs of plain literals folded into one `list` test. */
export function foldList(tests: readonly ValueTest[]): ValueTest[] {
  const plain = tests.filter((t) => t.kind <= VT.contains);
  if (plain.length < LIST_THRESHOLD) return tests.slice();
  const rest = tests.filter((t) => t.kind > VT.contains);
  const literals = plain.every((t) => t.literals !== undefined) ? plain.flatMap((t) => t.literals ?? []) : undefined;
  const list = valueTest(VT.list, `${plain.length} values`, literals, { list: new ListMatcher(plain) });
  return [list, ...rest];
}

/** Field-level operations: how the value tests of one `Field|modifiers: values` combine. */
export const FT = {
  /** Any value of the field matches any test (Sigma's default OR). */
  any: 0,
  /** Every group has a test matched by some value of the field (`|all`). */
  all: 1,
  /** The field is present and no group matches (`|neq`). */
  neq: 2,
  exists: 3,
  absent: 4,
  isNull: 5,
  fn: 6,
} as const;
export type FieldOpKind = (typeof FT)[keyof typeof FT];

export type FieldOp = {
  readonly kind: FieldOpKind;
  /** undefined: keywords, searched in every value of the event. */
  readonly field: string | undefined;
  /** `fieldSlot(field)`, -1 for keywords. */
  readonly slot: number;
  readonly cased: boolean;
  readonly tests: readonly ValueTest[];
  readonly groups: readonly (readonly ValueTest[])[];
  readonly fn: ((view: EventView) => boolean) | null;
};

export function fieldOp(
  kind: FieldOpKind,
  field: string | undefined,
  init: Partial<Omit<FieldOp, "kind" | "field" | "slot">> = {},
): FieldOp {
  return {
    kind,
    field,
    slot: field === undefined ? -1 : fieldSlot(field),
    cased: init.cased ?? false,
    tests: init.tests ?? [],
    groups: init.groups ?? [],
    fn: init.fn ?? null,
  };
}

export function readValues(op: FieldOp, view: EventView): readonly string[] | undefined {
  if (op.slot < 0) return op.cased ? view.allStrings() : view.allLowerStrings();
  return op.cased ? view.stringsAt(op.slot) : view.lowerStringsAt(op.slot);
}

function groupHit(group: readonly ValueTest[], values: readonly string[]): boolean {
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i] as string;
    for (let j = 0; j < group.length; j += 1) if (valueMatches(group[j] as ValueTest, v)) return true;
  }
  return false;
}

export function fieldMatches(op: FieldOp, view: EventView): boolean {
  switch (op.kind) {
    case FT.any: {
      const values = readValues(op, view);
      return values !== undefined && groupHit(op.tests, values);
    }
    case FT.all: {
      const values = readValues(op, view);
      if (values === undefined) return false;
      for (const g of op.groups) if (!groupHit(g, values)) return false;
      return true;
    }
    case FT.neq: {
      const values = readValues(op, view);
      if (values === undefined || values.length === 0) return false;
      for (const g of op.groups) if (groupHit(g, values)) return false;
      return true;
    }
    case FT.exists:
      return op.slot >= 0 && view.stringsAt(op.slot) !== undefined;
    case FT.absent:
      return op.slot < 0 || view.stringsAt(op.slot) === undefined;
    case FT.isNull: {
      if (op.slot < 0) return false;
      const values = view.stringsAt(op.slot);
      if (values === undefined || values.length === 0) return true;
      for (const v of values) if (v !== "") return false;
      return true;
    }
    case FT.fn:
      return (op.fn as (view: EventView) => boolean)(view);
  }
}
