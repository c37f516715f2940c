import { useState } from "react";
import type { AuditEntry } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { useApi } from "../api/use-api.ts";
import { ErrorNote, Loading } from "../components/ui.tsx";
import { formatTime } from "../format.ts";

export default function AuditPage() {
  const first = useApi("auditLog", { query: { limit: 200 } });
  const [more, setMore] = useState<{ items: AuditEntry[]; cursor: string | undefined } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  if (first.data === undefined)
    return first.error !== undefined ? <ErrorNote error={first.error} /> : <Loading what="audit log" />;
  const items = [...first.data.items, ...(more?.items ?? [])];
  const cursor = more !== undefined ? more.cursor : first.data.nextCursor;
  const loadMore = () => {
    if (cursor === undefined) return;
    call("auditLog", { query: { limit: 200, cursor } }).then(
      (page) => setMore({ items: [...(more?.items ?? []), ...page.items], cursor: page.nextCursor }),
      (cause: unknown) => setError(cause),
    );
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Audit log</h1>
        <span className="muted">every change and every response command, newest first</span>
      </div>
      <table className="table" aria-label="Audit log">
        <thead>
          <tr>
            <th>Time</th>
            <th>Actor</th>
            <th>Action</th>
            <th>Target</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {items.map((entry) => (
            <tr key={entry.id}>
              <td className="nowrap">{formatTime(entry.time)}</td>
              <td>{entry.actor}</td>
              <td className="nowrap">
                <code>{entry.action}</code>
              </td>
              <td className="small">{entry.target ?? "—"}</td>
              <td className="small">
                <code>{entry.details === undefined ? "" : JSON.stringify(entry.details)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorNote error={error} />
      {cursor !== undefined ? (
        <button type="button" onClick={loadMore}>
          Load more
        </button>
      ) : null}
    </div>
  );
}
