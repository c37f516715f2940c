import type { Host } from "@ring3/protocol";

export type HostHealth = "online" | "silent" | "isolated" | "degraded";

/** Sensors that are not running as asked: the host reports, but sees less. */
export function degradedSensors(host: Host): string[] {
  return Object.entries(host.sensors)
    .filter(([, sensor]) => sensor.state !== "started")
    .map(([name]) => name);
}

export function totalDropped(host: Host): number {
  return Object.values(host.dropped).reduce((sum, n) => sum + n, 0);
}

/**
 * One word for a host's state, most urgent first: silence (a crash or tampering looks like silence), then
 * isolation (a deliberate state worth seeing), then sensors that lost sight.
 */
export function hostHealth(host: Host): HostHealth {
  if (host.state === "silent") return "silent";
  if (host.isolated) return "isolated";
  if (degradedSensors(host).length > 0) return "degraded";
  return "online";
}
