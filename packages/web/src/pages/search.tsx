import { useState, type FormEvent } from "react";
import { FIELD_OPS } from "@ring3/protocol";
import type { EventSearch, FieldFilter, StoredEvent } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { HostPicker } from "../components/host-picker.tsx";
import { eventKind, eventSummary } from "../components/event-view.tsx";
import { ErrorNote } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { href, navigate, withQuery } from "../router.ts";

type Op = FieldFilter["op"];
type FilterRow = { key: number; field: string; op: Op; value: string };

const RANGES = [
  { label: "15 minutes", minutes: 15 },
  { label: "1 hour", minutes: 60 },
  { label: "24 hours", minutes: 24 * 60 },
  { label: "7 days", minutes: 7 * 24 * 60 },
  { label: "30 days", minutes: 30 * 24 * 60 },
] as const;

/** `<input type="datetime-local">` speaks local time without a zone; the API speaks UTC. */
function localToIso(value: string): string | undefined {
  if (value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

let nextKey = 1;
const emptyRow = (): FilterRow => ({ key: nextKey++, field: "", op: "contains", value: "" });

export default function SearchPage() {
  const [range, setRange] = useState<number | "custom">(24 * 60);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [hostId, setHostId] = useState("");
  const [category, setCategory] = useState("");
  const [rows, setRows] = useState<FilterRow[]>(() => [emptyRow()]);
  const [results, setResults] = useState<StoredEvent[] | undefined>(undefined);
  const [query, setQuery] = useState<EventSearch | undefined>(undefined);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  const run = (search: EventSearch, append: boolean) => {
    setBusy(true);
    setError(undefined);
    call("searchEvents", { body: search }).then(
      (page) => {
        setResults((current) => (append && current !== undefined ? [...current, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setBusy(false);
      },
      (cause: unknown) => {
        setError(cause);
        setBusy(false);
      },
    );
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const search: EventSearch = { limit: 200 };
    if (range === "custom") {
      const f = localToIso(from);
      const t = localToIso(to);
      if (f !== undefined) search.from = f;
      if (t !== undefined) search.to = t;
    } else {
      search.from = new Date(Date.now() - range * 60_000).toISOString();
    }
    if (hostId !== "") search.hostId = hostId;
    if (category.trim() !== "") search.logsource = { category: category.trim() };
    const filters: FieldFilter[] = rows
      .filter((row) => row.field.trim() !== "")
      .map((row) =>
        row.op === "exists"
          ? { field: row.field.trim(), op: row.op }
          : { field: row.field.trim(), op: row.op, value: row.value },
      );
    if (filters.length > 0) search.filters = filters;
    setQuery(search);
    run(search, false);
  };

  const setRow = (key: number, change: Partial<FilterRow>) =>
    setRows((current) => current.map((row) => (row.key === key ? { ...row, ...change } : row)));

  const open = (event: StoredEvent) =>
    navigate(withQuery(href("hosts", event.hostId, "timeline"), { at: event.time, event: event.id }));

  return (
    <div className="page">
      <div className="page-head">
        <h1>Search events</h1>
      </div>
      <form className="search-form card" onSubmit={submit} aria-label="Event search">
        <div className="search-line">
          <label>
            Time range
            <select
              value={String(range)}
              onChange={(e) => setRange(e.target.value === "custom" ? "custom" : Number(e.target.value))}
            >
              {RANGES.map((r) => (
                <option key={r.minutes} value={r.minutes}>
                  last {r.label}
                </option>
              ))}
              <option value="custom">custom…</option>
            </select>
          </label>
          {range === "custom" ? (
            <>
              <label>
                From
                <input type="datetime-local" step={1} value={from} onChange={(e) => setFrom(e.target.value)} />
              </label>
              <label>
                To
                <input type="datetime-local" step={1} value={to} onChange={(e) => setTo(e.target.value)} />
              </label>
            </>
          ) : null}
          <HostPicker value={hostId} onChange={setHostId} />
          <label>
            Category
            <input
              placeholder="process_creation"
              value={category}
              onChange={(e) => setCategory(e.target.value)}
              list="categories"
            />
            <datalist id="categories">
              {["process_creation", "file_event", "network_connection", "file_delete", "dns_query"].map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          </label>
        </div>
        {rows.map((row) => (
          <div key={row.key} className="filter-row">
            <input
              aria-label="Field"
              placeholder="Field (Image, CommandLine, User…)"
              value={row.field}
              onChange={(e) => setRow(row.key, { field: e.target.value })}
            />
            <select
              aria-label="Operator"
              value={row.op}
              onChange={(e) => setRow(row.key, { op: e.target.value as Op })}
            >
              {FIELD_OPS.map((op) => (
                <option key={op} value={op}>
                  {op}
                </option>
              ))}
            </select>
            <input
              aria-label="Value"
              placeholder="value"
              value={row.value}
              disabled={row.op === "exists"}
              onChange={(e) => setRow(row.key, { value: e.target.value })}
            />
            <button
              type="button"
              aria-label="Remove filter"
              onClick={() =>
                setRows((current) => (current.length > 1 ? current.filter((r) => r.key !== row.key) : [emptyRow()]))
              }
            >
              −
            </button>
          </div>
        ))}
        <div className="search-line">
          <button
            type="button"
            onClick={() => setRows((current) => [...current, emptyRow()])}
            disabled={rows.length >= 32}
          >
            + Filter
          </button>
          <span className="spacer" />
          <button type="submit" className="primary" disabled={busy}>
            Search
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {results !== undefined ? (
        <>
          <p className="muted" data-testid="result-count">
            {results.length} event{results.length === 1 ? "" : "s"}
            {cursor !== undefined ? " (more available)" : ""} — newest first; a row opens the host's timeline there.
          </p>
          <table className="table" aria-label="Search results">
            <thead>
              <tr>
                <th>Time</th>
                <th>Host</th>
                <th>Category</th>
                <th>Summary</th>
              </tr>
            </thead>
            <tbody>
              {results.map((event) => (
                <tr
                  key={`${event.hostId}:${event.id}`}
                  className="clickable"
                  tabIndex={0}
                  onClick={() => open(event)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter") open(event);
                  }}
                >
                  <td className="nowrap">{formatTime(event.time)}</td>
                  <td>{event.host}</td>
                  <td>{eventKind(event)}</td>
                  <td className="summary">
                    <code>{eventSummary(event)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor !== undefined && query !== undefined ? (
            <button type="button" disabled={busy} onClick={() => run({ ...query, cursor }, true)}>
              Load more
            </button>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
