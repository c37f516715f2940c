import { lazy, Suspense, useMemo, useState } from "react";
import { ALERT_STATUSES } from "@ring3/protocol";
import type { AlertStatus, RouteResponse } from "@ring3/protocol";
import { ApiError, call } from "../api/client.ts";
import { useApi } from "../api/use-api.ts";
import { EventFields } from "../components/event-view.tsx";
import { ResponseActions } from "../components/response-actions.tsx";
import { Timeline } from "../components/timeline.tsx";
import { Card, ErrorNote, Facts, LevelBadge, Loading, StatusBadge } from "../components/ui.tsx";
import { fieldText, formatTime, STATUS_LABELS } from "../format.ts";
import { href, withQuery } from "../router.ts";
import { useCan, useLive, useSession } from "../session.ts";

const ProcessGraph = lazy(() => import("../components/process-graph.tsx").then((m) => ({ default: m.ProcessGraph })));

type Explanation = NonNullable<RouteResponse<"getAlert">["alert"]["explanation"]>;
/** Minutes either side of the alert that its timeline shows. */
const WINDOW_MINUTES = 15;

function integerField(fields: Record<string, unknown>, name: string): number | undefined {
  const value = fields[name];
  const number = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
  return Number.isInteger(number) && number > 0 ? number : undefined;
}

function shifted(iso: string, minutes: number): string {
  return new Date(new Date(iso).getTime() + minutes * 60_000).toISOString();
}

/** The engine's `MatchExplanation`: per selection, the field, its modifiers, the rule's patterns and the event's values. */
function ExplanationView({ explanation }: { explanation: Explanation }) {
  return (
    <div className="explanation" data-testid="explanation">
      <p>
        Condition <code>{explanation.condition}</code> held. Selections that matched:
      </p>
      {explanation.selections.map((selection) => (
        <div key={selection.name} className="selection">
          <h3>{selection.name}</h3>
          <table className="fields">
            <thead>
              <tr>
                <th>Field</th>
                <th>Rule pattern</th>
                <th>Event value</th>
              </tr>
            </thead>
            <tbody>
              {selection.fields.map((match, i) => {
                const modifiers = Array.isArray(match["modifiers"])
                  ? (match["modifiers"] as unknown[]).map(String)
                  : [];
                const patterns = Array.isArray(match["patterns"])
                  ? (match["patterns"] as unknown[]).map(fieldText)
                  : [];
                const values = Array.isArray(match["values"]) ? (match["values"] as unknown[]).map(fieldText) : [];
                return (
                  <tr key={i}>
                    <th scope="row">
                      {fieldText(match["field"]) || "(keywords)"}
                      {modifiers.length > 0 ? `|${modifiers.join("|")}` : ""}
                    </th>
                    <td>
                      <code>{patterns.join(" · ")}</code>
                    </td>
                    <td>
                      <code>{values.join(" · ")}</code>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  );
}

function RuleView({ ruleId, author, tags }: { ruleId: string; author?: string | undefined; tags: readonly string[] }) {
  const rule = useApi("getRule", { params: { id: ruleId } });
  const notHere = rule.error instanceof ApiError && rule.error.status === 404;
  return (
    <Card title="Rule">
      <Facts
        items={[
          ["Id", <code key="id">{ruleId}</code>],
          ["Author", rule.data?.author ?? author ?? "—"],
          ["Tags", tags.join(", ") || "—"],
          ...(rule.data?.description !== undefined ? ([["Description", rule.data.description]] as const) : []),
          ...(rule.data !== undefined && rule.data.references.length > 0
            ? ([
                [
                  "References",
                  <ul key="refs" className="plain">
                    {rule.data.references.map((ref) => (
                      <li key={ref}>
                        {/^https?:\/\//.test(ref) ? (
                          <a href={ref} target="_blank" rel="noreferrer noopener">
                            {ref}
                          </a>
                        ) : (
                          ref
                        )}
                      </li>
                    ))}
                  </ul>,
                ],
              ] as const)
            : []),
        ]}
      />
      {rule.data !== undefined ? (
        <details>
          <summary title={rule.data.file}>Rule YAML ({rule.data.file.split("/").pop()})</summary>
          <pre className="yaml">{rule.data.yaml}</pre>
        </details>
      ) : notHere ? (
        <p className="muted">The agent's rule is not among the server's rules, so its source is not shown here.</p>
      ) : (
        <ErrorNote error={rule.error} />
      )}
    </Card>
  );
}

export default function AlertDetailPage({ id }: { id: string }) {
  const { user } = useSession();
  const canTriage = useCan("analyst");
  const detail = useApi("getAlert", { params: { id } });
  const [comment, setComment] = useState("");
  const [error, setError] = useState<unknown>(undefined);

  useLive((message) => {
    if (message.type === "alert" && message.alert.id === id) {
      const alert = message.alert;
      detail.setData((d) => (d === undefined ? d : { ...d, alert }));
    }
  });

  const alert = detail.data?.alert;
  const event = detail.data?.event;
  const pid = event !== undefined ? integerField(event.fields, "ProcessId") : undefined;
  const host = useApi("getHost", alert !== undefined ? { params: { id: alert.hostId } } : undefined);
  const tree = useApi(
    "processTree",
    alert !== undefined && pid !== undefined
      ? { params: { id: alert.hostId }, query: { pid, at: alert.time } }
      : undefined,
  );
  const timelineInput = useMemo(
    () =>
      alert === undefined
        ? undefined
        : {
            params: { id: alert.hostId },
            query: { from: shifted(alert.time, -WINDOW_MINUTES), to: shifted(alert.time, WINDOW_MINUTES), limit: 200 },
          },
    [alert?.hostId, alert?.time],
  );
  const timeline = useApi("hostTimeline", timelineInput);

  if (detail.data === undefined) {
    return detail.error !== undefined ? <ErrorNote error={detail.error} /> : <Loading what="alert" />;
  }
  const a = detail.data.alert;

  const update = (status: AlertStatus | undefined, assignee?: string | null) => {
    setError(undefined);
    const body = {
      ...(status !== undefined ? { status } : {}),
      ...(assignee !== undefined ? { assignee } : {}),
    };
    call("updateAlert", { params: { id }, body }).then(
      (updated) => detail.setData((d) => (d === undefined ? d : { ...d, alert: updated })),
      (cause: unknown) => setError(cause),
    );
  };
  const addComment = () => {
    const text = comment.trim();
    if (text === "") return;
    call("commentAlert", { params: { id }, body: { text } }).then(
      (created) => {
        setComment("");
        detail.setData((d) => (d === undefined ? d : { ...d, comments: [...d.comments, created] }));
      },
      (cause: unknown) => setError(cause),
    );
  };
  const imagePath = event !== undefined ? fieldText(event.fields["TargetFilename"] ?? event.fields["Image"]) : "";

  return (
    <div className="page alert-detail">
      <div className="page-head">
        <LevelBadge level={a.level} />
        <h1>{a.title}</h1>
        <StatusBadge status={a.status} />
      </div>
      <Facts
        items={[
          [
            "Host",
            <a key="h" href={href("hosts", a.hostId)}>
              {a.hostname}
            </a>,
          ],
          ["First seen", formatTime(a.firstSeen)],
          ["Last seen", formatTime(a.lastSeen)],
          ["Count", a.count],
          ["Techniques", a.techniques.join(", ") || "—"],
          ["Tactics", a.tactics.join(", ") || "—"],
          ["Assignee", a.assignee ?? "—"],
        ]}
      />
      {canTriage ? (
        <div className="toolbar" role="toolbar" aria-label="Triage">
          {ALERT_STATUSES.map((status) => (
            <button
              key={status}
              type="button"
              className={a.status === status ? "active" : undefined}
              aria-pressed={a.status === status}
              onClick={() => update(status)}
            >
              {STATUS_LABELS[status]}
            </button>
          ))}
          {a.assignee === user.username ? (
            <button type="button" onClick={() => update(undefined, null)}>
              Unassign
            </button>
          ) : (
            <button type="button" onClick={() => update(undefined, user.username)}>
              Assign to me
            </button>
          )}
        </div>
      ) : null}
      <ErrorNote error={error} />

      <div className="grid-2">
        <Card title="Why it matched">
          {a.explanation !== undefined ? (
            <ExplanationView explanation={a.explanation} />
          ) : (
            <p className="muted">The detector sent no explanation with this alert.</p>
          )}
        </Card>
        <RuleView ruleId={a.ruleId} author={a.author} tags={a.tags} />
      </div>

      {canTriage ? (
        <Card title="Response">
          <ResponseActions
            hostId={a.hostId}
            alertId={a.id}
            pid={pid}
            path={imagePath !== "" ? imagePath : undefined}
            isolated={host.data?.isolated ?? false}
          />
        </Card>
      ) : null}

      <Card title="Process tree">
        {pid === undefined ? (
          a.ancestry !== undefined && a.ancestry.length > 0 ? (
            <ol className="ancestry">
              {a.ancestry.map((p) => (
                <li key={p.pid}>
                  <code>
                    {p.pid} {p.image ?? "?"} {p.commandLine ?? ""}
                  </code>
                </li>
              ))}
            </ol>
          ) : (
            <p className="muted">The event names no process.</p>
          )
        ) : tree.data !== undefined ? (
          <Suspense fallback={<Loading what="graph" />}>
            <ProcessGraph nodes={tree.data.nodes} focusPid={pid} />
          </Suspense>
        ) : (
          <>
            <ErrorNote error={tree.error} />
            {tree.loading ? <Loading what="process tree" /> : null}
          </>
        )}
      </Card>

      <div className="grid-2">
        <Card title="Event">
          {event !== undefined ? (
            <EventFields event={event} />
          ) : (
            <p className="muted">The event is no longer stored.</p>
          )}
        </Card>
        <Card
          title={`Host timeline ±${WINDOW_MINUTES} min`}
          actions={
            <a href={withQuery(href("hosts", a.hostId, "timeline"), { at: a.time, event: a.eventId })}>Open timeline</a>
          }
        >
          {timeline.data !== undefined ? (
            <Timeline items={timeline.data.items} highlightEventId={a.eventId} />
          ) : (
            <ErrorNote error={timeline.error} />
          )}
        </Card>
      </div>

      <Card title="Comments">
        <ul className="comments">
          {detail.data.comments.map((c) => (
            <li key={c.id}>
              <b>{c.author}</b> <span className="muted">{formatTime(c.time)}</span>
              <p>{c.text}</p>
            </li>
          ))}
        </ul>
        {canTriage ? (
          <div className="comment-form">
            <textarea
              aria-label="Comment"
              value={comment}
              onChange={(e) => setComment(e.target.value)}
              rows={2}
              maxLength={8192}
            />
            <button type="button" onClick={addComment} disabled={comment.trim() === ""}>
              Comment
            </button>
          </div>
        ) : null}
      </Card>
    </div>
  );
}
