import { useEffect, useState } from "react";
import { HOST_HEALTHS } from "@ring3/protocol";
import type { FleetCounts, Host, HostHealth, HostQuery } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { ErrorNote, Loading } from "../components/ui.tsx";
import { formatAge } from "../format.ts";
import { degradedSensors, HOST_COUNTS_REFRESH_MS, hostsHref, totalDropped, type HostFilters } from "../host-health.ts";
import { href, navigate, useRoute } from "../router.ts";
import { useLive } from "../session.ts";
import { useCoalesced } from "../use-coalesced.ts";

/** Rows per request: a fleet of 10,000 hosts is listed a page at a time, never in one answer. */
const PAGE = 200;

function filtersFrom(query: URLSearchParams): HostFilters {
  return {
    q: query.get("q") ?? "",
    health: query.getAll("health").filter((h): h is HostHealth => (HOST_HEALTHS as readonly string[]).includes(h)),
  };
}

function hostQuery(filters: HostFilters, cursor?: string): HostQuery {
  return {
    limit: PAGE,
    ...(filters.q === "" ? {} : { q: filters.q }),
    ...(filters.health.length === 0 ? {} : { health: [...filters.health] }),
    ...(cursor === undefined ? {} : { cursor }),
  };
}

/** The server's filter (hostname substring in any case, health), for a host pushed live. */
function matches(host: Host, filters: HostFilters): boolean {
  if (filters.health.length > 0 && !filters.health.includes(host.health)) return false;
  return filters.q === "" || host.hostname.toLowerCase().includes(filters.q.toLowerCase());
}

/** The server's order: hostnames in binary order (not locale order), so a loaded page and the next one join. */
const byHostname = (a: Host, b: Host) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0);

export default function HostsPage() {
  const route = useRoute();
  const filters = filtersFrom(route.query);
  const filterKey = route.query.toString();
  const [rows, setRows] = useState<Host[] | undefined>(undefined);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [fleet, setFleet] = useState<FleetCounts | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  // The first page again whenever the filter in the address changes.
  useEffect(() => {
    const controller = new AbortController();
    setRows(undefined);
    setError(undefined);
    call(
      "listHosts",
      { query: hostQuery(filtersFrom(new URLSearchParams(filterKey))) },
      { signal: controller.signal },
    ).then(
      (page) => {
        setRows(page.items);
        setCursor(page.nextCursor);
        setFleet(page.fleet);
      },
      (cause: unknown) => {
        if (!controller.signal.aborted) setError(cause);
      },
    );
    return () => controller.abort();
  }, [filterKey]);

  const recount = useCoalesced(() => {
    call("listHosts", { query: { limit: 1 } }).then(
      (page) => setFleet(page.fleet),
      () => undefined, // the counts stay as they were; the next change or a reload tries again
    );
  }, HOST_COUNTS_REFRESH_MS);

  const loadMore = () => {
    if (cursor === undefined || busy) return;
    setBusy(true);
    call("listHosts", { query: hostQuery(filters, cursor) }).then(
      (page) => {
        setRows((current) => [...(current ?? []), ...page.items]);
        setCursor(page.nextCursor);
        setFleet(page.fleet);
        setBusy(false);
      },
      (cause: unknown) => {
        setError(cause);
        setBusy(false);
      },
    );
  };

  useLive((message) => {
    if (message.type !== "host") return;
    const host = message.host;
    setRows((list) => {
      if (list === undefined) return list;
      if (list.some((h) => h.id === host.id)) return list.map((h) => (h.id === host.id ? host : h));
      // A new host belongs here when the filter wants it and every page is loaded; otherwise a later page or
      // a reload shows it in its place.
      return cursor === undefined && matches(host, filters) ? [...list, host].sort(byHostname) : list;
    });
    recount();
  });

  const setFilters = (next: HostFilters) => navigate(hostsHref(next));
  const toggle = (health: HostHealth) =>
    setFilters({
      ...filters,
      health: filters.health.includes(health)
        ? filters.health.filter((h) => h !== health)
        : [...filters.health, health],
    });

  return (
    <div className="page">
      <div className="page-head">
        <h1>Hosts</h1>
        <span className="muted" data-testid="host-count">
          {fleet === undefined ? "" : `${fleet.total.toLocaleString()} enrolled`}
        </span>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Host filters">
        <input
          key={filters.q}
          type="search"
          placeholder="Hostname"
          aria-label="Search hosts"
          defaultValue={filters.q}
          onKeyDown={(e) => {
            if (e.key === "Enter") setFilters({ ...filters, q: e.currentTarget.value.trim() });
          }}
          onBlur={(e) => {
            if (e.currentTarget.value.trim() !== filters.q) setFilters({ ...filters, q: e.currentTarget.value.trim() });
          }}
        />
        <fieldset className="chips" aria-label="Health">
          {HOST_HEALTHS.map((health) => (
            <label key={health} className={`chip health-${health}`}>
              <input type="checkbox" checked={filters.health.includes(health)} onChange={() => toggle(health)} />
              {health} {fleet === undefined ? "" : fleet.byHealth[health].toLocaleString()}
            </label>
          ))}
        </fieldset>
      </form>
      {error !== undefined ? <ErrorNote error={error} /> : null}
      {rows === undefined ? error === undefined ? <Loading what="hosts" /> : null : <HostTable rows={rows} />}
      {rows !== undefined && rows.length === 0 ? (
        <p className="empty">{fleet?.total === 0 ? "No agent has enrolled yet." : "No host matches this filter."}</p>
      ) : null}
      {cursor !== undefined ? (
        <button type="button" onClick={loadMore} disabled={busy}>
          {busy ? "Loading…" : `Show ${PAGE} more`}
        </button>
      ) : null}
    </div>
  );
}

function HostTable({ rows }: { rows: readonly Host[] }) {
  return (
    <table className="table" aria-label="Hosts">
      <thead>
        <tr>
          <th>Host</th>
          <th>Health</th>
          <th>Sensors</th>
          <th>Queue</th>
          <th>Dropped</th>
          <th>Agent</th>
          <th>Content</th>
          <th>Open alerts</th>
          <th>Last seen</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((host) => {
          const degraded = degradedSensors(host);
          const sensors = Object.keys(host.sensors).length;
          return (
            <tr key={host.id} className="clickable" onClick={() => navigate(href("hosts", host.id))}>
              <td>
                <a href={href("hosts", host.id)}>{host.hostname}</a>
                <div className="muted small">
                  {host.os} {host.osVersion ?? ""}
                </div>
              </td>
              <td>
                <span className={`badge health-${host.health}`}>{host.health}</span>
              </td>
              <td title={degraded.join(", ")}>
                {sensors - degraded.length}/{sensors} running
              </td>
              <td>{host.queueDepth.toLocaleString()}</td>
              <td className={totalDropped(host) > 0 ? "warn" : undefined}>{totalDropped(host).toLocaleString()}</td>
              <td>{host.agentVersion}</td>
              <td>{host.contentVersion ?? "—"}</td>
              <td>
                {host.openAlerts > 0 ? (
                  <a href={`${href("alerts")}?hostId=${encodeURIComponent(host.id)}&status=new&status=in_progress`}>
                    {host.openAlerts}
                  </a>
                ) : (
                  0
                )}
              </td>
              <td>{formatAge(host.lastSeen)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
