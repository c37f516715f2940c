import { once } from "node:events";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { LoadResult } from "@ring3/detection";
import { categoryParents, createDetector, formatDiagnostic, RULE_LEVELS, serviceAliases } from "@ring3/detection";
import type { AttackCatalog } from "../attack.ts";
import { defaultAttackCatalogPath, loadAttackCatalog, TAGS_ONLY_CATALOG } from "../attack.ts";
import type { CliCommand, CliIo } from "../cli-io.ts";
import { ExitCode } from "../cli-io.ts";
import { levelRank } from "../hunt/detection.ts";
import { hunt } from "../hunt/hunter.ts";
import { discoverInputs } from "../hunt/input-files.ts";
import type { Format } from "../hunt/output.ts";
import { FORMATS, writeDetections } from "../hunt/output.ts";
import { progressLine } from "../hunt/progress.ts";
import { summaryLines } from "../hunt/summary.ts";
import { loadRuleFiles } from "../rule-loading.ts";
import { parseTimeBound } from "../hunt/time-range.ts";
import { loadWindowsLogsourceMap } from "../windows-logsources.ts";

const USAGE = `Usage:
  ring3 hunt <file|dir>... [--rules <dir>...] [--min-level <level>] [--since <time>] [--until <time>]
             [--format table|jsonl|csv] [--output <file>] [--logsources <file>] [--placeholders <file>]
             [--attack <file>] [--no-progress]
      Run Sigma rules over EVTX files (found by their magic, whatever the extension), evtx_dump JSON / JSONL,
      and ring3 event JSONL. Directories are read recursively, in sorted order.

      --rules <dir>       Rule files or directories, repeatable (default: the rules ring3 ships, content/rules).
      --min-level <l>     Keep alerts of this level or above: informational, low, medium, high, critical.
      --since, --until    Hunt only events in this time range, both ends included: ISO 8601 times
                          (2019-03-19T12:00:00Z; no offset means UTC) or dates (a date as --until is its whole day).
      --format            table (default): a timeline and a summary. jsonl: one detection per line. csv.
                          With jsonl and csv the summary goes to stderr.
      --output <file>     Write there instead of stdout.
      --logsources <file> Extend the shipped Windows channel → logsource map.
      --placeholders <f>  Values for |expand placeholders (YAML: name → list).
      --attack <file>     ATT&CK enterprise-techniques.json, to name the tactics of technique-only tags.
      --no-progress       No progress line (it is shown only when stderr is a terminal).

  Exit codes: 0 hunted (with or without detections), 2 bad usage, 3 an input or the rules could not be read.
  Damaged EVTX parts are reported on stderr and the rest of each file is still hunted.
`;

/** The rules ring3 ships, used when no --rules is given. */
const SHIPPED_RULES = resolve(import.meta.dirname, "..", "..", "..", "..", "content", "rules");

const OPTIONS = {
  rules: { type: "string", multiple: true },
  "min-level": { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  format: { type: "string", default: "table" },
  output: { type: "string" },
  logsources: { type: "string" },
  placeholders: { type: "string" },
  attack: { type: "string" },
  "no-progress": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

function parse(args: readonly string[]) {
  const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: OPTIONS });
  const format = values.format;
  if (!(FORMATS as readonly string[]).includes(format))
    throw new UsageError(`unknown format '${format}' (table, jsonl or csv)`);
  const minLevel = values["min-level"];
  if (minLevel !== undefined && !(RULE_LEVELS as readonly string[]).includes(minLevel)) {
    throw new UsageError(`--min-level must be one of ${RULE_LEVELS.join(", ")}`);
  }
  const bound = (name: "since" | "until"): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    const ms = parseTimeBound(text, name);
    if (ms === undefined) throw new UsageError(`--${name} '${text}' is not an ISO 8601 time or date`);
    return ms;
  };
  const range = { since: bound("since"), until: bound("until") };
  if (range.since !== undefined && range.until !== undefined && range.until <= range.since) {
    throw new UsageError("--until is before --since");
  }
  if (values.help !== true && positionals.length === 0) throw new UsageError("no file or directory given");
  return { values, positionals, format: format as Format, minLevel, range };
}

async function loadAttack(path: string | undefined): Promise<AttackCatalog> {
  const found = path ?? defaultAttackCatalogPath();
  return found === undefined ? TAGS_ONLY_CATALOG : loadAttackCatalog(found);
}

type Parsed = ReturnType<typeof parse>;

/** A path option resolved against the working directory the command runs in. */
function pathOption(io: CliIo, value: string | undefined): string | undefined {
  return value === undefined ? undefined : resolve(io.cwd, value);
}

async function run({ values, positionals, format, minLevel, range }: Parsed, io: CliIo): Promise<number> {
  const fail = (message: string): number => {
    io.stderr.write(`ring3 hunt: ${message}\n`);
    return ExitCode.input;
  };

  const rulePaths = values.rules?.map((p) => resolve(io.cwd, p)) ?? [SHIPPED_RULES];
  const loadStarted = performance.now();
  const rules = await loadRuleFiles(rulePaths, values.rules === undefined, pathOption(io, values.placeholders));
  if (typeof rules === "string") return fail(rules);
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  reportRuleDiagnostics(rules, io);
  if (rules.stats.compiled === 0) return fail(`no rule compiled from ${rulePaths.join(", ")}`);

  const logsources = await loadWindowsLogsourceMap(pathOption(io, values.logsources));
  for (const d of logsources.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (logsources.map === undefined) return fail("no usable logsource map");
  let catalog: AttackCatalog;
  try {
    catalog = await loadAttack(pathOption(io, values.attack));
  } catch (error) {
    return fail(`cannot read the ATT&CK catalog: ${error instanceof Error ? error.message : String(error)}`);
  }

  let output: FileHandle | undefined;
  if (values.output !== undefined) {
    try {
      // Opened before hunting: a long hunt must not end on an output it cannot write.
      output = await open(resolve(io.cwd, values.output), "w");
    } catch (error) {
      return fail(`cannot write ${values.output}: ${(error as { code?: string }).code ?? String(error)}`);
    }
  }

  const progress = progressLine(io.stderr, values["no-progress"] !== true);
  const report = (message: string): void => {
    progress.clear();
    io.stderr.write(`${message}\n`);
  };
  const discovery = await discoverInputs(positionals, io.cwd);
  for (const p of discovery.unreadable) report(`ring3 hunt: cannot read ${p.name}: ${p.reason}`);

  const { detector, diagnostics } = createDetector(rules, {
    ruleset: {
      // Offline hunting is not the live sensor: a loaded machine must not disable rules for being slow, so the
      // per-event budget only catches real runaways.
      ruleTimeBudgetMs: 250,
      categoryParents: categoryParents(logsources.map),
      serviceAliases: serviceAliases(logsources.map),
      onRuleDisabled: (d) => report(formatDiagnostic(d)),
    },
  });
  for (const d of diagnostics) report(formatDiagnostic(d));
  const { detections, stats } = await hunt(discovery.files, {
    map: logsources.map,
    detector,
    catalog,
    range,
    minLevel: minLevel === undefined ? 0 : levelRank(minLevel),
    report,
    onProgress: (p) => progress.update(p),
  });
  progress.clear();

  const summary = summaryLines({
    detections,
    stats,
    skipped: discovery.skipped.length,
    unreadable: discovery.unreadable.length,
    rules: {
      loaded: rules.stats.rules,
      compiled: rules.stats.compiled,
      disabled: detector.ruleset.disabled.length,
      seconds: loadSeconds,
    },
    catalog,
    minLevel,
  });
  const out = output?.createWriteStream() ?? io.stdout;
  await writeDetections(out, format, detections, summary);
  if (output !== undefined) {
    out.end();
    await once(out, "close");
  }
  if (format !== "table") io.stderr.write(`${summary.join("\n")}\n`);
  return discovery.unreadable.length + stats.unreadable.length > 0 ? ExitCode.input : ExitCode.ok;
}

/** Errors and warnings of the rule load, one line each with file:line:col and code. */
function reportRuleDiagnostics(rules: LoadResult, io: CliIo): void {
  for (const d of rules.diagnostics) if (d.severity !== "info") io.stderr.write(`${formatDiagnostic(d)}\n`);
}

export const huntCommand: CliCommand = {
  name: "hunt",
  summary: "run Sigma rules over EVTX and JSON event files",
  usage: USAGE,
  async run(args, io) {
    let parsed: Parsed;
    try {
      parsed = parse(args);
    } catch (error) {
      // parseArgs rejects unknown flags with a TypeError: that is a usage error, not a crash.
      if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
      io.stderr.write(`ring3 hunt: ${error.message}\n\n${USAGE}`);
      return ExitCode.usage;
    }
    if (parsed.values.help === true) {
      io.stdout.write(USAGE);
      return ExitCode.ok;
    }
    return run(parsed, io);
  },
};
