import { useMemo, useState } from "react";
import { useApi } from "../api/use-api.ts";
import { Timeline } from "../components/timeline.tsx";
import { ErrorNote, Loading } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { href, navigate } from "../router.ts";

const SPANS = [5, 15, 60, 360] as const;

/** A host's timeline around a moment (a search result, an alert), or its latest activity without one. */
export default function TimelinePage({
  hostId,
  at,
  eventId,
}: {
  hostId: string;
  at?: string | undefined;
  eventId?: string | undefined;
}) {
  const [span, setSpan] = useState<number>(15);
  const host = useApi("getHost", { params: { id: hostId } });
  const input = useMemo(() => {
    const center = at !== undefined ? new Date(at).getTime() : NaN;
    if (Number.isNaN(center)) return { params: { id: hostId }, query: { limit: 500 } };
    return {
      params: { id: hostId },
      query: {
        from: new Date(center - span * 60_000).toISOString(),
        to: new Date(center + span * 60_000).toISOString(),
        limit: 500,
      },
    };
  }, [hostId, at, span]);
  const timeline = useApi("hostTimeline", input);

  return (
    <div className="page">
      <div className="page-head">
        <h1>Timeline</h1>
        <a href={href("hosts", hostId)}>{host.data?.hostname ?? hostId}</a>
        {at !== undefined ? (
          <span className="muted">around {formatTime(at)}</span>
        ) : (
          <span className="muted">latest</span>
        )}
        <span className="spacer" />
        {at !== undefined
          ? SPANS.map((minutes) => (
              <button
                key={minutes}
                type="button"
                className={span === minutes ? "active" : undefined}
                onClick={() => setSpan(minutes)}
              >
                ±{minutes < 60 ? `${minutes} min` : `${minutes / 60} h`}
              </button>
            ))
          : null}
        {at !== undefined ? (
          <button type="button" onClick={() => navigate(href("hosts", hostId, "timeline"))}>
            Latest
          </button>
        ) : null}
      </div>
      <ErrorNote error={timeline.error} />
      {timeline.data !== undefined ? (
        <Timeline items={timeline.data.items} highlightEventId={eventId} />
      ) : (
        <Loading what="timeline" />
      )}
    </div>
  );
}
