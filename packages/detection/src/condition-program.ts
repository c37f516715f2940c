import type { ConditionNode } from "./condition-parser.ts";
import type { EventView } from "./event-view.ts";
import type { FieldOp } from "./value-test.ts";
import { fieldMatches } from "./value-test.ts";

/**
 * A condition compiled to a small flat program over its field ops. Evaluating a rule then reads one array and
 * the few ops it reaches, where a tree of condition objects spread over the heap costs a cache miss per node:
 * on a busy sensor, the data of a rule evaluated a few times a second is never in the cache.
 *
 * Each node is `[kind, length, …]`, `length` counting the whole node, so that a node is skipped in one step:
 * - and / or: `[kind, length, child…]`
 * - not: `[kind, length, child]`
 * - at least: `[kind, length, need, child…]`
 * - op: `[kind, 3, op]` — `fieldMatches(ops[op])`
 * - group: `[kind, length, op, group…]` — an op over plain literals (see `LiteralGroup`): it holds when the
 *   prefilter marked every one of its groups in the event, or, when the prefilter did not look, as `op` says.
 * - never: `[kind, 2]` (a search identifier that does not exist)
 */
export type ConditionProgram = { readonly code: Int32Array; readonly ops: readonly FieldOp[] };

const P = { and: 0, or: 1, not: 2, atLeast: 3, op: 4, group: 5, never: 6 } as const;

/** A search identifier as the program needs it: an OR of AND-groups of field ops. */
export type SearchOps = readonly (readonly FieldOp[])[];

export type ConditionScope = {
  /** The search named so; undefined when there is none. */
  readonly search: (name: string) => SearchOps | undefined;
  /** The names an `of` pattern (`selection_*`, `them`) stands for. */
  readonly names: (pattern: string) => readonly string[];
};

export function compileProgram(node: ConditionNode, scope: ConditionScope): ConditionProgram {
  const code: number[] = [];
  const ops: FieldOp[] = [];
  const opIndex = (op: FieldOp): number => {
    const at = ops.indexOf(op);
    if (at >= 0) return at;
    ops.push(op);
    return ops.length - 1;
  };
  /** Emits a node whose children `emitChildren` writes, filling in its length afterwards. */
  const list = (kind: number, head: readonly number[], emitChildren: () => void): void => {
    const start = code.length;
    code.push(kind, 0, ...head);
    emitChildren();
    code[start + 1] = code.length - start;
  };
  const field = (op: FieldOp): void => {
    if (op.exact === null) code.push(P.op, 3, opIndex(op));
    else code.push(P.group, 3 + op.exact.length, opIndex(op), ...op.exact);
  };
  const search = (name: string): void => {
    const alternatives = scope.search(name);
    if (alternatives === undefined) {
      code.push(P.never, 2);
      return;
    }
    const group = (fields: readonly FieldOp[]): void => {
      if (fields.length === 1) field(fields[0] as FieldOp);
      else list(P.and, [], () => fields.forEach(field));
    };
    if (alternatives.length === 1) group(alternatives[0] as readonly FieldOp[]);
    else list(P.or, [], () => alternatives.forEach(group));
  };
  const emit = (n: ConditionNode): void => {
    switch (n.t) {
      case "and":
      case "or":
        if (n.items.length === 1) emit(n.items[0] as ConditionNode);
        else list(n.t === "and" ? P.and : P.or, [], () => n.items.forEach(emit));
        return;
      case "not":
        list(P.not, [], () => emit(n.item));
        return;
      case "id":
        search(n.name);
        return;
      case "of": {
        const names = scope.names(n.pattern);
        if (n.quantifier === "all" || n.quantifier === 1) {
          list(n.quantifier === "all" ? P.and : P.or, [], () => names.forEach(search));
        } else {
          list(P.atLeast, [n.quantifier], () => names.forEach(search));
        }
      }
    }
  };
  emit(node);
  return { code: Int32Array.from(code), ops };
}

export function runProgram(program: ConditionProgram, view: EventView): boolean {
  return run(program.code, 0, program.ops, view);
}

/**
 * The programs behind the test functions of compiled detections (see `programTest`): a ruleset lays out the
 * code of its rules' programs in one array, so that evaluating a rule reads its code there rather than
 * through the function, its scope and the program. A test function not found here runs as itself.
 */
const programs = new WeakMap<(view: EventView) => boolean, ConditionProgram>();

/** A test function that runs `program`, registered as such (see `programOf`). */
export function programTest(program: ConditionProgram): (view: EventView) => boolean {
  const test = (view: EventView): boolean => run(program.code, 0, program.ops, view);
  programs.set(test, program);
  return test;
}

/** The program a test function made by `programTest` runs; undefined for any other function. */
export function programOf(test: (view: EventView) => boolean): ConditionProgram | undefined {
  return programs.get(test);
}

/**
 * Whether the program node at `at` tests values itself (an op): its time then grows with the event's values.
 * A program of group nodes whose groups the prefilter has looked for (and of `never`) only reads marks, in a
 * time bounded by its length.
 */
export function testsValues(code: Int32Array, at: number): boolean {
  const end = at + (code[at + 1] as number);
  switch (code[at]) {
    case P.and:
    case P.or:
      for (let c = at + 2; c < end; c += code[c + 1] as number) if (testsValues(code, c)) return true;
      return false;
    case P.not:
      return testsValues(code, at + 2);
    case P.atLeast:
      for (let c = at + 3; c < end; c += code[c + 1] as number) if (testsValues(code, c)) return true;
      return false;
    case P.group:
    case P.never:
      return false;
    default:
      return true;
  }
}

/** Runs the program node at `at` of `code` (programs laid out one after another, see `programOf`). */
export function run(code: Int32Array, at: number, ops: readonly FieldOp[], view: EventView): boolean {
  const end = at + (code[at + 1] as number);
  switch (code[at]) {
    case P.and:
      for (let c = at + 2; c < end; c += code[c + 1] as number) if (!run(code, c, ops, view)) return false;
      return true;
    case P.or:
      for (let c = at + 2; c < end; c += code[c + 1] as number) if (run(code, c, ops, view)) return true;
      return false;
    case P.not:
      return !run(code, at + 2, ops, view);
    case P.atLeast: {
      const need = code[at + 2] as number;
      let count = 0;
      for (let c = at + 3; c < end; c += code[c + 1] as number) {
        if (run(code, c, ops, view) && ++count >= need) return true;
      }
      return need === 0;
    }
    case P.op:
      return fieldMatches(ops[code[at + 2] as number] as FieldOp, view);
    case P.group: {
      const found = view.groupFound(code[at + 3] as number);
      if (found < 0) return fieldMatches(ops[code[at + 2] as number] as FieldOp, view);
      if (found === 0) return false;
      // The prefilter looks for the groups of one op together, so it knows them all.
      for (let c = at + 4; c < end; c += 1) if (view.groupFound(code[c] as number) !== 1) return false;
      return true;
    }
    default:
      return false;
  }
}
