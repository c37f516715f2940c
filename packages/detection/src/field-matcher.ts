import { RE2JS } from "re2js";
import type { DiagnosticSink } from "./diagnostics.ts";
import {
  base64Modifier,
  base64OffsetModifier,
  MAX_EXPANSION,
  utf16beModifier,
  utf16leModifier,
  utf16Modifier,
  windashModifier,
} from "./encodings.ts";
import type { EncodingError } from "./encodings.ts";
import type { EventView } from "./event-view.ts";
import { equalsIgnoringCase, fieldSlot } from "./event-view.ts";
import { networkContains, parseNetwork } from "./ip-network.ts";
import type { ComparisonModifier, TimePartModifier } from "./modifiers.ts";
import { COMPARISON_MODIFIERS, MODIFIERS, REGEX_FLAG_MODIFIERS, TIME_PART_MODIFIERS } from "./modifiers.ts";
import type { FieldSpec } from "./sigma-rule.ts";
import type { SigmaString } from "./sigma-string.ts";
import { formatSigmaString, parseSigmaString, QMARK, STAR, withParts } from "./sigma-string.ts";
import { compileLinearRegex, regexUnion } from "./regex-dfa.ts";
import { requiredRegexLiterals } from "./regex-literals.ts";
import { parseEventDate, timePart } from "./time-parts.ts";
import type { FieldOp, LiteralGroup, RegexProgram, Requirement, ValueTest } from "./value-test.ts";
import {
  fieldOp,
  foldList,
  FT,
  isExactLiteral,
  isPlain,
  literalGroup,
  readValues,
  valueMatches,
  valueTest,
  VT,
} from "./value-test.ts";
import type { YScalar } from "./yaml-tree.ts";

export type CompileOptions = {
  /** Values for `|expand` placeholders, by name without the percent signs (`Administrators`). */
  readonly placeholders: ReadonlyMap<string, readonly string[]>;
  /**
   * The string tests compiled so far in this load, by value: thousands of rules test the same values
   * (`Image|endswith: '\cmd.exe'`), and a test is immutable data, so they share one.
   */
  readonly stringTests: Map<string, ValueTest>;
  /** The literal groups registered so far in this load, by field and literals (see `literalGroup`). */
  readonly literalGroups: Map<string, LiteralGroup>;
};

/** What a matched field contributed to a match: the explanation the analyst sees. */
export type FieldMatch = {
  readonly field: string;
  readonly modifiers: readonly string[];
  /** The rule values (after modifiers, in Sigma syntax) that matched. */
  readonly patterns: readonly string[];
  /** The event's value(s) that matched. */
  readonly values: readonly string[];
};

/**
 * How a field's part of an explanation is made, as data (see `explainField`): one shared function rather than
 * a closure per field, which would keep everything its compiler saw alive for as long as the rule.
 */
export type FieldExplainer = {
  readonly name: string;
  readonly modifiers: readonly string[];
  readonly op: FieldOp;
  /** With `tests`, the patterns are those of the tests a value matches; without, these. */
  readonly patterns: readonly string[];
  readonly tests: readonly ValueTest[] | null;
  /** Whether the explanation names the field's values: those that matched `tests`, or else all of them. */
  readonly values: boolean;
};

export type CompiledField = {
  /** undefined for keyword searches. */
  readonly field: string | undefined;
  /** The test as data, run by `fieldMatches`. */
  readonly op: FieldOp;
  readonly explainer: FieldExplainer;
  /**
   * Sets of requirements that the field cannot match without: from each set, one must hold for some value of
   * the field ([] when nothing is known). The ruleset's prefilter uses them to skip rules that cannot match.
   */
  readonly clauses: readonly (readonly Requirement[])[];
  /** The op's literal groups, which the prefilter must look for to decide it (see `LiteralGroup`). */
  readonly groups: readonly LiteralGroup[];
  /**
   * Literals of which any one, found in some value of the field (lower-cased, where its anchors say), makes
   * the field match — the whole test of an OR-list of plain values; empty for other tests.
   */
  readonly sufficient: readonly Requirement[];
};

const KEYWORD_FIELD = "(keywords)";

export function compileField(
  spec: FieldSpec,
  options: CompileOptions,
  sink: DiagnosticSink,
): CompiledField | undefined {
  const mods = spec.modifiers;
  for (const m of mods) {
    if (!MODIFIERS.has(m)) {
      sink.error("R3_MODIFIER_UNKNOWN", `unknown value modifier '${m}'`, spec.pos);
      return undefined;
    }
  }
  const has = (m: string): boolean => mods.includes(m);
  const typeModifiers = mods.filter((m) => MODIFIERS.get(m)?.role === "type");
  const comparison = mods.find((m): m is ComparisonModifier => (COMPARISON_MODIFIERS as readonly string[]).includes(m));
  const timeModifier = mods.find((m): m is TimePartModifier => (TIME_PART_MODIFIERS as readonly string[]).includes(m));
  // A time part may be followed by a comparison (`|hour|gte: 20`); other type modifiers stand alone.
  const distinctTypes = typeModifiers.filter((m) => !(timeModifier !== undefined && m === comparison));
  if (distinctTypes.length > 1) {
    sink.error("R3_MODIFIER_CONFLICT", `modifiers ${distinctTypes.join(", ")} cannot be combined`, spec.pos);
    return undefined;
  }
  const regexFlags = mods.filter((m) => (REGEX_FLAG_MODIFIERS as readonly string[]).includes(m));
  if (regexFlags.length > 0 && !has("re")) {
    sink.error("R3_MODIFIER_CONFLICT", `'${regexFlags.join("|")}' only applies after 're'`, spec.pos);
    return undefined;
  }
  if (has("all") && spec.values.length < 2 && spec.field !== undefined) {
    // Spec: "Single item values are not allowed to have an `all` modifier". Harmless, so a warning.
    sink.warning("R3_MODIFIER_ALL_SINGLE", "'all' on a single value has no effect", spec.pos);
  }
  const field = spec.field;
  const name = field ?? KEYWORD_FIELD;
  const describe = [name, ...mods].join("|");

  if (has("exists")) return compileExists(spec, name, sink);
  if (spec.values.length === 1 && spec.values[0]?.value === null && distinctTypes.length === 0) {
    return compileNull(spec, name);
  }
  if (spec.values.some((v) => v.value === null)) {
    sink.error("R3_RULE_BAD_VALUE", `${describe}: null cannot be used with these modifiers`, spec.pos);
    return undefined;
  }

  let tests: ValueTest[][] | undefined;
  let cased = has("cased");
  let either: ValueTest | undefined;
  if (has("re")) {
    tests = compileRegexes(spec, regexFlags, sink);
    cased = true;
    if (tests !== undefined && !has("all") && !has("neq")) either = eitherRegex(tests.flat());
  } else if (has("cidr")) {
    tests = compileCidrs(spec, sink);
    cased = true;
  } else if (has("fieldref")) {
    return compileFieldRef(spec, name, cased, sink);
  } else if (timeModifier !== undefined || comparison !== undefined) {
    tests = compileNumeric(spec, comparison, timeModifier, sink);
    cased = true;
  } else {
    tests = compileStrings(spec, options, cased, sink);
  }
  if (tests === undefined) return undefined;
  return combine(spec, name, tests, cased, has("all"), has("neq"), options.literalGroups, either);
}

function compileExists(spec: FieldSpec, name: string, sink: DiagnosticSink): CompiledField | undefined {
  const v = spec.values[0];
  if (spec.values.length !== 1 || typeof v?.value !== "boolean" || spec.field === undefined) {
    sink.error("R3_MODIFIER_BAD_VALUE", "'exists' takes a field and a single true or false", spec.pos);
    return undefined;
  }
  const want = v.value;
  const field = spec.field;
  // Spec: "this only verifies the presence of a field, not its value, be it empty or null".
  const op = fieldOp(want ? FT.exists : FT.absent, field);
  return {
    field,
    op,
    explainer: explainer(name, spec, op, [String(want)], null, true),
    clauses: [],
    groups: [],
    sufficient: [],
  };
}

/** `Field: null` matches when the field is absent, null or empty (EVTX writes empty data as null or ""). */
function compileNull(spec: FieldSpec, name: string): CompiledField {
  const field = spec.field;
  const op = fieldOp(FT.isNull, field);
  return {
    field,
    op,
    explainer: explainer(name, spec, op, ["null"], null, false),
    clauses: [],
    groups: [],
    sufficient: [],
  };
}

/**
 * An OR-list of regexes as one (see `regexUnion`), which reads a value once instead of once per regex.
 * Undefined when there is one, or the linear engine cannot take them all.
 */
export function eitherRegex(tests: readonly ValueTest[]): ValueTest | undefined {
  if (tests.length < 2) return undefined;
  const regex = regexUnion(tests.map((t) => t.regex as RegexProgram));
  if (regex === undefined) return undefined;
  const literals = tests.every((t) => t.literals !== undefined) ? tests.flatMap((t) => t.literals ?? []) : undefined;
  return valueTest(VT.regex, `${tests.length} patterns`, literals, { regex });
}

function compileRegexes(spec: FieldSpec, flags: readonly string[], sink: DiagnosticSink): ValueTest[][] | undefined {
  let bits = 0;
  if (flags.includes("i")) bits |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes("m")) bits |= RE2JS.MULTILINE;
  if (flags.includes("s")) bits |= RE2JS.DOTALL;
  const out: ValueTest[][] = [];
  for (const v of spec.values) {
    try {
      // RE2JS validates every pattern, and runs those the faster engine does not support (multi-line mode…).
      const re = RE2JS.compile(v.text, bits);
      const fast = flags.includes("m")
        ? undefined
        : compileLinearRegex(v.text, { caseInsensitive: flags.includes("i"), dotAll: flags.includes("s") });
      const literals = requiredRegexLiterals(v.text)?.map((text): Requirement => ({
        text,
        start: false,
        end: false,
        test: null,
        cased: true,
      }));
      out.push([valueTest(VT.regex, v.text, literals, { regex: fast ?? re })]);
    } catch (error) {
      // RE2 has no backreferences or lookaround: such a rule cannot run in linear time, so it is refused.
      sink.error(
        "R3_MODIFIER_BAD_REGEX",
        `regular expression not supported by the linear-time engine: ${error instanceof Error ? error.message : String(error)}`,
        v.pos,
      );
      return undefined;
    }
  }
  return out;
}

function compileCidrs(spec: FieldSpec, sink: DiagnosticSink): ValueTest[][] | undefined {
  const out: ValueTest[][] = [];
  for (const v of spec.values) {
    const network = parseNetwork(v.text);
    if (network === undefined) {
      sink.error("R3_MODIFIER_BAD_CIDR", `'${v.text}' is not an IPv4 or IPv6 network`, v.pos);
      return undefined;
    }
    out.push([valueTest(VT.fn, v.text, undefined, { fn: (input) => networkContains(network, input) })]);
  }
  return out;
}

function toNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const n = /^[-+]?0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : Number(t);
  return Number.isFinite(n) ? n : undefined;
}

function compileNumeric(
  spec: FieldSpec,
  comparison: ComparisonModifier | undefined,
  timeModifier: TimePartModifier | undefined,
  sink: DiagnosticSink,
): ValueTest[][] | undefined {
  const out: ValueTest[][] = [];
  for (const v of spec.values) {
    const limit = toNumber(v.text);
    if (limit === undefined) {
      sink.error("R3_MODIFIER_BAD_VALUE", `'${spec.modifiers.join("|")}' needs a number, got '${v.text}'`, v.pos);
      return undefined;
    }
    const compare = (n: number): boolean => {
      switch (comparison) {
        case "lt":
          return n < limit;
        case "lte":
          return n <= limit;
        case "gt":
          return n > limit;
        case "gte":
          return n >= limit;
        case undefined:
          return n === limit;
      }
    };
    const extract =
      timeModifier === undefined
        ? toNumber
        : (input: string): number | undefined => {
            const date = parseEventDate(input);
            return date === undefined ? undefined : timePart(date, timeModifier);
          };
    out.push([
      valueTest(VT.fn, `${comparison ?? "="} ${v.text}`, undefined, {
        fn: (input) => {
          const n = extract(input);
          return n !== undefined && compare(n);
        },
      }),
    ]);
  }
  return out;
}

/** Spec: "A field reference can be used to compare fields of matched events directly at query/matching time." */
function compileFieldRef(
  spec: FieldSpec,
  name: string,
  cased: boolean,
  sink: DiagnosticSink,
): CompiledField | undefined {
  const field = spec.field;
  if (field === undefined) {
    sink.error("R3_MODIFIER_BAD_VALUE", "'fieldref' needs a field on the left", spec.pos);
    return undefined;
  }
  const mode = spec.modifiers.includes("contains")
    ? "contains"
    : spec.modifiers.includes("startswith")
      ? "startswith"
      : spec.modifiers.includes("endswith")
        ? "endswith"
        : "equals";
  const neq = spec.modifiers.includes("neq");
  const all = spec.modifiers.includes("all");
  const refs = spec.values.map((v) => v.text);
  const compare = (a: string, b: string): boolean => {
    switch (mode) {
      case "contains":
        return a.includes(b);
      case "startswith":
        return a.startsWith(b);
      case "endswith":
        return a.endsWith(b);
      case "equals":
        return a === b;
    }
  };
  const slot = fieldSlot(field);
  const refSlots = refs.map(fieldSlot);
  // Equality without case, the commonest fieldref (`Image|fieldref: ParentImage`, which a ruleset evaluates on
  // every process event: it has no literal), compares the values as they are, where lower-casing them would
  // make two strings and two arrays per event (see `equalsFolded`).
  const inPlace = !cased && mode === "equals";
  // Otherwise the lower-cased values are cached by the view: a field is lower-cased once per event, not per
  // compare.
  const read = (view: EventView, at: number): readonly string[] | undefined =>
    cased || inPlace ? view.stringsAt(at) : view.lowerStringsAt(at);
  const same = inPlace ? equalsFolded : compare;
  const refMatches = (view: EventView, ref: number): boolean => {
    const left = read(view, slot);
    const right = read(view, ref);
    if (left === undefined || right === undefined) return false;
    for (const l of left) for (const r of right) if (same(l, r)) return true;
    return false;
  };
  const test = (view: EventView): boolean => {
    if (neq) return view.stringsAt(slot) !== undefined && refSlots.every((r) => !refMatches(view, r));
    return all ? refSlots.every((r) => refMatches(view, r)) : refSlots.some((r) => refMatches(view, r));
  };
  const op = fieldOp(FT.fn, field, { fn: test });
  return {
    field,
    op,
    explainer: explainer(
      name,
      spec,
      op,
      refs.map((r) => `field ${r}`),
      null,
      true,
    ),
    clauses: [],
    groups: [],
    sufficient: [],
  };
}

/**
 * `a.toLowerCase() === b.toLowerCase()`. Lower-casing keeps the length of every character but U+0130 (`İ`,
 * whose lower case is `i` and a combining dot): strings of different lengths can only be equal so when one of
 * them holds it.
 */
function equalsFolded(a: string, b: string): boolean {
  if (a.length === b.length) return equalsIgnoringCase(a, b);
  return (a.includes("\u0130") || b.includes("\u0130")) && a.toLowerCase() === b.toLowerCase();
}

function isError<T>(x: T | EncodingError): x is EncodingError {
  return typeof x === "object" && x !== null && "error" in x;
}

/** Plain string values through the transformation modifiers, in the order written. */
function compileStrings(
  spec: FieldSpec,
  options: CompileOptions,
  cased: boolean,
  sink: DiagnosticSink,
): ValueTest[][] | undefined {
  const expand = spec.modifiers.includes("expand");
  const groups: SigmaString[][] = [];
  for (const v of spec.values) {
    const initial = expand ? expandPlaceholders(v, options, sink) : [parseSigmaString(scalarText(v))];
    if (initial === undefined) return undefined;
    groups.push(initial);
  }
  // Keywords are searched anywhere in the event: pySigma and the SIEMs treat them as substrings.
  const keyword = spec.field === undefined;
  const transforms = spec.modifiers.filter((m) => MODIFIERS.get(m)?.role === "transform" && m !== "expand");
  const transformed: SigmaString[][] = [];
  for (const group of groups) {
    let values = group;
    for (const t of transforms) {
      const next: SigmaString[] = [];
      for (const s of values) {
        const r = applyTransform(t, s);
        if (isError(r)) {
          sink.error("R3_MODIFIER_BAD_VALUE", `${t}: ${r.error}`, spec.pos);
          return undefined;
        }
        next.push(...r);
      }
      values = next;
      if (values.length > MAX_EXPANSION) {
        sink.error(
          "R3_MODIFIER_EXPANSION_TOO_LARGE",
          `modifiers expand one value into ${values.length} variants`,
          spec.pos,
        );
        return undefined;
      }
    }
    if (keyword && !transforms.some((t) => t === "contains" || t === "startswith" || t === "endswith")) {
      values = values.map((s) => withParts(s, [STAR, ...s.parts, STAR]));
    }
    transformed.push(values);
  }
  return transformed.map((group) =>
    group.map((s) => {
      let key = cased ? "c" : "i";
      for (const p of s.parts) key += p === STAR ? "*" : p === QMARK ? "?" : `${p.length}:${p}`;
      let test = options.stringTests.get(key);
      if (test === undefined) {
        test = stringTest(s, cased);
        options.stringTests.set(key, test);
      }
      return test;
    }),
  );
}

/** YAML numbers and booleans compare in the spelling the rule wrote (`EventID: 4688`). */
function scalarText(v: YScalar): string {
  return typeof v.value === "string" ? v.value : v.text;
}

function applyTransform(name: string, s: SigmaString): SigmaString[] | EncodingError {
  switch (name) {
    case "contains":
      return [withParts(s, [STAR, ...s.parts, STAR])];
    case "startswith":
      return [withParts(s, [...s.parts, STAR])];
    case "endswith":
      return [withParts(s, [STAR, ...s.parts])];
    case "windash":
      return windashModifier(s);
    case "base64": {
      const r = base64Modifier(s);
      return isError(r) ? r : [r];
    }
    case "base64offset":
      return base64OffsetModifier(s);
    case "utf16le":
    case "wide":
      return [utf16leModifier(s)];
    case "utf16be":
      return [utf16beModifier(s)];
    case "utf16":
      return [utf16Modifier(s)];
    default:
      return { error: `'${name}' is not a transformation` };
  }
}

/**
 * Spec: "`field|expand: \%plain%name%` handles `%plain` as plain value and `%name%` as placeholder". Each
 * placeholder becomes each of its configured values; an unknown one makes the rule unusable, as the spec
 * requires ("If the tool isn't able to handle placeholders, it must reject the rule").
 */
function expandPlaceholders(v: YScalar, options: CompileOptions, sink: DiagnosticSink): SigmaString[] | undefined {
  const text = scalarText(v);
  const pieces: (string | readonly string[])[] = [];
  let i = 0;
  let plain = "";
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && text[i + 1] === "%") {
      plain += "%";
      i += 2;
      continue;
    }
    if (c === "%") {
      const close = text.indexOf("%", i + 1);
      if (close > i + 1) {
        const name = text.slice(i + 1, close);
        const values = options.placeholders.get(name);
        if (values === undefined || values.length === 0) {
          sink.error(
            "R3_MODIFIER_PLACEHOLDER_UNDEFINED",
            `placeholder %${name}% has no configured values (set them in the placeholders file)`,
            v.pos,
          );
          return undefined;
        }
        pieces.push(plain, values);
        plain = "";
        i = close + 1;
        continue;
      }
    }
    plain += c;
    i += 1;
  }
  pieces.push(plain);
  let combos = [""];
  for (const piece of pieces) {
    combos = typeof piece === "string" ? combos.map((c) => c + piece) : combos.flatMap((c) => piece.map((p) => c + p));
    if (combos.length > MAX_EXPANSION) {
      sink.error("R3_MODIFIER_EXPANSION_TOO_LARGE", "placeholder expansion is too large", v.pos);
      return undefined;
    }
  }
  return combos.map(parseSigmaString);
}

/**
 * Compiles one Sigma string into the cheapest test that decides it: equality, prefix, suffix, substring,
 * ordered substrings, or — only when `?` appears — an anchored RE2 program. Inputs are attacker-controlled,
 * so nothing here backtracks.
 */
function stringTest(s: SigmaString, cased: boolean): ValueTest {
  const norm = (p: string): string => (cased ? p : p.toLowerCase());
  const parts = s.parts.map((p) => (typeof p === "string" ? norm(p) : p));
  const pattern = formatSigmaString(s);
  const segments = parts.filter((p): p is string => typeof p === "string");
  const longest = segments.reduce((a, b) => (b.length > a.length ? b : a), "");
  // A cased test's literal is looked for in the lower-cased value: only ASCII lower-cases the same alone as
  // inside a longer string (final sigma does not), so other cased literals are not used.
  const literals: Requirement[] | undefined =
    longest === "" || (cased && [...longest].some((c) => c.charCodeAt(0) > 0x7f))
      ? undefined
      : [
          {
            text: cased ? longest.toLowerCase() : longest,
            start: parts[0] === longest,
            end: parts[parts.length - 1] === longest,
            test: null,
            cased,
          },
        ];
  const [a, b, c] = parts;
  if (parts.length === 0) return valueTest(VT.empty, pattern, undefined);
  if (parts.includes(QMARK)) {
    let source = "^";
    for (const p of parts) source += p === STAR ? ".*" : p === QMARK ? "." : escapeRegex(p);
    source += "$";
    const regex =
      compileLinearRegex(source, { caseInsensitive: false, dotAll: true }) ?? RE2JS.compile(source, RE2JS.DOTALL);
    return valueTest(VT.regex, pattern, literals, { regex });
  }
  if (parts.length === 1) {
    if (a === STAR) return valueTest(VT.always, pattern, undefined);
    return valueTest(VT.equals, pattern, literals, { lit: a as string });
  }
  if (parts.length === 2) {
    if (a === STAR) return valueTest(VT.suffix, pattern, literals, { lit: b as string });
    return valueTest(VT.prefix, pattern, literals, { lit: a as string });
  }
  if (parts.length === 3 && a === STAR && c === STAR)
    return valueTest(VT.contains, pattern, literals, { lit: b as string });
  return valueTest(VT.glob, pattern, literals, {
    segments,
    anchoredStart: parts[0] !== STAR,
    anchoredEnd: parts[parts.length - 1] !== STAR,
  });
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, (m) => `\\${m}`);
}

/**
 * Joins the value tests of one field: values are ORed (or ANDed with `all`; each value's own alternatives —
 * from windash, base64offset, expand — are always ORed), `neq` negates, and a multi-valued field matches when
 * any of its values does.
 */
function combine(
  spec: FieldSpec,
  name: string,
  groups: ValueTest[][],
  cased: boolean,
  all: boolean,
  neq: boolean,
  known: Map<string, LiteralGroup>,
  either?: ValueTest,
): CompiledField {
  const field = spec.field;
  const flat = groups.flat();
  const multi = all && groups.length > 1;
  // Lower-cased plain literals are decided by the prefilter's scan (see `LiteralGroup`).
  const literalGroups =
    !cased && !neq && flat.length > 0 && flat.every(isPlain)
      ? (multi ? groups : [flat]).map((g) => literalGroup(field, g, known))
      : [];
  const exact = literalGroups.length > 0 ? literalGroups.map((g) => g.id) : null;
  const sufficient =
    !cased && !neq && !multi && field !== undefined && flat.length > 0 && flat.every(isExactLiteral)
      ? flat.map((t) => (t.literals as readonly Requirement[])[0] as Requirement)
      : [];
  const op = neq
    ? fieldOp(FT.neq, field, { cased, groups: groups.map(foldList) })
    : multi
      ? fieldOp(FT.all, field, { cased, groups: groups.map(foldList), exact })
      : fieldOp(FT.any, field, { cased, tests: either === undefined ? foldList(flat) : [either], exact });
  let clauses: Requirement[][] = [];
  if (!neq) {
    // With `all`, every group must match, so each group's requirements are a set of their own.
    const sets = multi ? groups.map((g) => requirements(g, cased)) : [requirements(flat, cased)];
    clauses = sets.filter((set): set is Requirement[] => set !== undefined);
  }
  return {
    field,
    op,
    explainer: neq
      ? explainer(
          name,
          spec,
          op,
          flat.map((t) => `not ${t.pattern}`),
          null,
          true,
        )
      : explainer(name, spec, op, [], flat, true),
    clauses,
    groups: literalGroups,
    sufficient,
  };
}

function explainer(
  name: string,
  spec: FieldSpec,
  op: FieldOp,
  patterns: readonly string[],
  tests: readonly ValueTest[] | null,
  values: boolean,
): FieldExplainer {
  return { name, modifiers: spec.modifiers, op, patterns, tests, values };
}

/** A matched field's part of an explanation (see `FieldMatch`). */
export function explainField(x: FieldExplainer, view: EventView): FieldMatch {
  const op = x.op;
  if (!x.values) return { field: x.name, modifiers: x.modifiers, patterns: x.patterns.slice(), values: [] };
  const raw = op.slot < 0 ? view.allStrings() : (view.stringsAt(op.slot) ?? []);
  if (x.tests === null)
    return { field: x.name, modifiers: x.modifiers, patterns: x.patterns.slice(), values: raw.slice() };
  const folded = op.kind === FT.any ? op.tests : op.groups.flat();
  const patterns = new Set<string>();
  const matched = new Set<string>();
  const values = readValues(op, view) ?? [];
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i] as string;
    // The folded tests decide quickly whether the value matched; only then are the patterns named.
    if (!folded.some((t) => valueMatches(t, v))) continue;
    for (const t of x.tests) {
      if (valueMatches(t, v)) {
        patterns.add(t.pattern);
        matched.add(raw[i] ?? v);
      }
    }
  }
  return { field: x.name, modifiers: x.modifiers, patterns: [...patterns], values: [...matched] };
}

/** One of these holds for a value passing one of the tests; undefined when some test offers nothing. */
function requirements(tests: readonly ValueTest[], cased: boolean): Requirement[] | undefined {
  const out: Requirement[] = [];
  for (const t of tests) {
    if (t.literals !== undefined) out.push(...t.literals);
    else if (t.kind === VT.regex) out.push({ text: "", start: false, end: false, test: t, cased });
    else return undefined;
  }
  return out;
}
