/** What every sensor tells the agent about itself; the agent prints these on stderr. */
export type SensorStatus =
  | { readonly state: "started"; readonly detail?: string }
  | { readonly state: "degraded"; readonly reason: string }
  | { readonly state: "stopped"; readonly detail?: string };

export type SensorStatusListener = (sensor: string, status: SensorStatus) => void;

/** Monotonic-to-wall clock conversion: connector timestamps are ktime_get_ns() (CLOCK_MONOTONIC). */
export function monotonicToIso(monotonicNs: bigint): string {
  const wallNowNs = BigInt(Date.now()) * 1_000_000n;
  const monotonicNowNs = process.hrtime.bigint();
  return new Date(Number((wallNowNs - monotonicNowNs + monotonicNs) / 1_000_000n)).toISOString();
}
