import type { Host } from "@ring3/protocol";
import { useApi } from "../api/use-api.ts";
import { ErrorNote, Loading } from "../components/ui.tsx";
import { formatAge } from "../format.ts";
import { degradedSensors, hostHealth, totalDropped } from "../host-health.ts";
import { href, navigate } from "../router.ts";
import { useLive } from "../session.ts";

export default function HostsPage() {
  const hosts = useApi("listHosts", {});

  useLive((message) => {
    if (message.type !== "host") return;
    const host = message.host;
    hosts.setData((list) => {
      if (list === undefined) return list;
      const known = list.some((h) => h.id === host.id);
      return known ? list.map((h) => (h.id === host.id ? host : h)) : [...list, host];
    });
  });

  if (hosts.data === undefined)
    return hosts.error !== undefined ? <ErrorNote error={hosts.error} /> : <Loading what="hosts" />;
  const list: Host[] = [...hosts.data].sort((a, b) => a.hostname.localeCompare(b.hostname));
  return (
    <div className="page">
      <div className="page-head">
        <h1>Hosts</h1>
        <span className="muted">{list.length} enrolled</span>
      </div>
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
          {list.map((host) => {
            const health = hostHealth(host);
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
                  <span className={`badge health-${health}`}>{health}</span>
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
      {list.length === 0 ? <p className="empty">No agent has enrolled yet.</p> : null}
    </div>
  );
}
