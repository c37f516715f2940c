import type { TimePartModifier } from "./modifiers.ts";

/**
 * The time modifiers extract a number from a date (spec: "It is not designed to handle timezone or format
 * conversions"). Dates without a zone are read as UTC, which is what EVTX `SystemTime` and audit stamps are.
 */
export function parseEventDate(value: string): Date | undefined {
  let text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) text = `${text.replace(" ", "T")}Z`;
  if (/^\d+(\.\d+)?$/.test(text)) {
    // Epoch seconds (audit) or milliseconds.
    const n = Number(text);
    return new Date(n > 1e12 ? n : n * 1000);
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

export function timePart(date: Date, part: TimePartModifier): number {
  switch (part) {
    case "minute":
      return date.getUTCMinutes();
    case "hour":
      return date.getUTCHours();
    case "day":
      return date.getUTCDate();
    case "month":
      return date.getUTCMonth() + 1;
    case "year":
      return date.getUTCFullYear();
    case "week":
      return isoWeek(date);
  }
}

/** ISO 8601 week number: the week with the year's first Thursday is week 1. */
function isoWeek(date: Date): number {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() === 0 ? 7 : d.getUTCDay();
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  return Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
}
