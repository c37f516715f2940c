/**
 * Timestamps rendered the way evtx_dump renders them: ISO 8601 UTC with microseconds, "2025-11-27T07:40:10.165324Z".
 * FILETIME counts 100 ns ticks since 1601-01-01; the sub-microsecond digit is dropped (truncated, as chrono's "%.6f"
 * does), not rounded.
 */
const TICKS_PER_SECOND = 10_000_000n;
/** Seconds from 1601-01-01 to 1970-01-01. */
const EPOCH_DELTA_SECONDS = 11_644_473_600n;

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function formatParts(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  micros: number,
): string {
  return (
    `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}` +
    `.${pad(micros, 6)}Z`
  );
}

export function formatFiletime(ticks: bigint): string {
  const seconds = ticks / TICKS_PER_SECOND;
  const micros = Number((ticks % TICKS_PER_SECOND) / 10n);
  // Date covers ±8.64e15 ms around 1970, far beyond the 1601..30828 range a u64 FILETIME can express.
  const date = new Date(Number(seconds - EPOCH_DELTA_SECONDS) * 1000);
  return formatParts(
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    micros,
  );
}

/** SYSTEMTIME: eight u16 fields (year, month, day-of-week, day, hour, minute, second, milliseconds). */
export function formatSystemtime(fields: readonly number[]): string {
  const [year = 0, month = 0, , day = 0, hour = 0, minute = 0, second = 0, millis = 0] = fields;
  return formatParts(year, month, day, hour, minute, second, millis * 1000);
}
