/** What every sensor tells the agent about itself; the agent prints these on stderr. */
export type SensorStatus =
  | { readonly state: "started"; readonly detail?: string }
  | { readonly state: "degraded"; readonly reason: string }
  | { readonly state: "stopped"; readonly detail?: string };

export type SensorStatusListener = (sensor: string, status: SensorStatus) => void;

let offset: { readonly wallMinusMonotonicMs: number; readonly untilMs: number } | undefined;

/**
 * Monotonic-to-wall clock conversion: connector timestamps are ktime_get_ns() (CLOCK_MONOTONIC), here in ms.
 * The offset between the clocks is measured at most once a second (three connector events per exec made it a
 * hot path), so a wall clock step shows within a second.
 */
export function monotonicToIso(monotonicMs: number): string {
  const now = Date.now();
  if (offset === undefined || now >= offset.untilMs)
    offset = { wallMinusMonotonicMs: now - Number(process.hrtime.bigint() / 1_000_000n), untilMs: now + 1000 };
  return new Date(Math.floor(monotonicMs) + offset.wallMinusMonotonicMs).toISOString();
}
