import type { ConditionNode } from "./condition-parser.ts";
import { identifierPatternMatches, isConditionError, parseCondition } from "./condition-parser.ts";
import type { DiagnosticSink } from "./diagnostics.ts";
import type { EventView } from "./event-view.ts";
import type { CompiledField, CompileOptions, FieldMatch } from "./field-matcher.ts";
import type { FieldOp } from "./value-test.ts";
import { fieldMatches } from "./value-test.ts";
import { compileField } from "./field-matcher.ts";
import type { ConditionText, SigmaDetection } from "./sigma-rule.ts";

/** A search identifier compiled: an OR of AND-groups of field tests. */
export type CompiledSearch = {
  readonly name: string;
  readonly alternatives: readonly (readonly CompiledField[])[];
  readonly op: CondOp;
  readonly test: (view: EventView) => boolean;
};

/** Which search identifiers matched, and on which fields — "a match explains which selections matched". */
export type MatchExplanation = {
  readonly condition: string;
  readonly selections: readonly { readonly name: string; readonly fields: readonly FieldMatch[] }[];
};

export type CompiledDetection = {
  readonly test: (view: EventView) => boolean;
  readonly explain: (view: EventView) => MatchExplanation;
  /**
   * Sets of (field, literal) atoms of which at least one must hold for the detection to match; undefined when
   * the condition offers no such set (a `not`, a regex-only selection…). See Prefilter.
   */
  readonly atoms: readonly Atom[] | undefined;
};

/** `field` undefined: anywhere in the event (keywords). */
export type Atom = { readonly field: string | undefined; readonly literal: string };

type Evaluator = (view: EventView) => boolean;

export function compileDetection(
  detection: SigmaDetection,
  options: CompileOptions,
  sink: DiagnosticSink,
): CompiledDetection | undefined {
  const searches = new Map<string, CompiledSearch>();
  let ok = true;
  for (const [name, identifier] of detection.identifiers) {
    const alternatives: CompiledField[][] = [];
    for (const group of identifier.alternatives) {
      const fields: CompiledField[] = [];
      for (const spec of group) {
        const compiled = compileField(spec, options, sink);
        if (compiled === undefined) ok = false;
        else fields.push(compiled);
      }
      alternatives.push(fields);
    }
    searches.set(name, compileSearch(name, alternatives));
  }
  const conditions: { node: ConditionNode; text: ConditionText }[] = [];
  for (const text of detection.conditions) {
    const node = parseCondition(text.text);
    if (isConditionError(node)) {
      sink.error("R3_CONDITION_SYNTAX", node.message, conditionPos(text, node.offset));
      ok = false;
      continue;
    }
    if (!checkReferences(node, text, searches, sink)) ok = false;
    conditions.push({ node, text });
  }
  if (!ok) return undefined;
  const ops = conditions.map((c) => compileCondition(c.node, searches));
  // Spec: a list of conditions is ORed.
  const root: CondOp = ops.length === 1 && ops[0] !== undefined ? ops[0] : condOp(C.or, { items: ops });
  const test: Evaluator = (view) => evalCond(root, view);
  const atomSets = conditions.map((c) => conditionAtoms(c.node, searches));
  const atoms = atomSets.some((a) => a === undefined) ? undefined : atomSets.flatMap((a) => a ?? []);
  return {
    test,
    atoms,
    explain: (view) => {
      const matched = conditions.find((_, i) => ops[i] !== undefined && evalCond(ops[i], view)) ?? conditions[0];
      const names = matched === undefined ? [] : referencedSearches(matched.node, searches);
      const selections = names
        .map((name) => searches.get(name))
        .filter((s): s is CompiledSearch => s !== undefined && s.test(view))
        .map((s) => ({ name: s.name, fields: explainSearch(s, view) }));
      return { condition: matched?.text.text ?? "", selections };
    },
  };
}

function conditionPos(text: ConditionText, offset: number): { line: number; col: number } {
  const raw = text.raw;
  if (raw === undefined) return { line: text.pos.line, col: text.pos.col + offset + (text.quoted ? 1 : 0) };
  // Written over several lines (`condition: >`, or a folded plain or quoted scalar), the value differs from its
  // source only in whitespace and in the block header or quotes: count the non-blank characters before the
  // offset and find as many in the source.
  const blank = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\n" || c === "\r";
  let want = 0;
  for (let i = 0; i < offset && i < text.text.length; i += 1) if (!blank(text.text[i])) want += 1;
  const end = text.quoted ? raw.length - 1 : raw.length;
  let i = raw.startsWith(">") || raw.startsWith("|") ? raw.indexOf("\n") + 1 : text.quoted ? 1 : 0;
  let after = i;
  for (; i < end; i += 1) {
    if (blank(raw[i])) continue;
    if (want === 0) break;
    want -= 1;
    after = i + 1;
  }
  // Past the last character (the condition ended too early): just after it.
  const at = i < end ? i : after;
  const lineStart = raw.lastIndexOf("\n", at - 1);
  const line = text.pos.line + raw.slice(0, at).split("\n").length - 1;
  return { line, col: lineStart < 0 ? text.pos.col + at : at - lineStart };
}

function compileSearch(name: string, alternatives: CompiledField[][]): CompiledSearch {
  const op = condOp(C.search, { groups: alternatives.map((fields) => fields.map((f) => f.op)) });
  return { name, alternatives, op, test: (view) => evalCond(op, view) };
}

function explainSearch(search: CompiledSearch, view: EventView): FieldMatch[] {
  const group = search.alternatives.find((fields) => fields.every((f) => f.test(view))) ?? [];
  return group.map((f) => f.explain(view));
}

/** Spec: "1/all of them: ... across all defined search identifiers not starting with an underscore `_`". */
function resolvePattern(pattern: string, searches: ReadonlyMap<string, CompiledSearch>): string[] {
  const names = [...searches.keys()];
  if (pattern === "them") return names.filter((n) => !n.startsWith("_"));
  return names.filter((n) => identifierPatternMatches(pattern, n));
}

function checkReferences(
  node: ConditionNode,
  text: ConditionText,
  searches: ReadonlyMap<string, CompiledSearch>,
  sink: DiagnosticSink,
): boolean {
  switch (node.t) {
    case "and":
    case "or":
      return node.items.map((i) => checkReferences(i, text, searches, sink)).every(Boolean);
    case "not":
      return checkReferences(node.item, text, searches, sink);
    case "id":
      if (searches.has(node.name)) return true;
      sink.error(
        "R3_CONDITION_UNKNOWN_IDENTIFIER",
        `condition refers to '${node.name}', which is not a search identifier of this rule`,
        conditionPos(text, node.offset),
      );
      return false;
    case "of":
      if (resolvePattern(node.pattern, searches).length > 0) return true;
      sink.error(
        "R3_CONDITION_EMPTY_PATTERN",
        `'${node.pattern}' matches no search identifier of this rule`,
        conditionPos(text, node.offset),
      );
      return false;
  }
}

/** Condition operators, evaluated by `evalCond` (see value-test.ts for why tests are data, not closures). */
const C = { and: 0, or: 1, not: 2, search: 3, atLeast: 4, never: 5 } as const;
type CondKind = (typeof C)[keyof typeof C];

type CondOp = {
  readonly kind: CondKind;
  readonly items: readonly CondOp[];
  /** atLeast: how many items must hold. */
  readonly need: number;
  /** search: an OR of AND-groups of field tests. */
  readonly groups: readonly (readonly FieldOp[])[];
};

function condOp(kind: CondKind, init: Partial<Omit<CondOp, "kind">> = {}): CondOp {
  return { kind, items: init.items ?? [], need: init.need ?? 0, groups: init.groups ?? [] };
}

function evalCond(op: CondOp, view: EventView): boolean {
  switch (op.kind) {
    case C.and:
      for (const item of op.items) if (!evalCond(item, view)) return false;
      return true;
    case C.or:
      for (const item of op.items) if (evalCond(item, view)) return true;
      return false;
    case C.not:
      return !evalCond(op.items[0] as CondOp, view);
    case C.search:
      for (const group of op.groups) {
        let all = true;
        for (const f of group) {
          if (!fieldMatches(f, view)) {
            all = false;
            break;
          }
        }
        if (all) return true;
      }
      return false;
    case C.atLeast: {
      let count = 0;
      for (const item of op.items) if (evalCond(item, view) && ++count >= op.need) return true;
      return op.need === 0;
    }
    case C.never:
      return false;
  }
}

function compileCondition(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): CondOp {
  switch (node.t) {
    case "and":
      return condOp(C.and, { items: node.items.map((i) => compileCondition(i, searches)) });
    case "or":
      return condOp(C.or, { items: node.items.map((i) => compileCondition(i, searches)) });
    case "not":
      return condOp(C.not, { items: [compileCondition(node.item, searches)] });
    case "id":
      return searches.get(node.name)?.op ?? condOp(C.never);
    case "of": {
      const items = resolvePattern(node.pattern, searches).map((n) => searches.get(n)?.op ?? condOp(C.never));
      if (node.quantifier === "all") return condOp(C.and, { items });
      if (node.quantifier === 1) return condOp(C.or, { items });
      return condOp(C.atLeast, { items, need: node.quantifier });
    }
  }
}

function referencedSearches(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): string[] {
  switch (node.t) {
    case "and":
    case "or":
      return [...new Set(node.items.flatMap((i) => referencedSearches(i, searches)))];
    case "not":
      // A negated selection did not match by definition; it explains nothing about why the rule fired.
      return [];
    case "id":
      return [node.name];
    case "of":
      return resolvePattern(node.pattern, searches);
  }
}

/**
 * Necessary atoms of a condition: if the condition is true, at least one atom holds (its literal occurs in its
 * field). AND needs any one child's set (we take the most selective); OR needs all children's sets joined;
 * NOT gives none — "not X" can be true without any literal of X.
 */
function conditionAtoms(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): Atom[] | undefined {
  switch (node.t) {
    case "and":
      return best(node.items.map((i) => conditionAtoms(i, searches)));
    case "or":
      return union(node.items.map((i) => conditionAtoms(i, searches)));
    case "not":
      return undefined;
    case "id": {
      const s = searches.get(node.name);
      return s === undefined ? undefined : searchAtoms(s);
    }
    case "of": {
      const sets = resolvePattern(node.pattern, searches).map((n) => {
        const s = searches.get(n);
        return s === undefined ? undefined : searchAtoms(s);
      });
      return node.quantifier === "all" ? best(sets) : union(sets);
    }
  }
}

function searchAtoms(search: CompiledSearch): Atom[] | undefined {
  return union(
    search.alternatives.map((fields) =>
      best(
        fields.map((f) =>
          f.literals === undefined ? undefined : f.literals.map((literal) => ({ field: f.field, literal })),
        ),
      ),
    ),
  );
}

function union(sets: readonly (Atom[] | undefined)[]): Atom[] | undefined {
  if (sets.length === 0 || sets.some((s) => s === undefined)) return undefined;
  return sets.flatMap((s) => s ?? []);
}

/** Of sets that are each necessary, the one whose shortest literal is longest filters best. */
function best(sets: readonly (Atom[] | undefined)[]): Atom[] | undefined {
  let chosen: Atom[] | undefined;
  let score = Number.NEGATIVE_INFINITY;
  for (const s of sets) {
    if (s === undefined || s.length === 0) continue;
    const shortest = s.reduce((m, a) => Math.min(m, a.literal.length), Number.POSITIVE_INFINITY);
    const value = shortest * 4 - Math.log2(s.length);
    if (value > score) {
      score = value;
      chosen = s;
    }
  }
  return chosen;
}
