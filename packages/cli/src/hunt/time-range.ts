/** `--since` / `--until` as epoch milliseconds: `since` inclusive, `until` exclusive (see parseTimeBound). */
export type TimeRange = { readonly since: number | undefined; readonly until: number | undefined };

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const DAY_MS = 86_400_000;

/**
 * An ISO 8601 time (`2019-03-19T12:00:00Z`, `…+02:00`, seconds optional) or a date (`2019-03-19`). A time
 * without an offset is UTC, like the event times it is compared with, never the local zone of the machine
 * the hunt runs on. Both bounds are inclusive: as `until`, a time includes its own millisecond and a date its
 * whole day (`--since 2019-03-19 --until 2019-03-19` is that day), returned as the exclusive end.
 */
export function parseTimeBound(text: string, bound: "since" | "until"): number | undefined {
  const value = text.trim();
  if (DATE.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(ms) ? undefined : bound === "until" ? ms + DAY_MS : ms;
  }
  if (!DATE_TIME.test(value)) return undefined;
  const iso = value.replace(" ", "T").replace(/([+-]\d{2})(\d{2})$/, "$1:$2");
  const ms = Date.parse(/(Z|[+-]\d{2}:\d{2})$/i.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(ms) ? undefined : bound === "until" ? ms + 1 : ms;
}

/** Whether an event time falls in the range; with a bound set, an event without a readable time does not. */
export function inRange(range: TimeRange, time: string): boolean {
  if (range.since === undefined && range.until === undefined) return true;
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return false;
  return (range.since === undefined || ms >= range.since) && (range.until === undefined || ms < range.until);
}
