import type { Detection } from "./detection.ts";

/**
 * RFC 4180 CSV, one detection per row. Lists are joined with `;`; structured parts (matched fields, event
 * fields, explanation, correlation) are JSON in their cell, so nothing is lost and every row has the same columns.
 */
const COLUMNS: readonly { readonly name: string; readonly value: (d: Detection) => string }[] = [
  { name: "time", value: (d) => d.time },
  { name: "host", value: (d) => d.host },
  { name: "level", value: (d) => d.level },
  { name: "rule_id", value: (d) => d.ruleId },
  { name: "title", value: (d) => d.title },
  { name: "author", value: (d) => d.author ?? "" },
  { name: "status", value: (d) => d.status ?? "" },
  { name: "kind", value: (d) => d.kind },
  { name: "tags", value: (d) => d.tags.join(";") },
  { name: "techniques", value: (d) => d.techniques.join(";") },
  { name: "tactics", value: (d) => d.tactics.join(";") },
  { name: "source_file", value: (d) => d.source?.file ?? "" },
  { name: "source_record", value: (d) => String(d.source?.record ?? "") },
  { name: "source_line", value: (d) => String(d.source?.line ?? "") },
  { name: "event_id", value: (d) => d.event?.id ?? "" },
  { name: "logsource_product", value: (d) => d.event?.logsource.product ?? "" },
  { name: "logsource_category", value: (d) => d.event?.logsource.category ?? "" },
  { name: "logsource_service", value: (d) => d.event?.logsource.service ?? "" },
  { name: "matched", value: (d) => JSON.stringify(d.matched) },
  { name: "fields", value: (d) => JSON.stringify(d.event?.fields ?? {}) },
  { name: "explanation", value: (d) => (d.explanation === null ? "" : JSON.stringify(d.explanation)) },
  { name: "correlation", value: (d) => (d.correlation === null ? "" : JSON.stringify(d.correlation)) },
  { name: "rule_file", value: (d) => d.ruleFile },
];

/**
 * Event values are attacker-controlled: a command line like `=HYPERLINK(...)` would run as a formula when an
 * analyst opens the export in a spreadsheet (CSV injection). Cells starting with `=`, `+`, `-`, `@`, tab or CR
 * get a leading `'`, which spreadsheets show as text; the JSONL output keeps values untouched.
 */
function cell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvHeader(): string {
  return `${COLUMNS.map((c) => c.name).join(",")}\r\n`;
}

export function csvRow(detection: Detection): string {
  return `${COLUMNS.map((c) => cell(c.value(detection))).join(",")}\r\n`;
}
