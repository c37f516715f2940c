import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { load } from "js-yaml";
import type { CompiledRule, LoadResult, WindowsLogsourceMap } from "@ring3/detection";
import { categoryParents, Ruleset, serviceAliases, windowsRecordToEvent } from "@ring3/detection";
import { readSampleRecords } from "./sample-records.ts";

export type RegressionOutcome = {
  readonly ruleId: string;
  readonly title: string;
  readonly file: string;
  readonly passed: boolean;
  readonly matches: number;
  /** The `match_count` the test asks for (at least one when absent). */
  readonly expected: number;
  readonly samples: readonly string[];
  readonly reason?: string;
};

type TestInfo = { type: string; path: string; matchCount: number };

/**
 * SigmaHQ's regression harness, reimplemented: each rule names `regression_tests_path` (relative to the corpus
 * root) → `info.yml` → samples with an optional `match_count`. Pass when the rule matches at least that many
 * records of its sample (upstream: "Fail if the count is below `match_count`"; without it, one match).
 */
export async function runRegressionTests(
  result: LoadResult,
  options: { sample: "evtx" | "json"; map: WindowsLogsourceMap },
): Promise<RegressionOutcome[]> {
  const outcomes: RegressionOutcome[] = [];
  const candidates: { rule: CompiledRule | undefined; doc: LoadResult["failed"][number] }[] = [
    ...result.rules.map((rule) => ({ rule, doc: rule.rule })),
    ...result.failed.map((doc) => ({ rule: undefined, doc })),
  ];
  for (const { rule, doc } of candidates) {
    const testPath = doc.regressionTestsPath;
    if (testPath === undefined) continue;
    const base = { ruleId: doc.id ?? doc.title, title: doc.title, file: doc.file };
    const root = findCorpusRoot(doc.file, testPath);
    if (root === undefined) {
      outcomes.push({ ...base, passed: false, matches: 0, expected: 1, samples: [], reason: `${testPath} not found` });
      continue;
    }
    const tests = await readInfo(join(root, testPath));
    if (typeof tests === "string") {
      outcomes.push({ ...base, passed: false, matches: 0, expected: 1, samples: [], reason: tests });
      continue;
    }
    if (rule === undefined) {
      const expected = tests.reduce((n, t) => n + t.matchCount, 0);
      outcomes.push({ ...base, passed: false, matches: 0, expected, samples: [], reason: "rule did not compile" });
      continue;
    }
    const ruleset = new Ruleset([rule], {
      categoryParents: categoryParents(options.map),
      serviceAliases: serviceAliases(options.map),
    });
    let matches = 0;
    let expected = 0;
    const samples: string[] = [];
    const problems: string[] = [];
    let passed = true;
    for (const t of tests) {
      const samplePath = join(root, options.sample === "json" ? t.path.replace(/\.evtx$/i, ".json") : t.path);
      samples.push(samplePath);
      const records = await readSampleRecords(samplePath, options.sample);
      problems.push(...records.problems);
      let count = 0;
      for (const record of records.records) {
        const event = windowsRecordToEvent(record, options.map);
        count += ruleset.match(event).length;
      }
      matches += count;
      expected += t.matchCount;
      if (count < t.matchCount) passed = false;
    }
    const reason = problems.length > 0 ? problems.join("; ") : passed ? undefined : "fewer matches than expected";
    outcomes.push({ ...base, passed, matches, expected, samples, ...(reason === undefined ? {} : { reason }) });
  }
  return outcomes.sort((a, b) => a.file.localeCompare(b.file));
}

/** The directory above the rule from which `regression_tests_path` resolves (the corpus root). */
function findCorpusRoot(ruleFile: string, testPath: string): string | undefined {
  let dir = dirname(resolve(ruleFile));
  for (;;) {
    if (existsSync(join(dir, testPath))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

async function readInfo(path: string): Promise<TestInfo[] | string> {
  let data: unknown;
  try {
    data = load(await readFile(path, "utf8"));
  } catch (error) {
    return `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
  const infos = (data as { regression_tests_info?: unknown } | null)?.regression_tests_info;
  if (!Array.isArray(infos) || infos.length === 0) return `${path}: no regression_tests_info`;
  const out: TestInfo[] = [];
  for (const info of infos as Record<string, unknown>[]) {
    const p = info["path"];
    if (typeof p !== "string") return `${path}: a test has no path`;
    const count = info["match_count"];
    const type = info["type"];
    out.push({
      type: typeof type === "string" ? type : "evtx",
      path: p,
      matchCount: typeof count === "number" ? count : 1,
    });
  }
  return out;
}
