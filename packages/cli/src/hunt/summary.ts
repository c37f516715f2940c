import { RULE_LEVELS } from "@ring3/detection";
import type { AttackCatalog } from "../attack.ts";
import type { Detection } from "./detection.ts";
import { levelRank } from "./detection.ts";
import type { HuntStats } from "./hunter.ts";
import { compareText, shorten } from "./text.ts";

export type SummaryInput = {
  readonly detections: readonly Detection[];
  readonly stats: HuntStats;
  /** Files found in directories that are neither EVTX nor JSON. */
  readonly skipped: number;
  /** Named paths that could not be read before the hunt started. */
  readonly unreadable: number;
  readonly rules: {
    readonly loaded: number;
    readonly compiled: number;
    /** Disabled while running (a rule that threw or overran its time budget). */
    readonly disabled: number;
    readonly seconds: number;
  };
  readonly catalog: AttackCatalog;
  readonly minLevel: string | undefined;
};

const LEVELS_HIGH_FIRST = [...RULE_LEVELS].reverse();

function count(n: number): string {
  return String(n).padStart(7);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function byLevel(detections: readonly Detection[]): Map<string, number> {
  const levels = new Map<string, number>(LEVELS_HIGH_FIRST.map((l) => [l, 0]));
  for (const d of detections) levels.set(d.level, (levels.get(d.level) ?? 0) + 1);
  return levels;
}

function byRule(detections: readonly Detection[]): string[] {
  const rules = new Map<string, { n: number; d: Detection }>();
  for (const d of detections) {
    const entry = rules.get(d.ruleId);
    if (entry === undefined) rules.set(d.ruleId, { n: 1, d });
    else entry.n++;
  }
  return [...rules.values()]
    .sort((a, b) => b.n - a.n || levelRank(b.d.level) - levelRank(a.d.level) || compareText(a.d.title, b.d.title))
    .map(({ n, d }) => {
      const author = d.author === null ? "" : ` (${shorten(d.author, 60)})`;
      return `${count(n)}  ${d.level.padEnd(13)}  ${shorten(d.title, 90)}${author}`;
    });
}

function byTactic(detections: readonly Detection[], catalog: AttackCatalog): string[] {
  const tactics = new Map<string, number>();
  let none = 0;
  for (const d of detections) {
    if (d.tactics.length === 0) none++;
    for (const t of d.tactics) tactics.set(t, (tactics.get(t) ?? 0) + 1);
  }
  const order = (t: string): number => {
    const i = catalog.tacticOrder.indexOf(t);
    return i < 0 ? catalog.tacticOrder.length : i;
  };
  const lines = [...tactics]
    .sort((a, b) => b[1] - a[1] || order(a[0]) - order(b[0]) || compareText(a[0], b[0]))
    .map(([t, n]) => `${count(n)}  ${catalog.tacticLabel(t)}`);
  if (none > 0) lines.push(`${count(none)}  (no ATT&CK tactic)`);
  return lines;
}

/**
 * The end-of-hunt report: detections by level, rule (with its author) and ATT&CK tactic, then what was read,
 * how fast, and everything that was not hunted normally (damage, unmapped channels, records outside the range).
 */
export function summaryLines(input: SummaryInput): string[] {
  const { detections, stats, catalog } = input;
  const levels = [...byLevel(detections)].filter(([, n]) => n > 0).map(([l, n]) => `${l} ${n}`);
  const lines = [
    "Summary",
    `  Detections      ${detections.length}${levels.length > 0 ? ` (${levels.join(", ")})` : ""}`,
  ];
  if (stats.belowMinLevel > 0) {
    lines.push(`                  ${stats.belowMinLevel} more below --min-level ${input.minLevel ?? ""} not shown`);
  }
  if (detections.length > 0) {
    lines.push("", "By level");
    for (const [level, n] of byLevel(detections)) if (n > 0) lines.push(`${count(n)}  ${level}`);
    lines.push("", "By rule", ...byRule(detections));
    lines.push("", `By ATT&CK tactic${catalog.version === undefined ? " (from rule tags only)" : ""}`);
    lines.push(...byTactic(detections, catalog));
  }
  const files = [`${stats.files} read (${stats.evtxFiles} EVTX, ${stats.jsonFiles} JSON)`];
  if (input.skipped > 0) files.push(`${input.skipped} skipped (neither EVTX nor JSON)`);
  const unreadable = input.unreadable + stats.unreadable.length;
  if (unreadable > 0) files.push(`${unreadable} unreadable`);
  const records = [`${stats.records} read`, `${stats.events} hunted`];
  if (stats.outsideRange > 0) records.push(`${stats.outsideRange} outside --since/--until`);
  if (stats.unrecognised > 0)
    records.push(`${plural(stats.unrecognised, "JSON value")} neither EVTX records nor events`);
  const rate = stats.seconds > 0 ? Math.round(stats.events / stats.seconds) : 0;
  const rules = [`${input.rules.compiled} of ${input.rules.loaded} compiled in ${input.rules.seconds.toFixed(2)} s`];
  if (input.rules.disabled > 0) rules.push(`${input.rules.disabled} disabled while running`);
  lines.push(
    "",
    "Input",
    `  Files           ${files.join(", ")}`,
    `  Records         ${records.join(", ")}`,
    `  Speed           ${stats.events} events in ${stats.seconds.toFixed(2)} s, ${rate} events/s`,
    `  Damaged parts   ${stats.damaged}`,
    `  Rules           ${rules.join(", ")}`,
    `  ATT&CK          ${catalog.version === undefined ? "no catalog (--attack <file>): tactics from rule tags only" : `Enterprise v${catalog.version}`}`,
  );
  const unmapped = [...stats.unmapped].sort((a, b) => b[1] - a[1] || compareText(a[0], b[0]));
  const total = unmapped.reduce((n, [, c]) => n + c, 0);
  if (total > 0) {
    lines.push(
      `  Unmapped        ${plural(total, "record")} of channels the logsource map lacks (only product-wide rules saw them):`,
    );
    for (const [channel, n] of unmapped)
      lines.push(`${count(n)}  ${shorten(channel === "" ? "(no channel)" : channel, 100)}`);
  } else {
    lines.push("  Unmapped        0");
  }
  return lines;
}
