import type { ConditionNode } from "./condition-parser.ts";
import { identifierPatternMatches, isConditionError, parseCondition } from "./condition-parser.ts";
import type { DiagnosticSink } from "./diagnostics.ts";
import type { EventView } from "./event-view.ts";
import type { CompiledField, CompileOptions, FieldMatch } from "./field-matcher.ts";
import type { FieldOp, LiteralGroup, Requirement } from "./value-test.ts";
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
   * Sets of (field, literal) atoms that the detection cannot match without: from every set, at least one atom
   * must hold. Empty or undefined when the condition offers no such set (a `not`, a regex-only selection…).
   * The ruleset's prefilter evaluates a rule only on events where every set has a hit.
   */
  readonly atoms: readonly (readonly Atom[])[] | undefined;
  /** The literal groups of the field ops the condition uses (see `LiteralGroup`); the prefilter marks them. */
  readonly literalGroups?: readonly LiteralGroup[];
};

/** One of these requirements on a field; `field` undefined: on any value of the event (keywords). */
export type Atom = { readonly field: string | undefined; readonly requirements: readonly Requirement[] };

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
  const atoms = orClauses(conditions.map((c) => conditionClauses(c.node, searches)));
  const used = new Set(conditions.flatMap((c) => referencedNames(c.node, searches)));
  const literalGroups = [...used].flatMap(
    (name) => searches.get(name)?.alternatives.flatMap((fields) => fields.flatMap((f) => f.groups)) ?? [],
  );
  const explained = conditions.map((c) => ({
    condition: c.text.text,
    searches: referencedSearches(c.node, searches)
      .map((name) => searches.get(name))
      .filter((s): s is CompiledSearch => s !== undefined),
  }));
  return {
    test,
    atoms,
    literalGroups,
    explain: (view) => {
      // Explaining runs on matches only: the condition that matched (the first, when there is one), then each
      // selection it names that holds, with the fields of its first group that holds.
      let matched = explained[0];
      if (explained.length > 1) {
        const at = ops.findIndex((op) => evalCond(op, view));
        matched = explained[at] ?? matched;
      }
      const selections: { name: string; fields: FieldMatch[] }[] = [];
      for (const s of matched?.searches ?? []) {
        const group = s.alternatives.find((fields) => fields.every((f) => fieldMatches(f.op, view)));
        if (group !== undefined) selections.push({ name: s.name, fields: group.map((f) => f.explain(view)) });
      }
      return { condition: matched?.condition ?? "", selections };
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

/** Every search identifier the condition evaluates, negated or not. */
function referencedNames(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): string[] {
  switch (node.t) {
    case "and":
    case "or":
      return node.items.flatMap((i) => referencedNames(i, searches));
    case "not":
      return referencedNames(node.item, searches);
    case "id":
      return [node.name];
    case "of":
      return resolvePattern(node.pattern, searches);
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
 * Necessary atom sets of a condition, as a conjunction of sets (see `CompiledDetection.atoms`); [] when none
 * is known. AND needs every child's sets; OR needs, for each way of picking one set per child, their union;
 * NOT gives none — "not X" can be true without any literal of X. Only the most selective few are kept: each
 * costs prefilter states, and a handful already leaves few candidates.
 */
function conditionClauses(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): Atom[][] {
  switch (node.t) {
    case "and":
      return andClauses(node.items.map((i) => conditionClauses(i, searches)));
    case "or":
      return orClauses(node.items.map((i) => conditionClauses(i, searches)));
    case "not":
      return [];
    case "id": {
      const s = searches.get(node.name);
      return s === undefined ? [] : searchClauses(s);
    }
    case "of": {
      const sets = resolvePattern(node.pattern, searches).map((n) => {
        const s = searches.get(n);
        return s === undefined ? [] : searchClauses(s);
      });
      return node.quantifier === "all" ? andClauses(sets) : orClauses(sets);
    }
  }
}

function searchClauses(search: CompiledSearch): Atom[][] {
  return orClauses(
    search.alternatives.map((fields) =>
      andClauses(
        fields.map((f) => f.clauses.filter((c) => c.length > 0).map((c) => [{ field: f.field, requirements: c }])),
      ),
    ),
  );
}

const MAX_CLAUSES = 3;

function andClauses(parts: readonly Atom[][][]): Atom[][] {
  const all = parts.flat();
  // A set with a test in it costs a test run per new value: only worth it when there is nothing else.
  const literal = all.filter((clause) => clause.every((a) => a.requirements.every((r) => r.test === null)));
  return mostSelective(literal.length > 0 ? literal : all);
}

function orClauses(parts: readonly Atom[][][]): Atom[][] {
  if (parts.length === 0 || parts.some((p) => p.length === 0)) return [];
  let acc = parts[0] as Atom[][];
  for (const next of parts.slice(1)) acc = mostSelective(acc.flatMap((a) => next.map((b) => [...a, ...b])));
  return acc;
}

function mostSelective(clauses: Atom[][]): Atom[][] {
  if (clauses.length <= MAX_CLAUSES) return clauses;
  return clauses
    .map((clause) => ({ clause, score: selectivity(clause) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, MAX_CLAUSES)
    .map((c) => c.clause);
}

/**
 * How well a set filters: by its weakest literal (longer is rarer; a literal that must begin or end the value
 * is rarer still; a test counts as a short literal), less a little for every requirement it holds.
 */
function selectivity(clause: readonly Atom[]): number {
  let weakest = Number.POSITIVE_INFINITY;
  let count = 0;
  for (const a of clause) {
    for (const r of a.requirements) {
      weakest = Math.min(weakest, r.test !== null ? 2 : r.text.length + (r.start ? 3 : 0) + (r.end ? 3 : 0));
      count += 1;
    }
  }
  return weakest * 4 - Math.log2(count);
}
