import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "./cli-harness.ts";

test("csv output defuses spreadsheet formulas in attacker-controlled values", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ring3-csv-"));
  try {
    const rule = `title: Formula marker
id: 44444444-4444-4444-8444-444444444444
author: ring3 tests
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'HYPERLINK'
    condition: selection
level: low
`;
    writeFileSync(join(dir, "rule.yml"), rule);
    const event = {
      id: "e1",
      time: "2026-11-23T10:00:00Z",
      host: "=SUM(1+1)",
      logsource: { product: "linux", category: "process_creation" },
      fields: { CommandLine: '=HYPERLINK("http://evil.example","x")', Image: "/usr/bin/sh" },
    };
    writeFileSync(join(dir, "events.jsonl"), `${JSON.stringify(event)}\n`);
    const r = await runCli(["hunt", "--format", "csv", "--rules", join(dir, "rule.yml"), join(dir, "events.jsonl")]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\r\n");
    assert.equal(lines.length, 2);
    // The CommandLine lives in the JSON cells; no cell of the row may start with a formula character.
    const row = lines[1] ?? "";
    assert.ok(!/(^|,)"?[=+@]/.test(row), row);
    assert.ok(row.includes("HYPERLINK"));
    assert.ok(row.includes(",'=SUM(1+1),"), row);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
