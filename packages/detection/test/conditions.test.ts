import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic, isConditionError, loadRules, parseCondition, Ruleset } from "../src/index.ts";
import type { ConditionNode } from "../src/index.ts";
import { event, load, matcher } from "./rule-helpers.ts";

/** Selections a, b, c, each true when its field is "1". */
const ABC = { a: { A: "1" }, b: { B: "1" }, c: { C: "1" } } as const;

/** Every assignment of a, b, c, for truth-table tests. */
const ASSIGNMENTS = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({ a: (n & 1) === 1, b: (n & 2) === 2, c: (n & 4) === 4 }));

type Assignment = (typeof ASSIGNMENTS)[number];

function fields(x: Assignment): Record<string, string> {
  return { A: x.a ? "1" : "0", B: x.b ? "1" : "0", C: x.c ? "1" : "0" };
}

function assertTruthTable(condition: string | readonly string[], expected: (x: Assignment) => boolean): void {
  const m = matcher({ ...ABC, condition });
  for (const x of ASSIGNMENTS) {
    assert.equal(m(fields(x)), expected(x), `${JSON.stringify(condition)} with ${JSON.stringify(x)}`);
  }
}

/** Compact form of a parsed condition, to check precedence. */
function show(node: ConditionNode): string {
  switch (node.t) {
    case "and":
    case "or":
      return `${node.t}(${node.items.map(show).join(", ")})`;
    case "not":
      return `not(${show(node.item)})`;
    case "id":
      return node.name;
    case "of":
      return `${node.quantifier} of ${node.pattern}`;
  }
}

function parsed(text: string): string {
  const node = parseCondition(text);
  if (isConditionError(node)) throw new Error(`${text}: ${node.message} at ${node.offset}`);
  return show(node);
}

/** A rule whose `condition:` line is written verbatim (line 11), after selections sel, sel2 and _aux. */
function conditionRule(conditionYaml: string): string {
  return [
    "title: Condition test",
    "id: 3d3a4f0e-1b7c-4a52-9f0e-0c6f0e3a2b11",
    "logsource:",
    "    product: windows",
    "detection:",
    "    sel:",
    "        A: 1",
    "    sel2:",
    "        B: 1",
    "    _aux: [x]",
    `    condition: ${conditionYaml}`,
    "",
  ].join("\n");
}

/** `code file:line:col` of each diagnostic of a rule built by conditionRule. */
function conditionDiagnostics(conditionYaml: string): string[] {
  const result = loadRules([{ path: "cond.yml", text: conditionRule(conditionYaml) }]);
  return result.diagnostics.map((d) => `${d.code} ${formatDiagnostic(d).split(": ")[0] ?? ""}`);
}

test("precedence: or < and < not < x of < ( ) (spec: Operator Precedence)", () => {
  assert.equal(parsed("a or b and not c"), "or(a, and(b, not(c)))");
  assert.equal(parsed("not a and b"), "and(not(a), b)");
  assert.equal(parsed("a and b or c and a"), "or(and(a, b), and(c, a))");
  assert.equal(parsed("not 1 of sel* and x"), "and(not(1 of sel*), x)");
  assert.equal(parsed("(a or b) and not (c or a)"), "and(or(a, b), not(or(c, a)))");
  assert.equal(parsed("not not a"), "not(not(a))");
  assertTruthTable("a or b and not c", (x) => x.a || (x.b && !x.c));
  assertTruthTable("not a and b", (x) => !x.a && x.b);
  assertTruthTable("a and b or c", (x) => (x.a && x.b) || x.c);
});

test("parentheses override precedence", () => {
  assertTruthTable("(a or b) and not c", (x) => (x.a || x.b) && !x.c);
  assertTruthTable("a and (b or c)", (x) => x.a && (x.b || x.c));
  assertTruthTable("not (a or b)", (x) => !(x.a || x.b));
  assertTruthTable("((a))", (x) => x.a);
});

test("1 of / all of / N of an identifier pattern", () => {
  const detection = {
    selection_img: { Image: "x.exe" },
    selection_cli: { CommandLine: "run" },
    selection_user: { User: "bob" },
    filter_main: { ParentImage: "ok.exe" },
  };
  const one = matcher({ ...detection, condition: "1 of selection_* and not 1 of filter_*" });
  assert.equal(one({ CommandLine: "run" }), true);
  assert.equal(one({ CommandLine: "run", ParentImage: "ok.exe" }), false);
  assert.equal(one({ ParentImage: "x" }), false);
  const all = matcher({ ...detection, condition: "all of selection*" });
  assert.equal(all({ Image: "x.exe", CommandLine: "run", User: "bob" }), true);
  assert.equal(all({ Image: "x.exe", CommandLine: "run" }), false);
  const two = matcher({ ...detection, condition: "2 of selection_*" });
  assert.equal(two({ Image: "x.exe", User: "bob" }), true);
  assert.equal(two({ Image: "x.exe" }), false);
  const middle = matcher({ ...detection, condition: "1 of *_cli" });
  assert.equal(middle({ CommandLine: "run" }), true);
  assert.equal(middle({ Image: "x.exe" }), false, "the pattern matches only selection_cli");
  const any = matcher({ ...detection, condition: "any of selection_*" });
  assert.equal(any({ User: "bob" }), true);
});

test("1 of them / all of them exclude identifiers starting with '_' (spec: 'not starting with an underscore')", () => {
  const detection = { sel1: { A: "1" }, sel2: { B: "1" }, _helper: { H: "1" } };
  const one = matcher({ ...detection, condition: "1 of them" });
  assert.equal(one({ H: "1" }), false, "_helper is not part of 'them'");
  assert.equal(one({ B: "1" }), true);
  const all = matcher({ ...detection, condition: "all of them" });
  assert.equal(all({ A: "1", B: "1" }), true, "_helper is not required by 'all of them'");
  assert.equal(all({ A: "1", H: "1" }), false);
  const explicit = matcher({ ...detection, condition: "sel1 and 1 of _h*" });
  assert.equal(explicit({ A: "1", H: "1" }), true, "an explicit pattern may name _ identifiers");
  assert.equal(explicit({ A: "1" }), false);
});

test("a list of conditions is ORed (spec: 'They are logically linked with OR')", () => {
  assertTruthTable(["a and b", "c"], (x) => (x.a && x.b) || x.c);
  assertTruthTable(["not a", "a and c"], (x) => !x.a || x.c);
});

test("unknown identifier: R3_CONDITION_UNKNOWN_IDENTIFIER at the identifier's exact column", () => {
  // Line 11 is `    condition: <text>`; the text starts at column 16.
  assert.deepEqual(conditionDiagnostics("sel and not filter"), ["R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:11:28"]);
  assert.deepEqual(conditionDiagnostics("sel and (sel2 or nope)"), ["R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:11:33"]);
  assert.deepEqual(conditionDiagnostics("'sel and nope'"), ["R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:11:25"]);
  assert.deepEqual(conditionDiagnostics('"sel and   nope"'), ["R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:11:27"]);
  assert.deepEqual(conditionDiagnostics("nope1 or nope2"), [
    "R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:11:16",
    "R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:11:25",
  ]);
  // A condition list: each item has its own line.
  assert.deepEqual(conditionDiagnostics("\n        - sel\n        - sel2 or nope"), [
    "R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:13:19",
  ]);
  // Identifiers are case-sensitive: `Sel` is not `sel`.
  assert.deepEqual(conditionDiagnostics("Sel"), ["R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:11:16"]);
});

test("unknown identifier in a condition written over several lines: the line and column of the identifier", () => {
  // Block scalars: the header is on line 11, the text on lines 12 and 13.
  for (const yaml of [">\n        sel and\n        nope", "|-\n        sel and\n        nope"]) {
    assert.deepEqual(conditionDiagnostics(yaml), ["R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:13:9"], yaml);
  }
  // A plain scalar folded over two lines.
  assert.deepEqual(conditionDiagnostics("sel and\n        nope"), ["R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:12:9"]);
  assert.deepEqual(conditionDiagnostics("sel and\n        (sel2 or\n        nope"), [
    "R3_CONDITION_SYNTAX cond.yml:13:13",
  ]);
  assert.deepEqual(conditionDiagnostics("'sel and\n        (sel2 or nope)'"), [
    "R3_CONDITION_UNKNOWN_IDENTIFIER cond.yml:12:18",
  ]);
});

test("syntax errors: R3_CONDITION_SYNTAX with the column of the offending token", () => {
  const cases: [string, string][] = [
    ["sel sel2", "11:20"], // unexpected 'sel2' after a complete condition
    ["sel and or sel2", "11:24"], // unexpected 'or'
    ["sel and", "11:23"], // ends where an identifier was expected: just past the end
    ["(sel or sel2", "11:28"], // missing ')'
    ["sel )", "11:20"],
    ["foo of sel*", "11:16"], // 'foo of' is not a quantifier
    ["0 of sel*", "11:16"],
    ["1 of", "11:20"], // 'of' needs a target
    ["1 of )", "11:21"],
    ["'sel and'", "11:24"],
  ];
  for (const [condition, at] of cases) {
    assert.deepEqual(conditionDiagnostics(condition), [`R3_CONDITION_SYNTAX cond.yml:${at}`], condition);
  }
});

test("an 'of' pattern that matches nothing is reported", () => {
  assert.deepEqual(conditionDiagnostics("sel and 1 of filter*"), ["R3_CONDITION_EMPTY_PATTERN cond.yml:11:24"]);
});

test("the obsolete aggregation `| count()` is a diagnostic pointing at the pipe, and the rule is not loaded", () => {
  assert.deepEqual(conditionDiagnostics("sel | count() by User > 5"), ["R3_CONDITION_SYNTAX cond.yml:11:20"]);
  const result = loadRules([{ path: "cond.yml", text: conditionRule("sel | count() > 5") }]);
  assert.equal(result.rules.length, 0);
  assert.match(result.diagnostics[0]?.message ?? "", /correlation/);
  assert.deepEqual(conditionDiagnostics('"sel | near sel2"'), ["R3_CONDITION_SYNTAX cond.yml:11:21"]);
});

test("explanation: a match names the selections that matched and their fields", () => {
  const result = load({
    selection_img: { "Image|endswith": "\\cmd.exe" },
    selection_cli: [{ "CommandLine|contains": "whoami" }, { "CommandLine|contains": "hostname" }],
    selection_user: { User: "admin" },
    filter_main: { User: "SYSTEM" },
    condition: "1 of selection_* and not filter_main",
  });
  const ruleset = new Ruleset(result.rules);
  const [match, ...rest] = ruleset.match(
    event({ Image: "C:\\Windows\\System32\\cmd.exe", CommandLine: "cmd /c WHOAMI /all", User: "bob" }),
  );
  assert.ok(match);
  assert.equal(rest.length, 0);
  const explanation = match.explanation;
  assert.equal(explanation.condition, "1 of selection_* and not filter_main");
  assert.deepEqual(
    explanation.selections.map((s) => s.name),
    ["selection_img", "selection_cli"],
    "matched selections only: not selection_user, and never the negated filter",
  );
  const cli = explanation.selections[1]?.fields[0];
  assert.deepEqual(cli, {
    field: "CommandLine",
    modifiers: ["contains"],
    patterns: ["*whoami*"],
    values: ["cmd /c WHOAMI /all"],
  });
  const img = explanation.selections[0]?.fields[0];
  assert.equal(img?.field, "Image");
  assert.deepEqual(img?.values, ["C:\\Windows\\System32\\cmd.exe"]);
});

test("explanation: of a search listing one-regex maps on a field, the regex that matched", () => {
  const result = load({
    selection: [{ "CommandLine|re": "https?://0[0-9]{3,11}" }, { "CommandLine|re": " [0-7]{7,13}" }],
    condition: "selection",
  });
  const ruleset = new Ruleset(result.rules);
  const [match] = ruleset.match(event({ CommandLine: "ping 01234567" }));
  assert.deepEqual(match?.explanation.selections, [
    {
      name: "selection",
      fields: [{ field: "CommandLine", modifiers: ["re"], patterns: [" [0-7]{7,13}"], values: ["ping 01234567"] }],
    },
  ]);
});

test("explanation: with a condition list, the condition that matched", () => {
  const result = load({ ...ABC, condition: ["a and b", "c"] });
  const ruleset = new Ruleset(result.rules);
  const [match] = ruleset.match(event({ A: "0", B: "1", C: "1" }));
  assert.equal(match?.explanation.condition, "c");
  assert.deepEqual(
    match?.explanation.selections.map((s) => s.name),
    ["c"],
  );
});
