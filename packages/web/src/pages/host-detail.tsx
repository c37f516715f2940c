import { useEffect, useState } from "react";
import { useApi } from "../api/use-api.ts";
import { ProcessList } from "../components/process-list.tsx";
import { ResponseActions } from "../components/response-actions.tsx";
import { Timeline } from "../components/timeline.tsx";
import { Card, ErrorNote, Facts, Loading } from "../components/ui.tsx";
import { formatAge, formatTime } from "../format.ts";
import { href } from "../router.ts";
import { useCan, useLive } from "../session.ts";

/** The live process tree refreshes this often while the page is open (and on every heartbeat pushed live). */
const TREE_REFRESH_MS = 5000;

export default function HostDetailPage({ id }: { id: string }) {
  const canRespond = useCan("analyst");
  const host = useApi("getHost", { params: { id } });
  const recent = useApi("hostTimeline", { params: { id }, query: { limit: 50 } });
  const tree = useApi("processTree", { params: { id } });
  const [showExited, setShowExited] = useState(false);
  const reloadTree = tree.reload;

  useEffect(() => {
    const timer = setInterval(reloadTree, TREE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloadTree]);

  useLive((message) => {
    if (message.type === "host" && message.host.id === id) {
      const update = message.host;
      host.setData(() => update);
      recent.reload();
    }
    if (message.type === "alert" && message.alert.hostId === id) recent.reload();
  });

  if (host.data === undefined)
    return host.error !== undefined ? <ErrorNote error={host.error} /> : <Loading what="host" />;
  const h = host.data;
  const nodes = (tree.data?.nodes ?? []).filter((n) => showExited || n.endTime === undefined);

  return (
    <div className="page host-detail">
      <div className="page-head">
        <h1>{h.hostname}</h1>
        <span className={`badge health-${h.health}`}>{h.health}</span>
        {h.isolated ? <span className="badge health-isolated">network isolated</span> : null}
      </div>
      <Facts
        items={[
          ["OS", `${h.os} ${h.osVersion ?? ""}`],
          ["Agent", h.agentVersion],
          ["Content version", h.contentVersion ?? "—"],
          ["Enrolled", formatTime(h.enrolledAt)],
          ["Last heartbeat", `${formatAge(h.lastSeen)} (${formatTime(h.lastSeen)})`],
          ["Queue depth", h.queueDepth.toLocaleString()],
          [
            "Open alerts",
            <a key="a" href={`${href("alerts")}?hostId=${encodeURIComponent(h.id)}`}>
              {h.openAlerts}
            </a>,
          ],
          ["Machine id", <code key="m">{h.machineId}</code>],
        ]}
      />
      <div className="grid-2">
        <Card title="Sensors">
          <table className="table compact" aria-label="Sensors">
            <thead>
              <tr>
                <th>Sensor</th>
                <th>State</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(h.sensors).map(([name, sensor]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>
                    <span className={`badge sensor-${sensor.state}`}>{sensor.state}</span>
                  </td>
                  <td className="small">{[sensor.reason, sensor.detail].filter(Boolean).join(" — ") || "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
        <Card title="Dropped events">
          {Object.keys(h.dropped).length === 0 ? (
            <p className="muted">No losses reported.</p>
          ) : (
            <table className="table compact" aria-label="Dropped events">
              <tbody>
                {Object.entries(h.dropped).map(([cause, count]) => (
                  <tr key={cause}>
                    <th scope="row">{cause}</th>
                    <td className={count > 0 ? "warn" : undefined}>{count.toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {canRespond ? (
            <>
              <h3>Isolation</h3>
              <p className="muted">
                {h.isolated ? "The host is isolated from the network." : "The host is not isolated."}
              </p>
              <ResponseActions hostId={h.id} isolated={h.isolated} />
            </>
          ) : null}
        </Card>
      </div>
      <div className="grid-2">
        <Card
          title="Live process tree"
          actions={
            <label className="small">
              <input type="checkbox" checked={showExited} onChange={(e) => setShowExited(e.target.checked)} /> exited
              too
            </label>
          }
        >
          {tree.data !== undefined ? (
            <ProcessList
              nodes={nodes}
              empty={
                tree.data.nodes.length > nodes.length
                  ? `No recorded process is still running; ${tree.data.nodes.length - nodes.length} exited (tick "exited too").`
                  : undefined
              }
            />
          ) : (
            <ErrorNote error={tree.error} />
          )}
        </Card>
        <Card title="Recent events" actions={<a href={href("hosts", h.id, "timeline")}>Timeline</a>}>
          {recent.data !== undefined ? <Timeline items={recent.data.items} /> : <ErrorNote error={recent.error} />}
        </Card>
      </div>
    </div>
  );
}
