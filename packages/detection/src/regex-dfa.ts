import type { RegexProgram } from "./value-test.ts";

/**
 * A linear-time matcher for the regular expressions Sigma rules write (`|re`): RE2 syntax, compiled to a
 * Thompson NFA and run as a DFA built lazily, state by state, as inputs need it — what RE2 itself does, with
 * one table lookup per character and nothing allocated once the states an input meets exist. RE2JS answers
 * the same question an order of magnitude slower, and `|re` rules without a literal to index run on every
 * event of their logsource. Only the unanchored yes/no question is answered (`test`), so captures and
 * greediness do not matter.
 *
 * The subset: literals, `.`, classes with ranges and `\d \s \w` (and negations), groups (capturing, named,
 * non-capturing), alternation, `* + ? {n} {n,} {n,m}` (greedy or lazy), `^` and `$` (whole text, RE2's
 * default), and the flags `i`, `s`, `U`. Anything else — `\b`, `\p{…}`, POSIX classes, multi-line mode,
 * case-insensitive non-ASCII — returns undefined and the caller keeps RE2JS; the patterns are first
 * validated by RE2JS, so this parser never has to report syntax errors.
 */
export function compileLinearRegex(source: string, flags: RegexFlags): RegexProgram | undefined {
  const tree = new Parser(source, flags).parse();
  if (tree === undefined) return undefined;
  return Nfa.build(tree)?.dfa(source, flags);
}

/**
 * One program that finds a match where any of `programs` does (`(?i:a)|(?:b)…`): a value is then read once,
 * not once per regex. Undefined unless they all are this engine's, or when the union is not.
 */
export function regexUnion(programs: readonly RegexProgram[]): RegexProgram | undefined {
  const branches: string[] = [];
  for (const p of programs) {
    if (!(p instanceof Dfa)) return undefined;
    branches.push(`(?${p.flags.caseInsensitive ? "i" : ""}${p.flags.dotAll ? "s" : ""}:${p.source})`);
  }
  return compileLinearRegex(branches.join("|"), { caseInsensitive: false, dotAll: false });
}

export type RegexFlags = { readonly caseInsensitive: boolean; readonly dotAll: boolean };

// ---- Character sets: sorted, disjoint, inclusive code point ranges [lo, hi, lo, hi, …] ----------------------

type CharSet = readonly number[];

const MAX_CODE_POINT = 0x10ffff;
const ALL: CharSet = [0, MAX_CODE_POINT];
const NOT_NEWLINE: CharSet = [0, 9, 11, MAX_CODE_POINT];
const DIGIT: CharSet = [48, 57];
const SPACE: CharSet = [9, 10, 12, 13, 32, 32];
const WORD: CharSet = [48, 57, 65, 90, 95, 95, 97, 122];
const KELVIN = 0x212a;
const LONG_S = 0x17f;

function normalize(ranges: readonly (readonly [number, number])[]): number[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of sorted) {
    const last = out.length - 1;
    if (last > 0 && lo <= (out[last] as number) + 1) out[last] = Math.max(out[last] as number, hi);
    else out.push(lo, hi);
  }
  return out;
}

function pairs(set: CharSet): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < set.length; i += 2) out.push([set[i] as number, set[i + 1] as number]);
  return out;
}

function negate(set: CharSet): number[] {
  const out: number[] = [];
  let next = 0;
  for (const [lo, hi] of pairs(set)) {
    if (lo > next) out.push(next, lo - 1);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

/**
 * RE2's case folding of a set: every member with its simple case-folding orbit. Only ASCII members are
 * supported (undefined otherwise): their orbits are the two cases, and for k and s also U+212A (Kelvin sign)
 * and U+017F (long s).
 */
function fold(set: CharSet): number[] | undefined {
  const ranges = pairs(set);
  if (ranges.some(([, hi]) => hi >= 128)) return undefined;
  const out = [...ranges];
  const add = (lo: number, hi: number, delta: number): void => {
    for (const [a, b] of ranges) {
      const from = Math.max(a, lo);
      const to = Math.min(b, hi);
      if (from <= to) out.push([from + delta, to + delta]);
    }
  };
  add(65, 90, 32);
  add(97, 122, -32);
  const has = (c: number): boolean => ranges.some(([a, b]) => a <= c && c <= b);
  if (has(75) || has(107)) out.push([KELVIN, KELVIN]);
  if (has(83) || has(115)) out.push([LONG_S, LONG_S]);
  return normalize(out);
}

// ---- Parsing ----------------------------------------------------------------------------------------------------

type Tree =
  | { readonly t: "set"; readonly set: CharSet }
  | { readonly t: "cat"; readonly items: readonly Tree[] }
  | { readonly t: "alt"; readonly items: readonly Tree[] }
  | { readonly t: "repeat"; readonly item: Tree; readonly min: number; readonly max: number }
  | { readonly t: "bol" }
  | { readonly t: "eol" };

type ParseFlags = { fold: boolean; dotAll: boolean };

/** Thrown inside the parser for anything outside the subset; `parse` turns it into undefined. */
class Unsupported extends Error {}

/** RE2's own limit on a counted repetition. */
const MAX_REPEAT = 1000;

class Parser {
  private readonly chars: readonly number[];
  private pos = 0;
  private readonly initial: ParseFlags;

  constructor(source: string, flags: RegexFlags) {
    this.chars = Array.from(source, (c) => c.codePointAt(0) as number);
    this.initial = { fold: flags.caseInsensitive, dotAll: flags.dotAll };
  }

  parse(): Tree | undefined {
    try {
      const tree = this.alternation({ ...this.initial });
      return this.pos === this.chars.length ? tree : undefined;
    } catch (error) {
      if (error instanceof Unsupported) return undefined;
      throw error;
    }
  }

  private peek(offset = 0): number | undefined {
    return this.chars[this.pos + offset];
  }

  private is(c: string, offset = 0): boolean {
    return this.peek(offset) === c.charCodeAt(0);
  }

  /** Branches up to the end or the `)` closing the current group; flags set inside last until that `)`. */
  private alternation(flags: ParseFlags): Tree {
    const branches: Tree[] = [this.sequence(flags)];
    while (this.is("|")) {
      this.pos += 1;
      branches.push(this.sequence(flags));
    }
    return branches.length === 1 ? (branches[0] as Tree) : { t: "alt", items: branches };
  }

  private sequence(flags: ParseFlags): Tree {
    const items: Tree[] = [];
    while (this.pos < this.chars.length && !this.is("|") && !this.is(")")) {
      if (this.is("(") && this.is("?", 1) && this.inlineFlags(flags)) continue;
      const atom = this.atom(flags);
      items.push(this.quantified(atom));
    }
    return items.length === 1 ? (items[0] as Tree) : { t: "cat", items };
  }

  /** `(?flags)`: changes `flags` for the rest of the group and returns true; other `(?` forms return false. */
  private inlineFlags(flags: ParseFlags): boolean {
    let end = this.pos + 2;
    while (end < this.chars.length && /[a-zA-Z-]/.test(String.fromCodePoint(this.chars[end] as number))) end += 1;
    if (this.chars[end] !== 41 /* ) */) return false;
    this.applyFlags(this.pos + 2, end, flags);
    this.pos = end + 1;
    return true;
  }

  private applyFlags(from: number, to: number, flags: ParseFlags): void {
    let on = true;
    for (let i = from; i < to; i += 1) {
      const c = String.fromCodePoint(this.chars[i] as number);
      if (c === "-") on = false;
      else if (c === "i") flags.fold = on;
      else if (c === "s") flags.dotAll = on;
      else if (c !== "U") throw new Unsupported(`flag ${c}`);
    }
  }

  private quantified(atom: Tree): Tree {
    let min: number;
    let max: number;
    if (this.is("*") || this.is("+") || this.is("?")) {
      const c = this.peek() as number;
      min = c === 43 /* + */ ? 1 : 0;
      max = c === 63 /* ? */ ? 1 : -1;
      this.pos += 1;
    } else if (this.is("{")) {
      const repeat = this.braces();
      if (repeat === undefined) return atom;
      [min, max] = repeat;
    } else {
      return atom;
    }
    if (this.is("?")) this.pos += 1; // lazy: the same yes/no answer
    if (this.is("*") || this.is("+") || this.is("?") || (this.is("{") && this.bracesAhead())) {
      throw new Unsupported("nested repetition");
    }
    if (atom.t === "bol" || atom.t === "eol") throw new Unsupported("repeated assertion");
    return { t: "repeat", item: atom, min, max };
  }

  private bracesAhead(): boolean {
    const save = this.pos;
    const repeat = this.braces();
    this.pos = save;
    return repeat !== undefined;
  }

  /** `{n}`, `{n,}`, `{n,m}`; undefined (position unchanged) when the brace is a literal, as in RE2. */
  private braces(): [number, number] | undefined {
    const start = this.pos;
    this.pos += 1;
    const min = this.number();
    let max = min;
    if (min !== undefined && this.is(",")) {
      this.pos += 1;
      max = this.is("}") ? -1 : this.number();
    }
    if (min === undefined || max === undefined || !this.is("}")) {
      this.pos = start;
      return undefined;
    }
    this.pos += 1;
    if (min > MAX_REPEAT || max > MAX_REPEAT || (max !== -1 && max < min)) throw new Unsupported("repeat count");
    return [min, max];
  }

  private number(): number | undefined {
    let digits = "";
    while (this.peek() !== undefined && (this.peek() as number) >= 48 && (this.peek() as number) <= 57) {
      digits += String.fromCharCode(this.peek() as number);
      this.pos += 1;
    }
    return digits === "" || digits.length > 4 ? undefined : Number(digits);
  }

  private atom(flags: ParseFlags): Tree {
    const c = this.peek() as number;
    this.pos += 1;
    switch (c) {
      case 40 /* ( */:
        return this.group(flags);
      case 91 /* [ */:
        return { t: "set", set: this.charClass(flags) };
      case 46 /* . */:
        return { t: "set", set: flags.dotAll ? ALL : NOT_NEWLINE };
      case 94 /* ^ */:
        return { t: "bol" };
      case 36 /* $ */:
        return { t: "eol" };
      case 92 /* \ */: {
        const group = this.perlGroup(flags);
        return { t: "set", set: group ?? this.literal(this.escape(), flags) };
      }
      case 42 /* * */:
      case 43 /* + */:
      case 63 /* ? */:
      case 41 /* ) */:
        throw new Unsupported("misplaced operator");
      default:
        return { t: "set", set: this.literal(c, flags) };
    }
  }

  private literal(c: number, flags: ParseFlags): CharSet {
    const set = [c, c];
    if (!flags.fold) return set;
    const folded = fold(set);
    if (folded === undefined) throw new Unsupported("case-insensitive non-ASCII");
    return folded;
  }

  private group(outer: ParseFlags): Tree {
    const flags = { ...outer };
    if (this.is("?")) {
      if (this.is(":", 1)) {
        this.pos += 2;
      } else if (this.is("P", 1) && this.is("<", 2)) {
        this.skipName(this.pos + 3);
      } else if (this.is("<", 1) && !this.is("=", 2) && !this.is("!", 2)) {
        this.skipName(this.pos + 2);
      } else {
        // `(?flags:…)`
        let end = this.pos + 1;
        while (end < this.chars.length && /[a-zA-Z-]/.test(String.fromCodePoint(this.chars[end] as number))) end += 1;
        if (this.chars[end] !== 58 /* : */) throw new Unsupported("group kind");
        this.applyFlags(this.pos + 1, end, flags);
        this.pos = end + 1;
      }
    }
    const inner = this.alternation(flags);
    if (!this.is(")")) throw new Unsupported("unclosed group");
    this.pos += 1;
    return inner;
  }

  private skipName(from: number): void {
    let end = from;
    while (end < this.chars.length && this.chars[end] !== 62 /* > */) end += 1;
    if (end >= this.chars.length) throw new Unsupported("group name");
    this.pos = end + 1;
  }

  /** After a backslash: `\d \D \s \S \w \W` as a set (folded, then negated, as RE2 does), else undefined. */
  private perlGroup(flags: ParseFlags): CharSet | undefined {
    const c = String.fromCodePoint(this.peek() ?? 0);
    const base =
      c === "d" || c === "D" ? DIGIT : c === "s" || c === "S" ? SPACE : c === "w" || c === "W" ? WORD : undefined;
    if (base === undefined) return undefined;
    this.pos += 1;
    const folded = flags.fold ? (fold(base) as number[]) : base;
    return c === c.toUpperCase() ? negate(folded) : folded;
  }

  /** The character an escape stands for (after the backslash). */
  private escape(): number {
    const c = this.peek();
    if (c === undefined) throw new Unsupported("trailing backslash");
    this.pos += 1;
    const letter = String.fromCodePoint(c);
    const controls: Readonly<Record<string, number>> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    const control = controls[letter];
    if (control !== undefined) return control;
    if (letter === "x") return this.hexEscape();
    // Punctuation stands for itself; letters and digits not handled above mean something else in RE2.
    if (c < 128 && !/[0-9A-Za-z_]/.test(letter)) return c;
    throw new Unsupported(`\\${letter}`);
  }

  private hexEscape(): number {
    let digits = "";
    if (this.is("{")) {
      this.pos += 1;
      while (this.peek() !== undefined && !this.is("}")) {
        digits += String.fromCodePoint(this.peek() as number);
        this.pos += 1;
      }
      this.pos += 1;
    } else {
      digits = String.fromCodePoint(this.peek() ?? 0, this.peek(1) ?? 0);
      this.pos += 2;
    }
    const value = /^[0-9a-fA-F]{1,8}$/.test(digits) ? parseInt(digits, 16) : Number.NaN;
    if (!(value <= MAX_CODE_POINT)) throw new Unsupported("hex escape");
    return value;
  }

  /** After `[`: members up to `]` (a `]` first is a member), each folded when `i` is on, negated with `^`. */
  private charClass(flags: ParseFlags): CharSet {
    const negated = this.is("^");
    if (negated) this.pos += 1;
    const ranges: [number, number][] = [];
    let first = true;
    while (first || !this.is("]")) {
      if (this.pos >= this.chars.length) throw new Unsupported("unclosed class");
      first = false;
      if (this.is("[") && this.is(":", 1)) throw new Unsupported("POSIX class");
      if (this.is("\\")) {
        this.pos += 1;
        const group = this.perlGroup(flags);
        if (group !== undefined) {
          ranges.push(...pairs(group));
          continue;
        }
        this.pos -= 1;
      }
      const lo = this.classChar();
      let hi = lo;
      if (this.is("-") && !this.is("]", 1) && this.pos + 1 < this.chars.length) {
        this.pos += 1;
        hi = this.classChar();
        if (hi < lo) throw new Unsupported("bad range");
      }
      const member = [lo, hi];
      const folded = flags.fold ? fold(member) : member;
      if (folded === undefined) throw new Unsupported("case-insensitive non-ASCII");
      ranges.push(...pairs(folded));
    }
    this.pos += 1;
    const set = normalize(ranges);
    return negated ? negate(set) : set;
  }

  private classChar(): number {
    const c = this.peek();
    if (c === undefined) throw new Unsupported("unclosed class");
    this.pos += 1;
    return c === 92 /* \ */ ? this.escape() : c;
  }
}

// ---- The NFA -------------------------------------------------------------------------------------------------

const CHAR = 0;
const SPLIT = 1;
const MATCH = 2;
const BOL = 3;
const EOL = 4;

/** Past this many NFA nodes (e.g. nested counted repetitions), RE2JS keeps the pattern. */
const MAX_NODES = 20_000;

class Nfa {
  readonly kind: number[] = [];
  readonly out1: number[] = [];
  readonly out2: number[] = [];
  readonly sets: (CharSet | undefined)[] = [];
  start = 0;
  minLength = 0;

  static build(tree: Tree): Nfa | undefined {
    const nfa = new Nfa();
    const match = nfa.node(MATCH, -1, -1);
    try {
      nfa.start = nfa.compile(tree, match);
    } catch (error) {
      if (error instanceof Unsupported) return undefined;
      throw error;
    }
    nfa.minLength = Math.min(minLength(tree), MAX_NODES);
    return nfa;
  }

  private node(kind: number, out1: number, out2: number, set?: CharSet): number {
    if (this.kind.length >= MAX_NODES) throw new Unsupported("too large");
    this.kind.push(kind);
    this.out1.push(out1);
    this.out2.push(out2);
    this.sets.push(set);
    return this.kind.length - 1;
  }

  /** The start node of `tree` followed by `next` (built back to front, so no patching). */
  private compile(tree: Tree, next: number): number {
    switch (tree.t) {
      case "set":
        return this.node(CHAR, next, -1, tree.set);
      case "bol":
        return this.node(BOL, next, -1);
      case "eol":
        return this.node(EOL, next, -1);
      case "cat": {
        let at = next;
        for (let i = tree.items.length - 1; i >= 0; i -= 1) at = this.compile(tree.items[i] as Tree, at);
        return at;
      }
      case "alt": {
        let at = this.compile(tree.items[tree.items.length - 1] as Tree, next);
        for (let i = tree.items.length - 2; i >= 0; i -= 1) {
          at = this.node(SPLIT, this.compile(tree.items[i] as Tree, next), at);
        }
        return at;
      }
      case "repeat": {
        let at = next;
        if (tree.max === -1) {
          const loop = this.node(SPLIT, -1, next);
          this.out1[loop] = this.compile(tree.item, loop);
          at = loop;
        } else {
          for (let i = tree.min; i < tree.max; i += 1) at = this.node(SPLIT, this.compile(tree.item, at), next);
        }
        for (let i = 0; i < tree.min; i += 1) at = this.compile(tree.item, at);
        return at;
      }
    }
  }

  dfa(source: string, flags: RegexFlags): Dfa {
    return new Dfa(this, source, flags);
  }
}

/** Fewest characters a match needs: a shorter input is answered without looking at it. */
function minLength(tree: Tree): number {
  switch (tree.t) {
    case "set":
      return 1;
    case "bol":
    case "eol":
      return 0;
    case "cat":
      return tree.items.reduce((sum, item) => sum + minLength(item), 0);
    case "alt":
      return Math.min(...tree.items.map(minLength));
    case "repeat":
      return tree.min * minLength(tree.item);
  }
}

// ---- The lazy DFA --------------------------------------------------------------------------------------------

/** Per DFA state: whether reaching it ends the search (a match, or no way to one), and how it ends the input. */
const STOP_MATCH = 1;
const STOP_DEAD = 2;
const END_UNKNOWN = -1;

/** Transition table entries one DFA may hold; past it the cache starts over (the answer stays linear). */
const MAX_TRANSITIONS = 1 << 16;

class Dfa implements RegexProgram {
  /** What it was compiled from (see `regexUnion`). */
  readonly source: string;
  readonly flags: RegexFlags;
  private readonly nfa: Nfa;
  /** Code points are mapped to classes that every set either wholly contains or wholly misses. */
  private readonly bounds: Int32Array;
  private readonly asciiClass: Uint16Array;
  private readonly classes: number;
  /** Per NFA node, for CHAR nodes: which classes it accepts (`member[node * classes + k]`). */
  private readonly member: Uint8Array;
  private readonly emptyMatches: boolean;
  private readonly marks: Uint32Array;
  private mark = 0;
  private readonly stack: number[] = [];
  private stateIds = new Map<string, number>();
  private stateNodes: Int32Array[] = [];
  private stop = new Uint8Array(16);
  private endMatch = new Int8Array(16);
  private trans = new Int32Array(0);
  private initial = 0;
  /** Counts cache resets: a transition computed across one must not be stored. */
  private generation = 0;

  constructor(nfa: Nfa, source: string, flags: RegexFlags) {
    this.source = source;
    this.flags = flags;
    this.nfa = nfa;
    const cuts = new Set<number>([0]);
    for (const set of nfa.sets) {
      if (set === undefined) continue;
      for (let i = 0; i < set.length; i += 2) {
        cuts.add(set[i] as number);
        if ((set[i + 1] as number) < MAX_CODE_POINT) cuts.add((set[i + 1] as number) + 1);
      }
    }
    this.bounds = Int32Array.from([...cuts].sort((a, b) => a - b));
    this.classes = this.bounds.length;
    this.asciiClass = new Uint16Array(128);
    for (let c = 0; c < 128; c += 1) this.asciiClass[c] = this.classOf(c);
    this.member = new Uint8Array(nfa.kind.length * this.classes);
    nfa.sets.forEach((set, node) => {
      if (set === undefined) return;
      for (let k = 0; k < this.classes; k += 1) {
        const c = this.bounds[k] as number;
        for (let i = 0; i < set.length; i += 2) {
          if ((set[i] as number) <= c && c <= (set[i + 1] as number)) this.member[node * this.classes + k] = 1;
        }
      }
    });
    this.marks = new Uint32Array(nfa.kind.length);
    this.emptyMatches = this.closure([nfa.start], true, true).includes(0);
    this.reset();
  }

  private reset(): void {
    this.generation += 1;
    this.stateIds = new Map();
    this.stateNodes = [];
    this.trans = new Int32Array(Math.min(MAX_TRANSITIONS, 16 * this.classes)).fill(-1);
    this.initial = this.intern(this.closure([this.nfa.start], true, false));
  }

  private classOf(c: number): number {
    const bounds = this.bounds;
    let lo = 0;
    let hi = bounds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((bounds[mid] as number) <= c) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  test(input: string): boolean {
    const length = input.length;
    if (length < this.nfa.minLength) return false;
    if (length === 0) return this.emptyMatches;
    const asciiClass = this.asciiClass;
    const classes = this.classes;
    const trans = this.trans;
    const stop = this.stop;
    let state = this.initial;
    if (stop[state] === STOP_MATCH) return true;
    // The loop for ASCII over states already built, which is nearly every character once the DFA is warm;
    // `testFrom` takes over at the first character that needs more.
    for (let i = 0; i < length; i += 1) {
      const c = input.charCodeAt(i);
      const next = c < 128 ? (trans[state * classes + (asciiClass[c] as number)] as number) : -1;
      if (next < 0) return this.testFrom(input, i, state);
      state = next;
      const s = stop[state] as number;
      if (s !== 0) return s === STOP_MATCH;
    }
    return this.matchesAtEnd(state);
  }

  /** `test` from `input[from]` on, in `state`: reads characters beyond ASCII and builds states as needed. */
  private testFrom(input: string, from: number, start: number): boolean {
    const asciiClass = this.asciiClass;
    const classes = this.classes;
    let trans = this.trans;
    let stop = this.stop;
    let state = start;
    for (let i = from; i < input.length; i += 1) {
      let c = input.charCodeAt(i);
      let k: number;
      if (c < 128) {
        k = asciiClass[c] as number;
      } else {
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < input.length) {
          const low = input.charCodeAt(i + 1);
          if (low >= 0xdc00 && low <= 0xdfff) {
            c = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
            i += 1;
          }
        }
        k = this.classOf(c);
      }
      let next = trans[state * classes + k] as number;
      if (next < 0) {
        next = this.step(state, k);
        trans = this.trans;
        stop = this.stop;
      }
      state = next;
      const s = stop[state] as number;
      if (s !== 0) return s === STOP_MATCH;
    }
    return this.matchesAtEnd(state);
  }

  /** The NFA nodes that matter in a DFA state (CHAR, MATCH, EOL) reachable from `from` without input. */
  private closure(from: readonly number[], atStart: boolean, atEnd: boolean): number[] {
    const nfa = this.nfa;
    this.mark = (this.mark + 1) >>> 0;
    if (this.mark === 0) {
      this.marks.fill(0);
      this.mark = 1;
    }
    const out: number[] = [];
    const stack = this.stack;
    for (const node of from) stack.push(node);
    while (stack.length > 0) {
      const node = stack.pop() as number;
      if (node < 0 || this.marks[node] === this.mark) continue;
      this.marks[node] = this.mark;
      switch (nfa.kind[node]) {
        case SPLIT:
          stack.push(nfa.out2[node] as number, nfa.out1[node] as number);
          break;
        case BOL:
          if (atStart) stack.push(nfa.out1[node] as number);
          break;
        case EOL:
          if (atEnd) stack.push(nfa.out1[node] as number);
          else out.push(node);
          break;
        default:
          out.push(node);
      }
    }
    return out;
  }

  private intern(nodes: number[]): number {
    nodes.sort((a, b) => a - b);
    const key = nodes.join(",");
    const known = this.stateIds.get(key);
    if (known !== undefined) return known;
    if (this.stateNodes.length > 1 && (this.stateNodes.length + 1) * this.classes > MAX_TRANSITIONS) this.reset();
    const id = this.stateNodes.length;
    if ((id + 1) * this.classes > this.trans.length) {
      const grown = new Int32Array(Math.max(this.trans.length * 2, (id + 1) * this.classes)).fill(-1);
      grown.set(this.trans);
      this.trans = grown;
    }
    if (id >= this.stop.length) {
      const stop = new Uint8Array(this.stop.length * 2);
      stop.set(this.stop);
      this.stop = stop;
      const endMatch = new Int8Array(this.endMatch.length * 2);
      endMatch.set(this.endMatch);
      this.endMatch = endMatch;
    }
    this.stateIds.set(key, id);
    this.stateNodes.push(Int32Array.from(nodes));
    this.stop[id] = nodes.some((n) => this.nfa.kind[n] === MATCH) ? STOP_MATCH : nodes.length === 0 ? STOP_DEAD : 0;
    this.endMatch[id] = END_UNKNOWN;
    return id;
  }

  private step(state: number, k: number): number {
    const nfa = this.nfa;
    const from: number[] = [];
    for (const node of this.stateNodes[state] as Int32Array) {
      if (nfa.kind[node] === CHAR && this.member[node * this.classes + k] === 1) from.push(nfa.out1[node] as number);
    }
    // Unanchored search: a match may begin at every position.
    from.push(nfa.start);
    const generation = this.generation;
    const next = this.intern(this.closure(from, false, false));
    if (generation === this.generation) this.trans[state * this.classes + k] = next;
    return next;
  }

  private matchesAtEnd(state: number): boolean {
    if (this.endMatch[state] === END_UNKNOWN) {
      const eols: number[] = [];
      for (const node of this.stateNodes[state] as Int32Array) {
        if (this.nfa.kind[node] === EOL) eols.push(this.nfa.out1[node] as number);
      }
      const reached = eols.length > 0 && this.closure(eols, false, true).some((n) => this.nfa.kind[n] === MATCH);
      this.endMatch[state] = reached ? 1 : 0;
    }
    return this.endMatch[state] === 1;
  }
}
