import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { runCli } from "./cli-harness.ts";

const shared = sharedDataDir();
const RULE_DIRS = ["rules", "rules-threat-hunting", "rules-emerging-threats", "rules-compliance", "rules-placeholder"];

type Report = {
  tested: number;
  passed: number;
  failed: number;
  results: { ruleId: string; passed: boolean; matches: number; expected: number; reason?: string }[];
};

for (const sample of ["evtx", "json"] as const) {
  test(`SigmaHQ regression data: all 202 rules match their ${sample} samples at least match_count times`, async (t) => {
    if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
    const dirs = RULE_DIRS.map((d) => join(shared, "sigma", d));
    const r = await runCli(["rules", "test", "--sample", sample, "--json", ...dirs]);
    const report = JSON.parse(r.stdout) as Report;
    const failures = report.results
      .filter((x) => !x.passed || x.reason !== undefined)
      .map((x) => `${x.ruleId}: ${x.matches}/${x.expected} ${x.reason ?? ""}`);
    assert.deepEqual(failures, []);
    assert.equal(report.tested, 202);
    assert.equal(report.passed, 202);
    assert.equal(r.code, 0);
  });
}

test("rules test reports a failing rule and exits 1", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  // A rule pointed at another rule's sample cannot match it: the harness must say FAIL, not pass silently.
  const { mkdtempSync, writeFileSync, rmSync, symlinkSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "ring3-regression-"));
  try {
    symlinkSync(join(shared, "sigma", "regression_data"), join(dir, "regression_data"));
    const info = "regression_data/rules/windows/process_creation/proc_creation_win_bitsadmin_download/info.yml";
    writeFileSync(
      join(dir, "never.yml"),
      `title: Never matches\nid: 33333333-3333-4333-8333-333333333333\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    selection:\n        Image|endswith: '\\\\no-such-binary.exe'\n    condition: selection\nregression_tests_path: ${info}\n`,
    );
    const r = await runCli(["rules", "test", "--sample", "json", dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /FAIL 33333333-3333-4333-8333-333333333333 Never matches \(0\/1 matches\) — fewer matches than expected/,
    );
    assert.match(r.stdout, /^0 passed, 1 failed$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
