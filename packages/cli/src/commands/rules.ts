import { parseArgs } from "node:util";
import type { Diagnostic, LoadResult } from "@ring3/detection";
import { formatDiagnostic } from "@ring3/detection";
import type { CliCommand, CliIo } from "../cli-io.ts";
import { ExitCode } from "../cli-io.ts";
import type { RegressionOutcome } from "../regression.ts";
import { runRegressionTests } from "../regression.ts";
import { loadRuleFiles } from "../rule-loading.ts";
import { loadWindowsLogsourceMap } from "../windows-logsources.ts";

const USAGE = `Usage:
  ring3 rules check <path>... [--json] [--placeholders <file>]
      Load rules (files or directories) and report files, rules, compiled, and diagnostics by code.
  ring3 rules test <path>... [--json] [--sample evtx|json] [--placeholders <file>] [--logsources <file>]
      Run every rule's SigmaHQ regression tests (regression_tests_path → info.yml → samples).
`;

type Common = { paths: string[]; json: boolean; placeholders: string | undefined };

const OPTIONS = {
  json: { type: "boolean" },
  placeholders: { type: "string" },
  help: { type: "boolean" },
  sample: { type: "string" },
  logsources: { type: "string" },
} as const;

function parse(args: readonly string[], allowed: readonly (keyof typeof OPTIONS)[]) {
  const parsed = parseArgs({ args: [...args], allowPositionals: true, options: OPTIONS });
  for (const name of Object.keys(parsed.values)) {
    if (!(allowed as readonly string[]).includes(name)) throw new TypeError(`unknown option '--${name}'`);
  }
  return parsed;
}

async function load(common: Common, io: CliIo): Promise<LoadResult | undefined> {
  const result = await loadRuleFiles(common.paths, false, common.placeholders);
  if (typeof result !== "string") return result;
  io.stderr.write(`ring3 rules: ${result}\n`);
  return undefined;
}

function byCode(diagnostics: readonly Diagnostic[]): Map<string, Diagnostic[]> {
  const groups = new Map<string, Diagnostic[]>();
  for (const d of diagnostics) {
    const list = groups.get(d.code) ?? [];
    list.push(d);
    groups.set(d.code, list);
  }
  return new Map([...groups].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0])));
}

async function check(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, ["json", "placeholders", "help"]);
  if (values.help === true || positionals.length === 0) {
    io.stdout.write(USAGE);
    return positionals.length === 0 && values.help !== true ? ExitCode.usage : ExitCode.ok;
  }
  const result = await load({ paths: positionals, json: values.json === true, placeholders: values.placeholders }, io);
  if (result === undefined) return ExitCode.input;
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  const groups = byCode(result.diagnostics);
  if (values.json === true) {
    const summary = {
      files: result.stats.files,
      documents: result.stats.documents,
      rules: result.stats.rules,
      compiled: result.stats.compiled,
      filters: result.stats.filters,
      correlations: result.stats.correlations,
      errors,
      warnings: result.diagnostics.filter((d) => d.severity === "warning").length,
      byCode: Object.fromEntries([...groups].map(([code, list]) => [code, list.length])),
      diagnostics: result.diagnostics,
    };
    io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const s = result.stats;
    const lines = [
      `files:        ${s.files}`,
      `rules:        ${s.rules}`,
      `compiled:     ${s.compiled} (${s.rules === 0 ? "0.0" : ((100 * s.compiled) / s.rules).toFixed(1)}%)`,
      `filters:      ${s.filters}`,
      `correlations: ${s.correlations}`,
      `diagnostics:  ${result.diagnostics.length} (${errors} errors)`,
    ];
    for (const [code, list] of groups) {
      lines.push("", `${code} (${list.length})`);
      for (const d of list) lines.push(`  ${formatDiagnostic(d)}`);
    }
    io.stdout.write(`${lines.join("\n")}\n`);
  }
  return errors > 0 ? ExitCode.failed : ExitCode.ok;
}

async function test(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, ["json", "placeholders", "help", "sample", "logsources"]);
  if (values.help === true || positionals.length === 0) {
    io.stdout.write(USAGE);
    return positionals.length === 0 && values.help !== true ? ExitCode.usage : ExitCode.ok;
  }
  const sample = values.sample ?? "evtx";
  if (sample !== "evtx" && sample !== "json") {
    io.stderr.write(`ring3 rules test: --sample must be evtx or json\n`);
    return ExitCode.usage;
  }
  const result = await load({ paths: positionals, json: values.json === true, placeholders: values.placeholders }, io);
  if (result === undefined) return ExitCode.input;
  const logsources = await loadWindowsLogsourceMap(values.logsources);
  for (const d of logsources.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (logsources.map === undefined) return ExitCode.input;
  const outcomes = await runRegressionTests(result, { sample, map: logsources.map });
  const passed = outcomes.filter((o) => o.passed).length;
  const failed = outcomes.length - passed;
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify({ tested: outcomes.length, passed, failed, results: outcomes }, null, 2)}\n`);
  } else {
    for (const o of outcomes) io.stdout.write(`${formatOutcome(o)}\n`);
    io.stdout.write(`\nrules with regression tests: ${outcomes.length}\n${passed} passed, ${failed} failed\n`);
  }
  return failed > 0 ? ExitCode.failed : ExitCode.ok;
}

function formatOutcome(o: RegressionOutcome): string {
  const status = o.passed ? "PASS" : "FAIL";
  const counts = `${o.matches}/${o.expected}`;
  const why = o.reason === undefined ? "" : ` — ${o.reason}`;
  return `${status} ${o.ruleId} ${o.title} (${counts} matches)${why}`;
}

export const rulesCommand: CliCommand = {
  name: "rules",
  summary: "check rule files and run their regression tests",
  usage: USAGE,
  async run(args, io) {
    const [sub, ...rest] = args;
    try {
      if (sub === "check") return await check(rest, io);
      if (sub === "test") return await test(rest, io);
    } catch (error) {
      // parseArgs rejects unknown flags with a TypeError: that is a usage error, not a crash.
      if (!(error instanceof TypeError)) throw error;
      io.stderr.write(`ring3 rules: ${error.message}\n\n${USAGE}`);
      return ExitCode.usage;
    }
    io.stderr.write(sub === undefined ? USAGE : `ring3 rules: unknown subcommand '${sub}'\n\n${USAGE}`);
    return ExitCode.usage;
  },
};
