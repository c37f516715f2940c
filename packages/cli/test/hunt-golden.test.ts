import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { test } from "node:test";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { runCli } from "./cli-harness.ts";

const shared = sharedDataDir();
const GOLDEN = join(import.meta.dirname, "golden", "hunt-attack-samples.jsonl");

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type Row = {
  ruleId: string;
  title: string;
  level: string;
  source: { file: string; record: number | null };
};

/**
 * The SigmaHQ windows rules over the 30 attack samples. The golden file keeps what must not drift (which rule
 * fires on which record) and nothing that depends on the machine or the run: sample paths relative to the
 * subset, no times of the run, no absolute paths. `UPDATE_GOLDEN=1` rewrites it; review the diff.
 */
test("golden: SigmaHQ windows rules over the EVTX attack samples", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const subset = join(shared, "evtx-samples", "evtx-attack-samples-subset");
  const r = await runCli(["hunt", "--format", "jsonl", "--rules", join(shared, "sigma", "rules", "windows"), subset]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Damaged parts +0/);
  assert.match(r.stderr, /Records +3830 read, 3830 hunted/);
  const lines = r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const d = JSON.parse(l) as Row;
      const file = relative(subset, d.source.file).split(sep).join("/");
      return { file, record: d.source.record, ruleId: d.ruleId, title: d.title, level: d.level };
    })
    // Code-unit order, not the locale's: the file must sort the same on every machine.
    .sort((a, b) => compare(a.file, b.file) || (a.record ?? 0) - (b.record ?? 0) || compare(a.ruleId, b.ruleId))
    .map((d) => JSON.stringify(d));
  if (process.env["UPDATE_GOLDEN"] === "1") {
    mkdirSync(dirname(GOLDEN), { recursive: true });
    writeFileSync(GOLDEN, `${lines.join("\n")}\n`);
  }
  assert.ok(existsSync(GOLDEN), `${GOLDEN} is missing: run this test with UPDATE_GOLDEN=1 and review it`);
  const expected = readFileSync(GOLDEN, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  // What changed, not two 250-line texts.
  assert.deepEqual(
    { missing: expected.filter((l) => !lines.includes(l)), unexpected: lines.filter((l) => !expected.includes(l)) },
    { missing: [], unexpected: [] },
  );
  assert.deepEqual(lines, expected);

  // Sanity, whatever the golden file says: the log-clearing samples fire SigmaHQ's log-cleared rules.
  const fired = (file: string, ruleId: string): boolean =>
    lines.some((l) => l.startsWith(`{"file":${JSON.stringify(file)},`) && l.includes(`"ruleId":"${ruleId}"`));
  // System 104 of the System log: "Important Windows Eventlog Cleared" (its sibling "Eventlog Cleared" leaves the
  // core logs to it).
  assert.ok(fired("Defense Evasion/DE_104_system_log_cleared.evtx", "100ef69e-3327-481c-8e5c-6d80d9507556"));
  // Security 1102: "Security Eventlog Cleared".
  assert.ok(
    fired("Defense Evasion/DE_suspicious_remote_eventlog_svc_access_5145.evtx", "d99b79d2-0a6f-4f46-ad8b-260b6e17f982"),
  );
});
