import type { Detection } from "./detection.ts";
import { shorten, shortTime } from "./text.ts";

const LEVEL_LABELS: Readonly<Record<string, string>> = {
  informational: "info",
  low: "low",
  medium: "med",
  high: "high",
  critical: "crit",
};

const MAX = { host: 24, title: 64, attack: 28, value: 60, keyFields: 160 } as const;

/** `Field: value` for each matched field, values joined with `|`, each shortened, the whole cut to fit a line. */
export function keyFields(detection: Detection): string {
  const parts = Object.entries(detection.matched).map(
    ([field, values]) => `${field}: ${shorten(values.join(" | "), MAX.value)}`,
  );
  return shorten(parts.join("  "), MAX.keyFields);
}

function row(d: Detection): string[] {
  return [
    shortTime(d.time),
    shorten(d.host, MAX.host),
    LEVEL_LABELS[d.level] ?? shorten(d.level, 8),
    shorten(d.title, MAX.title),
    shorten(d.techniques.join(","), MAX.attack),
    keyFields(d),
  ];
}

/** The timeline: one line per detection, columns padded to the widest cell, the last one left ragged. */
export function timelineLines(detections: readonly Detection[]): string[] {
  const header = ["Time (UTC)", "Host", "Level", "Rule", "ATT&CK", "Key fields"];
  const rows = [header, ...detections.map(row)];
  const widths = header.map((_, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? "").length), 0));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}
