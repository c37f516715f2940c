import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, globSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { DiagnosticSink, formatDiagnostic, loadRules, Ruleset } from "../src/index.ts";
import type { Diagnostic, LoadResult } from "../src/index.ts";
import { readYamlFast } from "../src/yaml-fast.ts";
import { readYamlDocuments } from "../src/yaml-tree.ts";
import type { YNode } from "../src/yaml-tree.ts";
import { event, matchIds } from "./rule-helpers.ts";

const shared = sharedDataDir();
const SPEC = shared === undefined ? undefined : join(shared, "sigma-specification");
const SIGMA = shared === undefined ? undefined : join(shared, "sigma");

function yaml(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

/** A valid rule; `id` and the selection's value vary. Lines: 1 title … 9 condition. */
function goodRule(id: string, image = "\\good.exe"): string {
  return yaml(
    `title: Good rule ${id}`,
    `id: ${id}`,
    "logsource:",
    "    product: windows",
    "    category: process_creation",
    "detection:",
    "    selection:",
    `        Image|endswith: '${image}'`,
    "    condition: selection",
  );
}

function where(d: Diagnostic): string {
  return `${d.code} ${d.line}:${d.col}`;
}

const processCreation = { product: "windows", category: "process_creation" } as const;

test("loadRules never throws: every kind of bad input becomes diagnostics", () => {
  const deep = `a: ${"[".repeat(200)}${"]".repeat(200)}\n`;
  const inputs = [
    "",
    "---\n---\n",
    "[1, 2, 3]\n",
    "just a string\n",
    "title: [\n",
    "\u0000\u0001\u0002",
    "title: x\n\tlogsource: y\n",
    deep,
    "title: x\nlogsource: windows\ndetection: selection\n",
    "title: x\nlogsource: {product: windows}\ndetection: {condition: [1, 2]}\n",
    "title: x\nlogsource: {product: windows}\ndetection: {sel: [{a: [{b: c}]}], condition: sel}\n",
    "title: x\nlogsource: {product: windows}\ndetection: {sel: [a, {b: c}], condition: sel}\n",
    "title: x\nlogsource: {product: windows}\ndetection: {sel: {a: *anchor}, condition: sel}\n",
    "title: x\nlogsource: {product: windows}\ndetection: {sel: {? [a, b] : c, d: e}, condition: sel}\n",
    "title: x\naction: global\nlogsource: {product: windows}\n",
    "title: x\nlogsource: {product: windows}\nfilter: {rules: [], sel: {a: b}, condition: sel}\n",
  ];
  for (const text of inputs) {
    let result: LoadResult | undefined;
    assert.doesNotThrow(
      () => {
        result = loadRules([{ path: "bad.yml", text }]);
      },
      JSON.stringify(text.slice(0, 40)),
    );
    assert.ok(result);
    assert.equal(result.rules.length, 0, JSON.stringify(text.slice(0, 40)));
    for (const d of result.diagnostics) assert.equal(d.file, "bad.yml");
    // Only a file with no document at all may pass without a word.
    if (/[^-\s]/.test(text)) assert.ok(result.diagnostics.length > 0, `no diagnostic for ${JSON.stringify(text)}`);
  }
  // Whatever else there is, a good file next to them still loads.
  const result = loadRules([
    ...inputs.map((text, i) => ({ path: `bad${i}.yml`, text })),
    { path: "good.yml", text: goodRule("g-1") },
  ]);
  assert.deepEqual(
    result.rules.map((r) => r.ref),
    ["g-1"],
  );
  assert.ok(result.diagnostics.some((d) => d.severity === "error"));
});

test("a file with one broken and one good rule loads the good one", () => {
  const broken = yaml(
    "title: Broken rule",
    "id: b-1",
    "logsource:",
    "    product: windows",
    "detection:",
    "    selection:",
    "        Image|endswith|bogus: '\\x.exe'",
    "    condition: selection",
  );
  const result = loadRules([{ path: "mixed.yml", text: `${broken}---\n${goodRule("g-1")}` }]);
  assert.deepEqual(
    result.rules.map((r) => r.ref),
    ["g-1"],
  );
  assert.deepEqual(
    result.failed.map((r) => r.id),
    ["b-1"],
  );
  assert.deepEqual(result.diagnostics.map(where), ["R3_MODIFIER_UNKNOWN 7:9"]);
  assert.equal(result.diagnostics[0]?.rule, "b-1");
  assert.deepEqual({ ...result.stats }, { files: 1, documents: 2, rules: 2, compiled: 1, filters: 0, correlations: 0 });
  const ruleset = new Ruleset(result.rules);
  assert.deepEqual(matchIds(ruleset.match(event({ Image: "C:\\good.exe" }, processCreation))), ["g-1"]);
});

test("malformed YAML: R3_YAML_SYNTAX with line:col, and the file's other documents still load", () => {
  const duplicateKey = loadRules([{ path: "dup.yml", text: "title: A\ntitle: B\nlogsource: {product: windows}\n" }]);
  assert.deepEqual(duplicateKey.diagnostics.map(where), ["R3_YAML_SYNTAX 2:1"]);
  assert.match(formatDiagnostic(duplicateKey.diagnostics[0] as Diagnostic), /^dup\.yml:2:1: error R3_YAML_SYNTAX: /);

  const unclosed = yaml(
    "title: Unclosed",
    "logsource:",
    "    product: windows",
    "detection:",
    "    selection:",
    "        Image: [a, b",
    "    condition: selection",
  );
  const result = loadRules([{ path: "unclosed.yml", text: `${unclosed}---\n${goodRule("g-2")}` }]);
  const syntax = result.diagnostics.filter((d) => d.code === "R3_YAML_SYNTAX");
  assert.ok(syntax.length > 0);
  for (const d of syntax) assert.ok(d.line >= 6 && d.line <= 7 && d.col >= 1, `${where(d)} is near the unclosed '['`);
  assert.deepEqual(
    result.rules.map((r) => r.ref),
    ["g-2"],
  );
});

test("a YAML node the reader cannot take rejects its document instead of silently changing the rule", () => {
  // Dropping `Image: *nowhere` would leave `selection: {}`, which matches every event.
  const alias = yaml(
    "title: Dangling alias",
    "id: da-1",
    "logsource:",
    "    product: windows",
    "detection:",
    "    selection:",
    "        Image: *nowhere",
    "    condition: selection",
  );
  const result = loadRules([{ path: "alias.yml", text: alias }]);
  assert.deepEqual(result.rules, []);
  assert.deepEqual(result.diagnostics.map(where), ["R3_YAML_SYNTAX 7:16"]);
  // A complex key: the fast reader would make it the field "a,b"; both readers must refuse it alike.
  const complex = alias.replace("Image: *nowhere", "? [a, b]\n        : c");
  const refused = loadRules([{ path: "complex.yml", text: complex }]);
  assert.deepEqual(refused.rules, []);
  assert.deepEqual(refused.diagnostics.map(where), ["R3_YAML_KEY 7:9"]);
});

test("missing title, logsource, detection and condition each have their code", () => {
  const cases: [string, string, string][] = [
    ["logsource: {product: windows}\ndetection: {sel: {A: 1}, condition: sel}\n", "R3_RULE_MISSING_TITLE", "1:1"],
    ["title: t\ndetection: {sel: {A: 1}, condition: sel}\n", "R3_RULE_MISSING_LOGSOURCE", "1:1"],
    ["title: t\nlogsource: {product: windows}\n", "R3_RULE_MISSING_DETECTION", "1:1"],
    ["title: t\nlogsource: {product: windows}\ndetection:\n    sel: {A: 1}\n", "R3_RULE_MISSING_CONDITION", "3:1"],
    ["title: t\nlogsource: {}\ndetection: {sel: {A: 1}, condition: sel}\n", "R3_RULE_EMPTY_LOGSOURCE", "2:12"],
  ];
  for (const [text, code, at] of cases) {
    const result = loadRules([{ path: "missing.yml", text }]);
    assert.deepEqual(result.diagnostics.map(where), [`${code} ${at}`], code);
    assert.equal(result.rules.length, 0);
    if (text.includes("detection")) assert.equal(result.stats.rules, 1, "a rule that failed to read still counts");
  }
});

test("multi-document files: each document is its own rule, with positions counted from the file's start", () => {
  const text = `${goodRule("m-1", "\\one.exe")}---\n${goodRule("m-2", "\\two.exe")}---\n${goodRule(
    "m-3",
    "\\three.exe",
  ).replace("Image|endswith", "Image|endswith|nope")}`;
  const result = loadRules([{ path: "multi.yml", text }]);
  assert.deepEqual(
    result.rules.map((r) => r.ref),
    ["m-1", "m-2"],
  );
  // Document 3 starts on line 21 (two 9-line rules and two separators); its selection value is its line 8.
  assert.deepEqual(result.diagnostics.map(where), ["R3_MODIFIER_UNKNOWN 28:9"]);
  assert.equal(result.stats.documents, 3);
  const second = result.rules[1]?.rule;
  assert.ok(second?.yaml.includes("m-2") && !second.yaml.includes("m-1"), "each rule keeps its own document text");
  assert.equal(second?.pos.line, 11);
  const ruleset = new Ruleset(result.rules);
  assert.deepEqual(matchIds(ruleset.match(event({ Image: "C:\\two.exe" }, processCreation))), ["m-2"]);
});

test("duplicate ids: the second document is skipped with R3_RULE_DUPLICATE_ID at its position", () => {
  const result = loadRules([
    { path: "a.yml", text: goodRule("same-id", "\\a.exe") },
    { path: "b.yml", text: goodRule("same-id", "\\b.exe") },
  ]);
  assert.deepEqual(
    result.rules.map((r) => r.rule.file),
    ["a.yml"],
  );
  assert.deepEqual(
    result.diagnostics.map((d) => `${formatDiagnostic(d).split(": ")[0] ?? ""} ${d.code}`),
    ["b.yml:1:1 R3_RULE_DUPLICATE_ID"],
  );
  assert.match(result.diagnostics[0]?.message ?? "", /a\.yml/);
  const within = loadRules([{ path: "c.yml", text: `${goodRule("x-1")}---\n${goodRule("x-1")}` }]);
  assert.deepEqual(within.diagnostics.map(where), ["R3_RULE_DUPLICATE_ID 11:1"]);
  assert.equal(within.rules.length, 1);
});

test("positions are exact for files the fast reader takes: errors, warnings, and diagnostics raised after loading", () => {
  // A single-document file without anchors is read by the fast reader first (yaml-fast.ts); every diagnostic
  // must still carry the real line and column, never the fast reader's 0:0.
  const fastReadable = (extra: string): string =>
    yaml(
      "title: Fast",
      "id: f-1",
      "logsource:",
      "    product: windows",
      "    category: process_creation",
      "detection:",
      "    selection:",
      extra,
      "    condition: selection",
    );
  assert.ok(readYamlFast(fastReadable("        Image: x")) !== undefined, "the fast reader takes this file");
  const error = loadRules([{ path: "e.yml", text: fastReadable("        Image|cidr: 'not a network'") }]);
  assert.deepEqual(error.diagnostics.map(where), ["R3_MODIFIER_BAD_CIDR 8:21"]);
  const warning = loadRules([{ path: "w.yml", text: fastReadable("        CommandLine|contains|all: 'x'") }]);
  assert.deepEqual(warning.diagnostics.map(where), ["R3_MODIFIER_ALL_SINGLE 8:9"]);
  assert.equal(warning.rules.length, 1, "a warning does not stop the rule");
  const condition = loadRules([
    {
      path: "c.yml",
      text: fastReadable("        Image: x").replace("condition: selection", "condition: selection and filter"),
    },
  ]);
  assert.deepEqual(condition.diagnostics.map(where), ["R3_CONDITION_UNKNOWN_IDENTIFIER 9:30"]);
  // Raised only once all files are read: a duplicate id, a filter naming an unknown rule.
  const dup = loadRules([
    { path: "a.yml", text: fastReadable("        Image: x") },
    { path: "b.yml", text: fastReadable("        Image: y") },
  ]);
  assert.deepEqual(dup.diagnostics.map(where), ["R3_RULE_DUPLICATE_ID 1:1"]);
  const filter = yaml(
    "title: Lonely filter",
    "logsource:",
    "    product: windows",
    "filter:",
    "    rules:",
    "        - no-such-rule",
    "    selection:",
    "        User: x",
    "    condition: selection",
  );
  assert.ok(readYamlFast(filter) !== undefined);
  const lonely = loadRules([{ path: "filter.yml", text: filter }]);
  assert.deepEqual(lonely.diagnostics.map(where), ["R3_FILTER_UNKNOWN_RULE 1:1"]);
});

test("filters: a filter document suppresses matches of the rules it names, only those", () => {
  const rule = goodRule("r-1", "\\rar.exe");
  const other = goodRule("r-2", "\\rar.exe");
  const filter = yaml(
    "title: Filter admin accounts",
    "logsource:",
    "    category: process_creation",
    "    product: windows",
    "filter:",
    "    rules:",
    "        - r-1",
    "    selection:",
    "        User|startswith: 'adm_'",
    "    condition: selection",
  );
  const result = loadRules([
    { path: "rule.yml", text: rule },
    { path: "other.yml", text: other },
    { path: "filter.yml", text: filter },
  ]);
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.stats.filters, 1);
  assert.deepEqual(
    result.rules.map((r) => [r.ref, r.filters]),
    [
      ["r-1", ["Filter admin accounts"]],
      ["r-2", []],
    ],
  );
  const ruleset = new Ruleset(result.rules);
  assert.deepEqual(matchIds(ruleset.match(event({ Image: "C:\\rar.exe", User: "ADM_bob" }, processCreation))), ["r-2"]);
  assert.deepEqual(matchIds(ruleset.match(event({ Image: "C:\\rar.exe", User: "bob" }, processCreation))), [
    "r-1",
    "r-2",
  ]);
  // Same result without the prefilter.
  const plain = new Ruleset(result.rules, { prefilter: false });
  assert.deepEqual(matchIds(plain.match(event({ Image: "C:\\rar.exe", User: "adm_x" }, processCreation))), ["r-2"]);

  // A filter whose logsource the rule does not have is not applied (and said so).
  const linux = filter.replace("product: windows", "product: linux");
  const mismatch = loadRules([
    { path: "rule.yml", text: rule },
    { path: "filter.yml", text: linux },
  ]);
  assert.deepEqual(mismatch.diagnostics.map(where), ["R3_FILTER_LOGSOURCE_MISMATCH 1:1"]);
  assert.deepEqual(mismatch.rules[0]?.filters, []);
});

test(
  "filters: the specification's filter_1.yml with rule_1.yml and the SigmaHQ rule it names",
  { skip: SPEC === undefined || SIGMA === undefined ? SHARED_DATA_MISSING : false },
  () => {
    const filterPath = join(SPEC ?? "", "examples", "filter", "filter_1.yml");
    const rulePath = join(SPEC ?? "", "examples", "rules", "rule_1.yml");
    // filter_1.yml names 6f3e2987-… ("Data Compressed - rar.exe") and df0841c0-… ("Login on jump host").
    const rarPath = join(
      SIGMA ?? "",
      "rules",
      "windows",
      "process_creation",
      "proc_creation_win_rar_compress_data.yml",
    );
    const read = (path: string): { path: string; text: string } => ({ path, text: readFileSync(path, "utf8") });

    // rule_1.yml is not named by the filter: it is untouched, and the filter reports the two rules it cannot find.
    const spec = loadRules([read(rulePath), read(filterPath)]);
    assert.deepEqual(
      spec.rules.map((r) => [r.ref, r.filters.length]),
      [["545a5da6-f103-4919-a519-e9aec1026ee4", 0]],
    );
    assert.deepEqual(
      spec.diagnostics.map((d) => `${d.code} ${d.line}:${d.col}`),
      ["R3_FILTER_UNKNOWN_RULE 1:1", "R3_FILTER_UNKNOWN_RULE 1:1"],
    );
    const appError = event({ Provider_Name: "Application Error" }, { product: "windows", service: "application" });
    assert.deepEqual(matchIds(new Ruleset(spec.rules).match(appError)), ["545a5da6-f103-4919-a519-e9aec1026ee4"]);

    if (!existsSync(rarPath)) return;
    const withRar = loadRules([read(rulePath), read(rarPath), read(filterPath)]);
    const rar = withRar.rules.find((r) => r.ref === "6f3e2987-db24-4c78-a860-b4f4095a7095");
    assert.deepEqual(rar?.filters, ["Filter Administrator account"]);
    assert.deepEqual(
      withRar.diagnostics.map((d) => d.code),
      ["R3_FILTER_UNKNOWN_RULE"],
      "only df0841c0-… is missing now",
    );
    const ruleset = new Ruleset(withRar.rules);
    const rarEvent = (user: string) =>
      event(
        { Image: "C:\\Program Files\\WinRAR\\Rar.exe", CommandLine: "rar a out.rar secrets", User: user },
        processCreation,
      );
    assert.deepEqual(matchIds(ruleset.match(rarEvent("bob"))), ["6f3e2987-db24-4c78-a860-b4f4095a7095"]);
    assert.deepEqual(matchIds(ruleset.match(rarEvent("adm_bob"))), [], "suppressed by the filter");
    assert.deepEqual(matchIds(ruleset.match(appError)), ["545a5da6-f103-4919-a519-e9aec1026ee4"]);
  },
);

/** A node without positions, for comparing the two readers. */
function shape(node: YNode | undefined): unknown {
  if (node === undefined) return undefined;
  switch (node.kind) {
    case "scalar":
      // The readers spell a null differently (`null` vs ''); no consumer reads the text of a null.
      return [node.value, node.value === null ? null : node.text];
    case "seq":
      return node.items.map(shape);
    case "map":
      return node.entries.map((e) => [e.key, shape(e.value)]);
  }
}

test(
  "SigmaHQ: the fast reader and the positioned reader read every file the same, and every rule compiles",
  { skip: SIGMA === undefined ? SHARED_DATA_MISSING : false },
  () => {
    const paths = globSync(join(SIGMA ?? "", "rules*", "**", "*.yml"));
    assert.ok(paths.length > 1000, `only ${paths.length} SigmaHQ files`);
    const sources = paths.map((path) => ({ path, text: readFileSync(path, "utf8") }));
    let fastRead = 0;
    for (const { path, text } of sources) {
      const fast = readYamlFast(text);
      if (fast === undefined) continue;
      fastRead += 1;
      const positioned = readYamlDocuments(text, new DiagnosticSink(path));
      // Compared as JSON: deepEqual over 3,000 trees is slow, and the first difference is all a reader needs.
      assert.equal(
        JSON.stringify(fast.map((d) => shape(d.root))),
        JSON.stringify(positioned.map((d) => shape(d.root))),
        path,
      );
    }
    assert.ok(fastRead > paths.length * 0.9, "the fast reader takes nearly every file");

    const result = loadRules(sources);
    const problems = result.diagnostics.filter((d) => d.code !== "R3_MODIFIER_PLACEHOLDER_UNDEFINED");
    assert.deepEqual(problems.map(formatDiagnostic), [], "only rules with placeholders fail, for want of their values");
    assert.ok(result.stats.compiled > 3000, `only ${result.stats.compiled} rules compiled`);
    for (const d of result.diagnostics) assert.ok(d.line > 0 && d.col > 0, formatDiagnostic(d));
    assert.equal(result.stats.compiled + result.failed.length, result.stats.rules);
  },
);
