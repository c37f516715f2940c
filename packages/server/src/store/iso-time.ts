import { StoreError } from "./store-error.ts";

/**
 * RFC 3339 as the protocol's IsoTime means it: a date, optionally a time with a zone. The zone is required with
 * a time because `Date.parse("2026-01-01T10:00")` reads local time, and Date.parse alone accepts "1" (the year
 * 2001). Linear: no nested quantifiers.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

/** Milliseconds since the epoch, or undefined for anything that is not an RFC 3339 time. */
export function parseIsoTime(text: string): number | undefined {
  if (!RFC3339.test(text)) return undefined;
  const ms = Date.parse(text.replace(" ", "T"));
  return Number.isFinite(ms) ? ms : undefined;
}

/** Like parseIsoTime for times a caller passes in a query: a bad one is the caller's error. */
export function requireIsoTime(text: string, what: string): number {
  const ms = parseIsoTime(text);
  if (ms === undefined)
    throw new StoreError(
      "R3_ERR_STORE_BAD_TIME",
      `${what} is not an RFC 3339 time: ${JSON.stringify(text.slice(0, 64))}`,
    );
  return ms;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Whether `text` is exactly `isoTime(ms)`, its time parsed. Most event times are (the agents write
 * toISOString()), so this answers from the shape alone when the day is at most 28 and the hour below 24;
 * otherwise (Date.parse rolls "02-30" over to March and hour 24 to the next day) it formats to compare.
 */
export function isCanonicalIso(text: string, ms: number): boolean {
  if (!CANONICAL.test(text)) return false;
  if (text.slice(8, 10) <= "28" && text.slice(11, 13) < "24") return true;
  return isoTime(ms) === text;
}
