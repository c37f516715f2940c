import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttackCoverage } from "@ring3/protocol";
import { buildMatrix, coverageLevel, navigatorLayer } from "../src/attack-matrix.ts";

// Shaped like the server's answer over mitre/cti's enterprise-techniques.json (ids and names as ATT&CK v18 has them).
const COVERAGE: AttackCoverage = {
  version: "18.1",
  from: "2026-01-01T00:00:00.000Z",
  to: "2026-01-31T00:00:00.000Z",
  tactics: [
    { id: "TA0002", name: "Execution", shortname: "execution" },
    { id: "TA0005", name: "Defense Evasion", shortname: "defense-evasion" },
  ],
  techniques: [
    { id: "T1059", name: "Command and Scripting Interpreter", tactics: ["execution"] },
    { id: "T1059.004", name: "Unix Shell", tactics: ["execution"], parent: "T1059" },
    { id: "T1059.006", name: "Python", tactics: ["execution"], parent: "T1059" },
    { id: "T1070", name: "Indicator Removal", tactics: ["defense-evasion"] },
    { id: "T1070.002", name: "Clear Linux or Mac System Logs", tactics: ["defense-evasion"], parent: "T1070" },
    { id: "T1036", name: "Masquerading", tactics: ["defense-evasion"] },
  ],
  coverage: {
    T1059: { rules: ["Shell from web server"], alerts: 1 },
    "T1059.004": { rules: ["Shell from web server", "Reverse shell one-liner"], alerts: 2 },
    "T1070.002": { rules: ["Log file truncated"], alerts: 0 },
  },
};

test("the matrix has one column per tactic in catalog order, sub-techniques folded into their parent", () => {
  const columns = buildMatrix(COVERAGE);
  // Techniques by name within a column: "Indicator Removal" before "Masquerading".
  assert.deepEqual(
    columns.map((c) => [c.tactic.shortname, c.cells.map((cell) => cell.technique.id)]),
    [
      ["execution", ["T1059"]],
      ["defense-evasion", ["T1070", "T1036"]],
    ],
  );
  const shell = columns[0]!.cells[0]!;
  // A rule on the parent and on a sub-technique is counted once.
  assert.deepEqual(shell.rules, ["Reverse shell one-liner", "Shell from web server"]);
  assert.equal(shell.alerts, 3);
  assert.deepEqual(
    shell.subtechniques.map((s) => [s.technique.id, s.rules.length, s.alerts]),
    [
      ["T1059.004", 2, 2],
      ["T1059.006", 0, 0],
    ],
  );
  const removal = columns[1]!.cells.find((c) => c.technique.id === "T1070")!;
  assert.deepEqual(removal.rules, ["Log file truncated"]);
  assert.equal(removal.alerts, 0);
  assert.deepEqual(columns[1]!.cells.find((c) => c.technique.id === "T1036")!.rules, []);
});

test("coverage levels step at one rule, a few, and many", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 40].map(coverageLevel), [0, 1, 2, 2, 3, 3]);
});

test("the Navigator layer scores techniques by enabled rules and marks those that raised alerts", () => {
  const layer = navigatorLayer(COVERAGE);
  assert.equal(layer.domain, "enterprise-attack");
  assert.deepEqual(layer.versions, { attack: "18", navigator: "5.1.0", layer: "4.5" });
  assert.deepEqual(
    layer.techniques.map((t) => [t.techniqueID, t.score, t.color !== ""]),
    [
      ["T1059", 1, true],
      ["T1059.004", 2, true],
      ["T1070.002", 1, false],
    ],
  );
  assert.match(layer.techniques[1]!.comment, /Rules: Shell from web server; Reverse shell one-liner\. Alerts: 2/);
  assert.equal(layer.gradient.maxValue, 2);
  // What Navigator's "Open Existing Layer → Upload" reads is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(layer)), layer);
});
