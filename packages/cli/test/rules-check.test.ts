import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runCli } from "./cli-harness.ts";

const dir = mkdtempSync(join(tmpdir(), "ring3-rules-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const good = `title: Good rule
id: 11111111-1111-4111-8111-111111111111
author: ring3 tests
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\\\whoami.exe'
    condition: selection
level: low
`;
const badCondition = `title: Bad condition
id: 22222222-2222-4222-8222-222222222222
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\\\whoami.exe'
    condition: selection and filter
`;
writeFileSync(join(dir, "good.yml"), good);
writeFileSync(join(dir, "bad.yml"), badCondition);
writeFileSync(join(dir, "broken.yml"), "title: [unclosed\n");

test("rules check: counts, diagnostics grouped by code with file:line:col, exit 1 on errors", async () => {
  const r = await runCli(["rules", "check", dir]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /files:\s+3/);
  assert.match(r.stdout, /rules:\s+2/);
  assert.match(r.stdout, /compiled:\s+1 /);
  assert.match(r.stdout, /R3_CONDITION_UNKNOWN_IDENTIFIER \(1\)/);
  // `condition: selection and filter` — 'filter' starts at column 30 of line 9.
  assert.ok(r.stdout.includes(`${join(dir, "bad.yml")}:9:30: error R3_CONDITION_UNKNOWN_IDENTIFIER`), r.stdout);
  assert.match(r.stdout, /R3_YAML_SYNTAX \(1\)/);
});

test("rules check --json: one object with the counts and the diagnostics", async () => {
  const r = await runCli(["rules", "check", "--json", dir]);
  const summary = JSON.parse(r.stdout) as {
    files: number;
    rules: number;
    compiled: number;
    errors: number;
    byCode: Record<string, number>;
    diagnostics: { code: string; file: string; line: number; col: number }[];
  };
  assert.equal(summary.files, 3);
  assert.equal(summary.compiled, 1);
  assert.equal(summary.byCode["R3_CONDITION_UNKNOWN_IDENTIFIER"], 1);
  assert.ok(summary.diagnostics.every((d) => d.line > 0 && d.col > 0));
});

test("rules check on only good rules exits 0", async () => {
  const r = await runCli(["rules", "check", join(dir, "good.yml")]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /compiled:\s+1 \(100\.0%\)/);
});

test("rules check: unreadable path and bad usage", async () => {
  assert.equal((await runCli(["rules", "check", join(dir, "missing")])).code, 3);
  assert.equal((await runCli(["rules", "check"])).code, 2);
  assert.equal((await runCli(["rules", "frobnicate"])).code, 2);
  assert.equal((await runCli(["nope"])).code, 2);
});
