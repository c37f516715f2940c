import type { ConditionNode } from "./condition-parser.ts";
import { identifierPatternMatches, isConditionError, parseCondition } from "./condition-parser.ts";
import type { DiagnosticSink } from "./diagnostics.ts";
import type { EventView } from "./event-view.ts";
import type { CompiledField, CompileOptions, FieldExplainer, FieldMatch } from "./field-matcher.ts";
import type { ConditionProgram, ConditionScope, SearchOps } from "./condition-program.ts";
import { compileProgram, programTest, runProgram } from "./condition-program.ts";
import type { FieldOp, LiteralGroup, Requirement } from "./value-test.ts";
import { fieldMatches, fieldOp, FT, VT } from "./value-test.ts";
import { compileField, eitherRegex, explainField } from "./field-matcher.ts";
import type { ConditionText, SigmaDetection } from "./sigma-rule.ts";

/** A search identifier compiled: an OR of AND-groups of field tests. */
export type CompiledSearch = {
  readonly name: string;
  readonly alternatives: readonly (readonly CompiledField[])[];
  readonly ops: SearchOps;
};

/** Which search identifiers matched, and on which fields — "a match explains which selections matched". */
export type MatchExplanation = {
  readonly condition: string;
  readonly selections: readonly { readonly name: string; readonly fields: readonly FieldMatch[] }[];
  /** Why there is no explanation: the rule threw while explaining the match (it was disabled for it). */
  readonly error?: string;
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
  /**
   * Field literals of which any one, found in its field (lower-cased, where its anchors say), makes the
   * detection false: the literals of `not filter` when the filter holds as soon as one of them occurs. The
   * prefilter does not evaluate a rule on an event it finds one in.
   */
  readonly vetoes?: readonly Atom[];
  /** Field literals of which any one, found in its field, makes the detection true (how a filter vetoes). */
  readonly triggers?: readonly Atom[];
  /** Whether the detection holds exactly when one of `triggers` occurs: they decide it alone. */
  readonly decided?: boolean;
  /**
   * `test`, for an event the prefilter has found none of `vetoes` in: without the `not filter` terms that
   * their vetoes decide (a rule's many filters then cost nothing when it matches).
   */
  readonly afterVetoes?: (view: EventView) => boolean;
  /** The literal groups of the field ops the condition uses (see `LiteralGroup`); the prefilter marks them. */
  readonly literalGroups?: readonly LiteralGroup[];
};

/** One of these requirements on a field; `field` undefined: on any value of the event (keywords). */
export type Atom = { readonly field: string | undefined; readonly requirements: readonly Requirement[] };

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
  const scope: ConditionScope = {
    search: (name) => searches.get(name)?.ops,
    names: (pattern) => resolvePattern(pattern, searches),
  };
  const programs = conditions.map((c) => compileProgram(c.node, scope));
  // Spec: a list of conditions is ORed.
  const root =
    programs.length === 1 && programs[0] !== undefined
      ? programs[0]
      : compileProgram({ t: "or", items: conditions.map((c) => c.node) }, scope);
  const atoms = orClauses(conditions.map((c) => conditionClauses(c.node, searches)));
  // A list of conditions is ORed: a literal makes it false only by making each false, true by making one.
  const only = conditions.length === 1 ? conditions[0]?.node : undefined;
  const vetoes = only === undefined ? [] : conditionVetoes(only, searches);
  const triggers = conditions.flatMap((c) => conditionTriggers(c.node, searches));
  const decided = conditions.length > 0 && conditions.every((c) => decidedByTriggers(c.node, searches));
  const vetoed = only === undefined ? undefined : withoutVetoed(only, searches);
  const afterVetoes = vetoed === undefined ? root : compileProgram(vetoed, scope);
  const used = new Set(conditions.flatMap((c) => referencedNames(c.node, searches)));
  const literalGroups = [...used].flatMap(
    (name) => searches.get(name)?.alternatives.flatMap((fields) => fields.flatMap((f) => f.groups)) ?? [],
  );
  // What explaining needs, and only that: the rest of the compiled fields (their clauses…) is left behind.
  const explained = conditions.map((c) => ({
    condition: c.text.text,
    searches: referencedSearches(c.node, searches)
      .map((name) => searches.get(name))
      .filter((s): s is CompiledSearch => s !== undefined)
      .map((s) => ({ name: s.name, alternatives: s.alternatives.map((fields) => fields.map((f) => f.explainer)) })),
  }));
  return compiledDetection(root, afterVetoes, programs, explained, {
    atoms,
    vetoes,
    triggers,
    decided,
    literalGroups,
  });
}

type Explained = {
  readonly condition: string;
  readonly searches: readonly {
    readonly name: string;
    readonly alternatives: readonly (readonly FieldExplainer[])[];
  }[];
};

/**
 * The compiled detection. Its closures are made here, apart from the compiler's own, so that they keep alive
 * only what they use (a closure holds every variable of its scope that any closure there captures).
 */
function compiledDetection(
  root: ConditionProgram,
  afterVetoes: ConditionProgram,
  programs: readonly ConditionProgram[],
  explained: readonly Explained[],
  prefilter: Pick<CompiledDetection, "atoms" | "vetoes" | "triggers" | "decided" | "literalGroups">,
): CompiledDetection {
  const test = programTest(root);
  return {
    ...prefilter,
    test,
    afterVetoes: afterVetoes === root ? test : programTest(afterVetoes),
    explain: (view) => {
      // Explaining runs on matches only: the condition that matched (the first, when there is one), then each
      // selection it names that holds, with the fields of its first group that holds.
      let matched = explained[0];
      if (explained.length > 1) {
        const at = programs.findIndex((p) => runProgram(p, view));
        matched = explained[at] ?? matched;
      }
      const selections: { name: string; fields: FieldMatch[] }[] = [];
      for (const s of matched?.searches ?? []) {
        const group = s.alternatives.find((fields) => fields.every((f) => fieldMatches(f.op, view)));
        if (group !== undefined) selections.push({ name: s.name, fields: group.map((f) => explainField(f, view)) });
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
  return { name, alternatives, ops: joinRegexAlternatives(alternatives.map((fields) => fields.map((f) => f.op))) };
}

/**
 * A search written as a list of one-regex maps on one field —
 *
 *     selection_ip_3:
 *         - CommandLine|re: 'https?://[0-9]{1,3}\.0[0-9]{3,7}'
 *         - CommandLine|re: 'https?://0[0-9]{3,11}'
 *         - CommandLine|re: ' [0-7]{7,13}'
 *
 * — with those alternatives as one op over the union of their regexes (see `eitherRegex`), which reads a long
 * command line once instead of once per regex, as an OR-list under one key already does. Only the ops change:
 * an explanation still names the alternative that matched.
 */
function joinRegexAlternatives(alternatives: FieldOp[][]): SearchOps {
  const byField = new Map<string, FieldOp[]>();
  for (const fields of alternatives) {
    const op = fields.length === 1 ? fields[0] : undefined;
    if (op === undefined || op.kind !== FT.any || op.exact !== null) continue;
    if (op.tests.length === 0 || op.tests.some((t) => t.kind !== VT.regex)) continue;
    const key = `${op.cased ? "c" : "i"}${op.slot}`;
    const ops = byField.get(key);
    if (ops === undefined) byField.set(key, [op]);
    else ops.push(op);
  }
  const joined = new Map<FieldOp, FieldOp | null>();
  for (const ops of byField.values()) {
    const first = ops[0] as FieldOp;
    const either = ops.length > 1 ? eitherRegex(ops.flatMap((op) => op.tests)) : undefined;
    if (either === undefined) continue;
    // The union stands where the first of them stood; the others are dropped.
    joined.set(first, fieldOp(FT.any, first.field, { cased: first.cased, tests: [either] }));
    for (const op of ops.slice(1)) joined.set(op, null);
  }
  if (joined.size === 0) return alternatives;
  const out: FieldOp[][] = [];
  for (const fields of alternatives) {
    const op = joined.get(fields[0] as FieldOp);
    if (op === undefined || fields.length !== 1) out.push(fields);
    else if (op !== null) out.push([op]);
  }
  return out;
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

/** Literals that make the condition false when found (see `CompiledDetection.vetoes`). */
function conditionVetoes(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): Atom[] {
  switch (node.t) {
    case "and":
      return node.items.flatMap((i) => conditionVetoes(i, searches));
    case "not":
      return conditionTriggers(node.item, searches);
    case "or":
    case "id":
    case "of":
      return [];
  }
}

/** Literals that make the condition true when found (see `CompiledDetection.triggers`). */
function conditionTriggers(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): Atom[] {
  switch (node.t) {
    case "or":
      return node.items.flatMap((i) => conditionTriggers(i, searches));
    case "and":
      return node.items.length === 1 ? conditionTriggers(node.items[0] as ConditionNode, searches) : [];
    case "not":
      return conditionVetoes(node.item, searches);
    case "id":
      return searchTriggers(searches.get(node.name));
    case "of": {
      const names = resolvePattern(node.pattern, searches);
      if (node.quantifier !== 1 && !(node.quantifier === "all" && names.length === 1)) return [];
      return names.flatMap((n) => searchTriggers(searches.get(n)));
    }
  }
}

/** Whether the condition holds exactly when one of its triggers occurs (see `conditionTriggers`). */
function decidedByTriggers(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): boolean {
  switch (node.t) {
    case "or":
      return node.items.every((i) => decidedByTriggers(i, searches));
    case "and":
      return node.items.length === 1 && decidedByTriggers(node.items[0] as ConditionNode, searches);
    case "not":
      return false;
    case "id":
      return searchDecided(searches.get(node.name));
    case "of": {
      const names = resolvePattern(node.pattern, searches);
      if (node.quantifier !== 1 && !(node.quantifier === "all" && names.length === 1)) return false;
      return names.every((n) => searchDecided(searches.get(n)));
    }
  }
}

function searchDecided(search: CompiledSearch | undefined): boolean {
  return (
    search !== undefined &&
    search.alternatives.length > 0 &&
    search.alternatives.every((fields) => fields.length === 1 && (fields[0] as CompiledField).sufficient.length > 0)
  );
}

/**
 * The condition without the `not X` terms of its top-level AND that its vetoes decide (X holds exactly when
 * one of its triggers, which are the condition's vetoes, occurs); undefined when there are none.
 */
function withoutVetoed(node: ConditionNode, searches: ReadonlyMap<string, CompiledSearch>): ConditionNode | undefined {
  const items = node.t === "and" ? node.items : [node];
  const kept = items.filter((i) => !(i.t === "not" && decidedByTriggers(i.item, searches)));
  return kept.length === items.length ? undefined : { t: "and", items: kept };
}

/**
 * A search holds when one of its alternatives does; an alternative of one field op over plain values holds as
 * soon as one of its literals occurs in the field (see `CompiledField.sufficient`).
 */
function searchTriggers(search: CompiledSearch | undefined): Atom[] {
  const out: Atom[] = [];
  for (const fields of search?.alternatives ?? []) {
    const only = fields.length === 1 ? fields[0] : undefined;
    if (only === undefined || only.sufficient.length === 0) continue;
    out.push({ field: only.field, requirements: only.sufficient });
  }
  return out;
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
