import { Fragment, useMemo, useState } from "react";
import type { RuleInfo, RuleTestResult } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { useApi } from "../api/use-api.ts";
import { eventSummary } from "../components/event-view.tsx";
import { Card, ErrorNote, Loading } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { href, withQuery } from "../router.ts";

const TEST_HOURS = [1, 6, 24, 72, 168] as const;

function RuleTest({ rule }: { rule: RuleInfo }) {
  const [hours, setHours] = useState<number>(24);
  const [result, setResult] = useState<RuleTestResult | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const run = () => {
    setBusy(true);
    setError(undefined);
    call("testRule", { params: { id: rule.id }, body: { hours } }).then(
      (r) => {
        setResult(r);
        setBusy(false);
      },
      (cause: unknown) => {
        setError(cause);
        setBusy(false);
      },
    );
  };
  return (
    <div className="rule-test">
      <label className="small">
        Test against the last{" "}
        <select value={hours} onChange={(e) => setHours(Number(e.target.value))} aria-label="Hours">
          {TEST_HOURS.map((h) => (
            <option key={h} value={h}>
              {h}
            </option>
          ))}
        </select>{" "}
        hours
      </label>{" "}
      <button type="button" onClick={run} disabled={busy}>
        {busy ? "Testing…" : "Test"}
      </button>
      <ErrorNote error={error} />
      {result !== undefined ? (
        <div className="rule-test-result" role="status">
          <b>{result.matches.toLocaleString()}</b> match{result.matches === 1 ? "" : "es"} in{" "}
          {result.eventsScanned.toLocaleString()} events ({formatTime(result.from)} – {formatTime(result.to)})
          {result.truncated ? " — stopped at the server's cap" : ""}
          <ul className="plain">
            {result.samples.map((event) => (
              <li key={`${event.hostId}:${event.id}`}>
                <a href={withQuery(href("hosts", event.hostId, "timeline"), { at: event.time, event: event.id })}>
                  {formatTime(event.time)} {event.host}
                </a>{" "}
                <code>{eventSummary(event)}</code>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}

export default function RulesPage() {
  const rules = useApi("listRules", {});
  const [filter, setFilter] = useState("");
  const [open, setOpen] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const shown = useMemo(() => {
    const q = filter.trim().toLowerCase();
    const list = rules.data?.rules ?? [];
    return q === ""
      ? list
      : list.filter((r) => [r.id, r.title, r.file, ...r.techniques].some((s) => s.toLowerCase().includes(q)));
  }, [rules.data, filter]);

  if (rules.data === undefined)
    return rules.error !== undefined ? <ErrorNote error={rules.error} /> : <Loading what="rules" />;
  const data = rules.data;
  const enabled = data.rules.filter((r) => r.enabled).length;

  const setEnabled = (rule: RuleInfo, value: boolean) => {
    setError(undefined);
    call("updateRule", { params: { id: rule.id }, body: { enabled: value } }).then(
      (updated) =>
        rules.setData((d) =>
          d === undefined ? d : { ...d, rules: d.rules.map((r) => (r.id === updated.id ? updated : r)) },
        ),
      (cause: unknown) => setError(cause),
    );
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Rules</h1>
        <span className="muted">
          {enabled} of {data.rules.length} enabled · loaded {formatTime(data.loadedAt)} from{" "}
          {data.dirs.join(", ") || "nowhere"}
        </span>
        <span className="spacer" />
        <input
          type="search"
          placeholder="Filter rules"
          aria-label="Filter rules"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      </div>
      <ErrorNote error={error} />
      {data.diagnostics.length > 0 ? (
        <Card title={`Diagnostics (${data.diagnostics.length})`}>
          <table className="table compact" aria-label="Rule diagnostics">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Code</th>
                <th>Where</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {data.diagnostics.map((d, i) => (
                <tr key={i} className={`diag-${d.severity}`}>
                  <td>{d.severity}</td>
                  <td>
                    <code>{d.code}</code>
                  </td>
                  <td className="small">
                    {d.file}:{d.line}:{d.col}
                    {d.rule !== undefined ? ` (${d.rule})` : ""}
                  </td>
                  <td>{d.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      ) : null}
      <table className="table" aria-label="Rules">
        <thead>
          <tr>
            <th>Enabled</th>
            <th>Rule</th>
            <th>Level</th>
            <th>Logsource</th>
            <th>Techniques</th>
            <th>File</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((rule) => (
            <Fragment key={rule.id}>
              <tr data-rule-id={rule.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Enable ${rule.title}`}
                    checked={rule.enabled}
                    onChange={(e) => setEnabled(rule, e.target.checked)}
                  />
                </td>
                <td>
                  <button
                    type="button"
                    className="link"
                    onClick={() => setOpen(open === rule.id ? undefined : rule.id)}
                  >
                    {rule.title}
                  </button>
                  {rule.kind === "correlation" ? <span className="badge">correlation</span> : null}
                  <div className="muted small">
                    {rule.id}
                    {rule.author !== undefined ? ` · ${rule.author}` : ""}
                  </div>
                </td>
                <td>
                  {rule.level !== undefined ? <span className={`badge level-${rule.level}`}>{rule.level}</span> : "—"}
                </td>
                <td className="small">
                  {[rule.logsource?.product, rule.logsource?.category, rule.logsource?.service]
                    .filter(Boolean)
                    .join(" / ")}
                </td>
                <td className="small">{rule.techniques.join(", ")}</td>
                <td className="small" title={rule.file}>
                  {rule.file.split("/").slice(-2).join("/")}
                </td>
              </tr>
              {open === rule.id ? (
                <tr className="expanded">
                  <td />
                  <td colSpan={5}>
                    <RuleTest rule={rule} />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}
