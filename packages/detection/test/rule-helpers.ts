import type { Event, EventFields, Logsource } from "@ring3/schema";
import { formatDiagnostic, loadRules, Ruleset } from "../src/index.ts";
import type { Diagnostic, LoadOptions, LoadResult, RuleMatch } from "../src/index.ts";

/** The logsource every helper-built rule and event uses unless told otherwise. */
export const PROCESS_CREATION: Logsource = { product: "windows", category: "process_creation" };

let nextEvent = 0;

export function event(fields: EventFields, logsource: Logsource = PROCESS_CREATION): Event {
  nextEvent += 1;
  return { id: `e${nextEvent}`, time: "2024-03-15T13:45:30Z", host: "host", logsource, fields };
}

/**
 * A whole rule around a detection given as a JS object. The detection is written as one line of flow YAML
 * (JSON is valid YAML), so string values are double-quoted scalars: `"a\\*b"` in JSON is the Sigma value
 * `a\*b`, exactly as a rule author would write it in single quotes.
 */
export function ruleText(
  detection: Readonly<Record<string, unknown>>,
  id = "00000000-0000-4000-8000-000000000001",
  logsource: Logsource = PROCESS_CREATION,
): string {
  return [
    `title: Test rule ${id}`,
    `id: ${id}`,
    `logsource: ${JSON.stringify(logsource)}`,
    `detection: ${JSON.stringify(detection)}`,
    "level: high",
    "",
  ].join("\n");
}

export function load(detection: Readonly<Record<string, unknown>>, options: LoadOptions = {}): LoadResult {
  return loadRules([{ path: "test.yml", text: ruleText(detection) }], options);
}

export function errors(result: LoadResult): Diagnostic[] {
  return result.diagnostics.filter((d) => d.severity === "error");
}

/** Compiles the detection (which must compile without errors) and returns a predicate over event fields. */
export function matcher(
  detection: Readonly<Record<string, unknown>>,
  options: LoadOptions = {},
): (fields: EventFields) => boolean {
  const result = load(detection, options);
  const bad = errors(result);
  if (bad.length > 0 || result.rules.length !== 1) {
    throw new Error(`rule did not compile:\n${bad.map(formatDiagnostic).join("\n")}`);
  }
  const ruleset = new Ruleset(result.rules);
  return (fields) => ruleset.match(event(fields)).length > 0;
}

/** `matcher` for the usual shape: one selection named `selection` and `condition: selection`. */
export function selection(
  fields: Readonly<Record<string, unknown>> | readonly unknown[],
  options: LoadOptions = {},
): (fields: EventFields) => boolean {
  return matcher({ selection: fields, condition: "selection" }, options);
}

/** Codes of the diagnostics of a detection that is expected not to compile. */
export function diagnosticCodes(detection: Readonly<Record<string, unknown>>, options: LoadOptions = {}): string[] {
  return load(detection, options).diagnostics.map((d) => d.code);
}

export function matchIds(matches: readonly RuleMatch[]): string[] {
  return matches.map((m) => m.ruleId).sort();
}
