import type { Host, HostHealth } from "@ring3/protocol";
import { href } from "./links.ts";

/** Host counts shown beside live host messages are fetched again at most this often (once per burst). */
export const HOST_COUNTS_REFRESH_MS = 2000;

/** Sensors that are not running as asked: the host reports, but sees less. */
export function degradedSensors(host: Host): string[] {
  return Object.entries(host.sensors)
    .filter(([, sensor]) => sensor.state !== "started")
    .map(([name]) => name);
}

export function totalDropped(host: Host): number {
  return Object.values(host.dropped).reduce((sum, n) => sum + n, 0);
}

/** The host list's filter, kept in the address so that a link (an overview tile) opens it filtered. */
export type HostFilters = { readonly q: string; readonly health: readonly HostHealth[] };

/** `#/hosts?q=web&health=degraded&health=silent` */
export function hostsHref(filters: HostFilters): string {
  const query = new URLSearchParams();
  if (filters.q !== "") query.set("q", filters.q);
  for (const health of filters.health) query.append("health", health);
  const text = query.toString();
  return text === "" ? href("hosts") : `${href("hosts")}?${text}`;
}
