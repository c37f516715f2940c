import { useCallback, useEffect, useMemo, useState } from "react";
import { ALERT_LEVELS, ALERT_STATUSES } from "@ring3/protocol";
import type { Alert, AlertLevel, AlertQuery, AlertStatus, AlertUpdate } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { AlertTable, type Sort, type SortKey } from "../components/alert-table.tsx";
import { ErrorNote } from "../components/ui.tsx";
import { STATUS_LABELS } from "../format.ts";
import { useRoute } from "../router.ts";
import { useCan, useLive, useSession } from "../session.ts";

type Filters = {
  status: AlertStatus[];
  level: AlertLevel[];
  q: string;
  hostId: string;
  ruleId: string;
  technique: string;
};

/** The table holds at most this many alerts (10 pages of the API's maximum); a filter narrows the rest. */
const MAX_ROWS = 10_000;
const PAGE = 1000;

function filtersFrom(query: URLSearchParams): Filters {
  return {
    status: query.getAll("status").filter((s): s is AlertStatus => (ALERT_STATUSES as readonly string[]).includes(s)),
    level: query.getAll("level").filter((l): l is AlertLevel => (ALERT_LEVELS as readonly string[]).includes(l)),
    q: query.get("q") ?? "",
    hostId: query.get("hostId") ?? "",
    ruleId: query.get("ruleId") ?? "",
    technique: query.get("technique") ?? "",
  };
}

/** The server's filter, applied to a live alert so the table only gains rows its filter would return. */
function matches(alert: Alert, f: Filters): boolean {
  if (f.status.length > 0 && !f.status.includes(alert.status)) return false;
  if (f.level.length > 0 && !f.level.includes(alert.level)) return false;
  if (f.hostId !== "" && alert.hostId !== f.hostId) return false;
  if (f.ruleId !== "" && alert.ruleId !== f.ruleId) return false;
  if (f.technique !== "" && !alert.techniques.some((t) => t.toUpperCase().startsWith(f.technique.toUpperCase()))) {
    return false;
  }
  const q = f.q.toLowerCase();
  return q === "" || [alert.title, alert.ruleId, alert.hostname].some((s) => s.toLowerCase().includes(q));
}

function toggle<T>(list: readonly T[], item: T): T[] {
  return list.includes(item) ? list.filter((x) => x !== item) : [...list, item];
}

export default function AlertsPage() {
  const route = useRoute();
  const { user } = useSession();
  const canTriage = useCan("analyst");
  const [filters, setFilters] = useState<Filters>(() => filtersFrom(route.query));
  const [sort, setSort] = useState<Sort>({ key: "lastSeen", order: "desc" });
  const [rows, setRows] = useState<Alert[]>([]);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(undefined);
  const [cursor, setCursor] = useState(0);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [generation, setGeneration] = useState(0);

  const query = useMemo((): AlertQuery => {
    const q: AlertQuery = { sort: sort.key, order: sort.order, limit: PAGE };
    if (filters.status.length > 0) q.status = filters.status;
    if (filters.level.length > 0) q.level = filters.level;
    if (filters.q !== "") q.q = filters.q;
    if (filters.hostId !== "") q.hostId = filters.hostId;
    if (filters.ruleId !== "") q.ruleId = filters.ruleId;
    if (filters.technique !== "") q.technique = filters.technique;
    return q;
  }, [filters, sort]);

  // Pages of 1000 until the cap: 10,000 rows arrive in a few requests and the table renders ~30 of them.
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(undefined);
    void (async () => {
      const all: Alert[] = [];
      let next: string | undefined = undefined;
      try {
        do {
          const page: { items: Alert[]; nextCursor?: string } = await call(
            "listAlerts",
            { query: next === undefined ? query : { ...query, cursor: next } },
            { signal: controller.signal },
          );
          all.push(...page.items);
          next = page.nextCursor;
          setRows([...all]);
        } while (next !== undefined && all.length < MAX_ROWS);
        setMore(next !== undefined);
      } catch (cause) {
        if (!controller.signal.aborted) setError(cause);
      }
      if (!controller.signal.aborted) setLoading(false);
    })();
    return () => controller.abort();
  }, [query, generation]);

  useEffect(() => {
    setCursor(0);
    setSelected(new Set());
  }, [query]);

  useLive((message) => {
    if (message.type !== "alert") return;
    const alert = message.alert;
    const known = rows.some((a) => a.id === alert.id);
    const wanted = matches(alert, filters);
    if (!known && !wanted) return;
    // Newest first is the default order; under another order a new row's place is the server's to say.
    if (!known && !(sort.key === "lastSeen" && sort.order === "desc")) {
      setNotice("New alerts arrived — reload to place them in this order.");
      return;
    }
    setRows((current) => {
      const rest = current.filter((a) => a.id !== alert.id);
      if (!wanted) return rest;
      const index = current.findIndex((a) => a.id === alert.id);
      return index < 0 ? [alert, ...current] : current.map((a) => (a.id === alert.id ? alert : a));
    });
    if (wanted) setFresh((current) => new Set(current).add(alert.id));
  });

  const toggleOne = useCallback((id: string) => setSelected((current) => new Set(toggle([...current], id))), []);

  const bulk = (update: AlertUpdate) => {
    const ids = [...selected];
    if (ids.length === 0) return;
    call("bulkUpdateAlerts", { body: { ids, update } }).then(
      (result) => {
        setNotice(`${result.updated} alert${result.updated === 1 ? "" : "s"} updated.`);
        const chosen = new Set(ids);
        setRows((current) =>
          current
            .map((a) =>
              chosen.has(a.id)
                ? {
                    ...a,
                    ...(update.status !== undefined ? { status: update.status } : {}),
                    ...(update.assignee !== undefined ? { assignee: update.assignee ?? undefined } : {}),
                  }
                : a,
            )
            .filter((a) => matches(a, filters)),
        );
        setSelected(new Set());
      },
      (cause: unknown) => setError(cause),
    );
  };

  const onSort = useCallback(
    (key: SortKey) => setSort((s) => ({ key, order: s.key === key && s.order === "desc" ? "asc" : "desc" })),
    [],
  );
  const toggleAll = useCallback(
    () => setSelected((current) => (current.size === rows.length ? new Set() : new Set(rows.map((a) => a.id)))),
    [rows],
  );

  return (
    <div className="page alerts-page">
      <div className="page-head">
        <h1>Alerts</h1>
        <span className="muted" data-testid="alert-count">
          {rows.length.toLocaleString()}
          {more ? "+" : ""} alert{rows.length === 1 ? "" : "s"}
          {loading ? " (loading…)" : ""}
        </span>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Alert filters">
        <input
          type="search"
          placeholder="Title, rule id or host"
          aria-label="Search alerts"
          defaultValue={filters.q}
          onKeyDown={(e) => {
            if (e.key === "Enter") setFilters((f) => ({ ...f, q: e.currentTarget.value.trim() }));
          }}
          onBlur={(e) => setFilters((f) => ({ ...f, q: e.currentTarget.value.trim() }))}
        />
        <input
          placeholder="Technique (T1059)"
          aria-label="Technique"
          defaultValue={filters.technique}
          size={14}
          onBlur={(e) => setFilters((f) => ({ ...f, technique: e.currentTarget.value.trim() }))}
        />
        <fieldset className="chips" aria-label="Level">
          {ALERT_LEVELS.map((level) => (
            <label key={level} className={`chip level-${level}`}>
              <input
                type="checkbox"
                checked={filters.level.includes(level)}
                onChange={() => setFilters((f) => ({ ...f, level: toggle(f.level, level) }))}
              />
              {level}
            </label>
          ))}
        </fieldset>
        <fieldset className="chips" aria-label="Status">
          {ALERT_STATUSES.map((status) => (
            <label key={status} className="chip">
              <input
                type="checkbox"
                checked={filters.status.includes(status)}
                onChange={() => setFilters((f) => ({ ...f, status: toggle(f.status, status) }))}
              />
              {STATUS_LABELS[status]}
            </label>
          ))}
        </fieldset>
        {filters.hostId !== "" || filters.ruleId !== "" ? (
          <button type="button" onClick={() => setFilters((f) => ({ ...f, hostId: "", ruleId: "" }))}>
            Clear {filters.hostId !== "" ? `host ${filters.hostId}` : `rule ${filters.ruleId}`}
          </button>
        ) : null}
      </form>

      {canTriage ? (
        <div className="toolbar" role="toolbar" aria-label="Bulk triage">
          <span>{selected.size} selected</span>
          <button type="button" disabled={selected.size === 0} onClick={() => bulk({ status: "in_progress" })}>
            Mark in progress
          </button>
          <button type="button" disabled={selected.size === 0} onClick={() => bulk({ status: "resolved" })}>
            Resolve
          </button>
          <button type="button" disabled={selected.size === 0} onClick={() => bulk({ status: "false_positive" })}>
            False positive
          </button>
          <button type="button" disabled={selected.size === 0} onClick={() => bulk({ assignee: user.username })}>
            Assign to me
          </button>
          <span className="muted keys">j/k or ↑/↓ move · Enter opens · x selects</span>
        </div>
      ) : (
        <div className="toolbar">
          <span className="muted keys">j/k or ↑/↓ move · Enter opens</span>
        </div>
      )}
      {notice !== undefined ? (
        <p className="notice" role="status">
          {notice}{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setNotice(undefined);
              setGeneration((g) => g + 1);
            }}
          >
            Reload
          </button>
        </p>
      ) : null}
      <ErrorNote error={error} />

      <AlertTable
        rows={rows}
        loading={loading}
        cursor={cursor}
        selected={selected}
        fresh={fresh}
        canTriage={canTriage}
        sort={sort}
        onCursor={setCursor}
        onToggle={toggleOne}
        onToggleAll={toggleAll}
        onSort={onSort}
      />
      {more ? (
        <p className="muted">Showing the first {MAX_ROWS.toLocaleString()}; narrow the filter for the rest.</p>
      ) : null}
    </div>
  );
}
