import { useMemo, useState } from "react";
import { useApi } from "../api/use-api.ts";
import { buildMatrix, coverageLevel, navigatorLayer, type MatrixCell } from "../attack-matrix.ts";
import { Card, ErrorNote, Loading } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { href } from "../router.ts";

const DAY = 86_400_000;
const RANGES = [7, 30, 90] as const;

function download(name: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  URL.revokeObjectURL(url);
}

function CellDetail({ cell }: { cell: MatrixCell }) {
  const t = cell.technique;
  return (
    <Card title={`${t.id} ${t.name}`}>
      <p>
        {t.url !== undefined ? (
          <a href={t.url} target="_blank" rel="noreferrer noopener">
            ATT&CK page
          </a>
        ) : null}{" "}
        · <a href={`${href("alerts")}?technique=${encodeURIComponent(t.id)}`}>{cell.alerts} alerts</a>
      </p>
      <h3>Enabled rules ({cell.rules.length})</h3>
      {cell.rules.length > 0 ? (
        <ul className="plain">
          {cell.rules.map((rule) => (
            <li key={rule}>{rule}</li>
          ))}
        </ul>
      ) : (
        <p className="muted">No enabled rule covers it.</p>
      )}
      {cell.subtechniques.length > 0 ? (
        <>
          <h3>Sub-techniques</h3>
          <ul className="plain">
            {cell.subtechniques.map((sub) => (
              <li key={sub.technique.id} className={`cov-${coverageLevel(sub.rules.length)}`}>
                {sub.technique.id} {sub.technique.name} — {sub.rules.length} rules, {sub.alerts} alerts
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </Card>
  );
}

export default function AttackPage() {
  const [days, setDays] = useState<number>(30);
  const input = useMemo(() => {
    const now = Date.now();
    return { query: { from: new Date(now - days * DAY).toISOString(), to: new Date(now).toISOString() } };
  }, [days]);
  const coverage = useApi("attackCoverage", input);
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const columns = useMemo(() => (coverage.data ? buildMatrix(coverage.data) : []), [coverage.data]);

  if (coverage.data === undefined) {
    return coverage.error !== undefined ? <ErrorNote error={coverage.error} /> : <Loading what="ATT&CK coverage" />;
  }
  const data = coverage.data;
  const cells = columns.flatMap((c) => c.cells);
  const covered = new Set(cells.filter((c) => c.rules.length > 0).map((c) => c.technique.id)).size;
  const total = new Set(cells.map((c) => c.technique.id)).size;
  const selected = cells.find((c) => c.technique.id === chosen);

  return (
    <div className="page attack-page">
      <div className="page-head">
        <h1>ATT&CK coverage</h1>
        <span className="muted">
          ATT&CK v{data.version} · {covered} of {total} techniques covered by enabled rules · alerts since{" "}
          {formatTime(data.from)}
        </span>
        <span className="spacer" />
        {RANGES.map((d) => (
          <button key={d} type="button" className={days === d ? "active" : undefined} onClick={() => setDays(d)}>
            {d} days
          </button>
        ))}
        <button
          type="button"
          className="primary"
          onClick={() => download("ring3-attack-layer.json", JSON.stringify(navigatorLayer(data), null, 2))}
        >
          Export Navigator layer
        </button>
      </div>
      <div className="legend small">
        <span className="cov-0">no rule</span>
        <span className="cov-1">1 rule</span>
        <span className="cov-2">2–3 rules</span>
        <span className="cov-3">4+ rules</span>
        <span className="alerted">alerts fired</span>
      </div>
      {selected !== undefined ? <CellDetail cell={selected} /> : null}
      <div className="matrix" role="table" aria-label="ATT&CK matrix" data-testid="attack-matrix">
        {columns.map((column) => (
          <div key={column.tactic.id} className="matrix-col" role="rowgroup">
            <div className="matrix-head" role="columnheader" title={column.tactic.id}>
              {column.tactic.name}
              <span className="muted small"> {column.cells.length}</span>
            </div>
            {column.cells.map((cell) => (
              <button
                type="button"
                key={cell.technique.id}
                role="cell"
                className={`matrix-cell cov-${coverageLevel(cell.rules.length)}${cell.alerts > 0 ? " alerted" : ""}${chosen === cell.technique.id ? " chosen" : ""}`}
                title={`${cell.technique.id}: ${cell.rules.length} rules, ${cell.alerts} alerts`}
                data-technique={cell.technique.id}
                onClick={() => setChosen(chosen === cell.technique.id ? undefined : cell.technique.id)}
              >
                <span className="matrix-name">{cell.technique.name}</span>
                {cell.alerts > 0 ? <span className="matrix-alerts">{cell.alerts}</span> : null}
              </button>
            ))}
          </div>
        ))}
      </div>
    </div>
  );
}
