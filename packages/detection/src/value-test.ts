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

/**
 * One thing the prefilter can check in a field's value: a literal (`test` null), or, for a test with no
 * literal (a regex such as `\s[a-f0-9]{64}\s`), the test itself — run once per distinct value and remembered,
 * on the value as the field op passes it (lower-cased unless `cased`).
 */
export type Requirement = Literal & { readonly test: ValueTest | null; readonly cased: boolean };

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
  readonly literals: readonly Requirement[] | undefined;
};

const NO_SEGMENTS: readonly string[] = [];

type ValueTestInit = Partial<Omit<ValueTest, "kind" | "pattern" | "literals">>;

/** Every ValueTest is built here, with every property present and in one order: one hidden class. */
export function valueTest(
  kind: ValueTestKind,
  pattern: string,
  literals: readonly Requirement[] | undefined,
  init: ValueTestInit = {},
): ValueTest {
  return {
    kind,
    pattern,
    lit: init.lit ?? "",
    segments: init.segments ?? NO_SEGMENTS,
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
        (t.literals === undefined || hasLiteral(folded(input), t.literals)) && (t.regex as RegexProgram).test(input)
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

/**
 * `literalFold`, remembered for the last input: the regexes of a rule, and of the rules after it, test the same
 * value (a command line) one after the other.
 */
let lastInput = "";
let lastFolded = "";
function folded(input: string): string {
  if (input !== lastInput) {
    lastFolded = literalFold(input);
    lastInput = input;
  }
  return lastFolded;
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
 * a set lookup (equals), a walk down a trie of the prefixes or of the reversed suffixes (startswith, endswith)
 * and one Aho–Corasick scan (contains), so a list costs about as much as one value and allocates nothing.
 */
export class ListMatcher {
  private readonly equals = new Set<string>();
  private readonly prefixes: AhoCorasickMatcher | undefined;
  private readonly suffixes: AhoCorasickMatcher | undefined;
  private readonly automaton: AhoCorasickMatcher | undefined;
  private readonly others: ValueTest[] = [];

  constructor(tests: readonly ValueTest[]) {
    const contains: { text: string; id: number }[] = [];
    const prefixes: { text: string; id: number }[] = [];
    const suffixes: { text: string; id: number }[] = [];
    for (const t of tests) {
      if (t.kind === VT.equals) this.equals.add(t.lit);
      else if (t.kind === VT.contains) contains.push({ text: t.lit, id: contains.length });
      else if (t.kind === VT.prefix) prefixes.push({ text: t.lit, id: prefixes.length });
      // Reversed by UTF-16 unit, as `anchored` walks the input.
      else if (t.kind === VT.suffix) suffixes.push({ text: t.lit.split("").reverse().join(""), id: suffixes.length });
      else this.others.push(t);
    }
    const automaton = (list: { text: string; id: number }[]): AhoCorasickMatcher | undefined =>
      list.length === 0 ? undefined : new AhoCorasickMatcher(list);
    this.prefixes = automaton(prefixes);
    this.suffixes = automaton(suffixes);
    this.automaton = automaton(contains);
  }

  matches(input: string): boolean {
    if (this.equals.has(input)) return true;
    if (this.prefixes?.anchored(input, false) === true) return true;
    if (this.suffixes?.anchored(input, true) === true) return true;
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

/**
 * Literal groups. A field op that is an OR-list of plain literals (equals, startswith, endswith, contains) on
 * lower-cased values — most of SigmaHQ — holds exactly when one of its literals occurs in a value where its
 * anchors say, which is what the ruleset's prefilter scans every value for anyway. Such an op registers its
 * literals as a group (one per `|all` group) with process-wide ids; the prefilter marks in the event view the
 * groups it finds, and the op reads the mark instead of testing the values again. Ids are never reused, and
 * ops of one load with the same literals on the same field share one group.
 */
export type LiteralGroup = {
  readonly id: number;
  readonly field: string | undefined;
  /** In the order of the tests. */
  readonly literals: readonly Requirement[];
};

let groups = 0;

/**
 * Literals shorter than this stay out of literal groups: a scan would report them at nearly every position of
 * a long value, and testing `i` or `-1` on a value directly costs next to nothing.
 */
const GROUP_MIN_LENGTH = 3;

/** Whether a test is decided by its one literal alone: the literal is the whole test. */
export function isExactLiteral(t: ValueTest): boolean {
  const literal = t.literals?.length === 1 ? t.literals[0] : undefined;
  return t.kind <= VT.contains && literal !== undefined && literal.text === t.lit;
}

/** Whether a test is decided by its literal alone, and worth a literal group. */
export function isPlain(t: ValueTest): boolean {
  return isExactLiteral(t) && t.lit.length >= GROUP_MIN_LENGTH;
}

/**
 * Registers plain tests (see `isPlain`) as one literal group, or gives the group registered in `known` for the
 * same literals on the same field: hundreds of rules write `Image|endswith: '\cmd.exe'`, and one group then
 * stands for them all, so a value holding the literal marks one group rather than one per rule.
 */
export function literalGroup(
  field: string | undefined,
  tests: readonly ValueTest[],
  known: Map<string, LiteralGroup>,
): LiteralGroup {
  const literals = tests.map((t) => (t.literals as readonly Requirement[])[0] as Requirement);
  // The field as spelled (the prefilter indexes spellings apart), then each literal with its anchors.
  let key = field === undefined ? "*" : `=${field.length}:${field}`;
  for (const l of literals) key += `${l.start ? "^" : "-"}${l.end ? "$" : "-"}${l.text.length}:${l.text}`;
  const same = known.get(key);
  if (same !== undefined) return same;
  const group = { id: groups, field, literals };
  groups += 1;
  known.set(key, group);
  return group;
}

export function literalGroupCount(): number {
  return groups;
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
  /**
   * For `any` and `all` ops over plain literals: their literal groups (one for `any`, one per group for
   * `all`), decided from the prefilter's marks when it has looked for them; null for other ops.
   */
  readonly exact: readonly number[] | null;
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
    exact: init.exact ?? null,
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
      const found = op.exact === null ? -1 : view.groupFound(op.exact[0] as number);
      if (found >= 0) return found === 1;
      const values = readValues(op, view);
      return values !== undefined && groupHit(op.tests, values);
    }
    case FT.all: {
      const found = op.exact === null ? -1 : view.groupFound(op.exact[0] as number);
      if (found === 0) return false;
      if (found === 1) {
        // The prefilter looks for the groups of one op together, so it knows them all.
        for (let i = 1; i < (op.exact as readonly number[]).length; i += 1) {
          if (view.groupFound((op.exact as readonly number[])[i] as number) !== 1) return false;
        }
        return true;
      }
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
