import { useMemo, useState } from "react";
import { HOST_HEALTHS } from "@ring3/protocol";
import type { HostHealth, Overview } from "@ring3/protocol";
import { useApi } from "../api/use-api.ts";
import { Chart, type ChartOption } from "../components/chart.tsx";
import { Card, ErrorNote, Loading } from "../components/ui.tsx";
import { LEVEL_COLORS, LEVELS_DESC } from "../format.ts";
import { HOST_COUNTS_REFRESH_MS, hostsHref } from "../host-health.ts";
import { href } from "../router.ts";
import { useLive } from "../session.ts";
import { useCoalesced } from "../use-coalesced.ts";

const RANGES = [
  { label: "24 h", hours: 24 },
  { label: "7 days", hours: 24 * 7 },
  { label: "30 days", hours: 24 * 30 },
] as const;
const HOUR = 3_600_000;

function hourStart(ms: number): number {
  return Math.floor(ms / HOUR) * HOUR;
}

/** Hourly buckets over the whole range (empty hours included, so gaps show as gaps), stacked by level. */
function seriesOption(overview: Overview): ChartOption {
  const from = hourStart(new Date(overview.from).getTime());
  const to = hourStart(new Date(overview.to).getTime());
  const buckets: number[] = [];
  for (let t = from; t <= to; t += HOUR) buckets.push(t);
  const index = new Map(buckets.map((t, i) => [t, i]));
  const counts = new Map(LEVELS_DESC.map((level) => [level as string, buckets.map(() => 0)]));
  for (const point of overview.alerts.series) {
    const i = index.get(hourStart(new Date(point.bucket).getTime()));
    const row = counts.get(point.level);
    if (i !== undefined && row !== undefined) row[i] = (row[i] ?? 0) + point.count;
  }
  const days = buckets.length > 48;
  const label = (t: number) => {
    const d = new Date(t);
    return days
      ? `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, "0")}h`
      : `${String(d.getHours()).padStart(2, "0")}:00`;
  };
  return {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 12, top: 32, bottom: 28 },
    xAxis: { type: "category", data: buckets.map(label) },
    yAxis: { type: "value", minInterval: 1 },
    series: LEVELS_DESC.map((level) => ({
      name: level,
      type: "bar",
      stack: "alerts",
      data: counts.get(level) ?? [],
      itemStyle: { color: LEVEL_COLORS[level] },
      barMaxWidth: 24,
    })),
  };
}

function tacticOption(byTactic: Record<string, number>): ChartOption {
  const entries = Object.entries(byTactic).sort((a, b) => a[1] - b[1]);
  return {
    tooltip: { trigger: "item" },
    grid: { left: 150, right: 24, top: 8, bottom: 24 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: entries.map(([tactic]) => tactic) },
    series: [{ type: "bar", data: entries.map(([, n]) => n), itemStyle: { color: "#7c66dc" }, barMaxWidth: 18 }],
  };
}

function HostHealthTiles({ byHealth }: { byHealth: Readonly<Record<HostHealth, number>> }) {
  return (
    <div className="tiles" data-testid="host-health">
      {HOST_HEALTHS.map((health) => (
        <a key={health} className={`tile health-${health}`} href={hostsHref({ q: "", health: [health] })}>
          <span className="tile-value">{byHealth[health].toLocaleString()}</span>
          <span className="tile-label">{health}</span>
        </a>
      ))}
    </div>
  );
}

export default function OverviewPage() {
  const [hours, setHours] = useState<number>(24);
  // The range is fixed when chosen; live alerts refresh the numbers without moving it.
  const [now, setNow] = useState(() => Date.now());
  const input = useMemo(
    () => ({ query: { from: new Date(now - hours * HOUR).toISOString(), to: new Date(now).toISOString() } }),
    [hours, now],
  );
  const overview = useApi("overview", input);
  const recountHosts = useCoalesced(overview.reload, HOST_COUNTS_REFRESH_MS);
  useLive((message) => {
    if (message.type === "alert") setNow(Date.now());
    if (message.type === "host") recountHosts();
  });

  const series = useMemo(() => (overview.data ? seriesOption(overview.data) : undefined), [overview.data]);
  const tactics = useMemo(
    () => (overview.data ? tacticOption(overview.data.alerts.byTactic) : undefined),
    [overview.data],
  );

  if (overview.data === undefined) {
    return overview.error !== undefined ? <ErrorNote error={overview.error} /> : <Loading what="overview" />;
  }
  const stats = overview.data.alerts;
  const total = Object.values(stats.byLevel).reduce((a, b) => a + b, 0);
  const maxRule = Math.max(1, ...stats.topRules.map((r) => r.count));
  const maxHost = Math.max(1, ...stats.topHosts.map((h) => h.count));

  return (
    <div className="page overview">
      <div className="page-head">
        <h1>Overview</h1>
        <span className="muted">
          {total.toLocaleString()} alert{total === 1 ? "" : "s"}
        </span>
        <span className="spacer" />
        {RANGES.map((range) => (
          <button
            key={range.hours}
            type="button"
            className={hours === range.hours ? "active" : undefined}
            onClick={() => {
              setHours(range.hours);
              setNow(Date.now());
            }}
          >
            {range.label}
          </button>
        ))}
      </div>
      <div className="level-strip">
        {LEVELS_DESC.map((level) => (
          <a key={level} className={`tile level-${level}`} href={`${href("alerts")}?level=${level}`}>
            <span className="tile-value">{(stats.byLevel[level] ?? 0).toLocaleString()}</span>
            <span className="tile-label">{level}</span>
          </a>
        ))}
      </div>
      <Card title="Alerts over time by level">
        {series !== undefined ? <Chart option={series} label="Alerts per hour by level" /> : null}
      </Card>
      <div className="grid-2">
        <Card title="Top rules">
          <ol className="bars">
            {stats.topRules.map((rule) => (
              <li key={rule.ruleId}>
                <a href={`${href("alerts")}?ruleId=${encodeURIComponent(rule.ruleId)}`}>{rule.title}</a>
                <span className="bar" style={{ width: `${(rule.count / maxRule) * 100}%` }} />
                <span className="bar-value">{rule.count}</span>
              </li>
            ))}
          </ol>
          {stats.topRules.length === 0 ? <p className="empty">No alerts in this range.</p> : null}
        </Card>
        <Card title="Top hosts">
          <ol className="bars">
            {stats.topHosts.map((host) => (
              <li key={host.hostId}>
                <a href={href("hosts", host.hostId)}>{host.hostname}</a>
                <span className="bar" style={{ width: `${(host.count / maxHost) * 100}%` }} />
                <span className="bar-value">{host.count}</span>
              </li>
            ))}
          </ol>
          {stats.topHosts.length === 0 ? <p className="empty">No alerts in this range.</p> : null}
        </Card>
      </div>
      <div className="grid-2">
        <Card title="Hosts by health">
          <HostHealthTiles byHealth={overview.data.hosts.byHealth} />
        </Card>
        <Card title="Alerts by ATT&CK tactic">
          {Object.keys(stats.byTactic).length > 0 && tactics !== undefined ? (
            <Chart
              option={tactics}
              label="Alerts by ATT&CK tactic"
              height={Math.max(160, Object.keys(stats.byTactic).length * 26)}
            />
          ) : (
            <p className="empty">No ATT&CK-tagged alerts in this range.</p>
          )}
        </Card>
      </div>
    </div>
  );
}
