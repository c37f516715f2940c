import { useEffect, useRef, useState } from "react";
import type { RouteResponse } from "@ring3/protocol";
import { formatTime } from "../format.ts";
import { href } from "../router.ts";
import { EventFields, eventKind, eventSummary } from "./event-view.tsx";
import { LevelBadge } from "./ui.tsx";

type TimelineItem = RouteResponse<"hostTimeline">["items"][number];

/**
 * A host's events and alerts in time order; the item that brought the analyst here (an alert's event, a
 * search result) is marked and scrolled into view. Events unfold into their fields.
 */
export function Timeline(props: { items: readonly TimelineItem[]; highlightEventId?: string | undefined }) {
  const [open, setOpen] = useState<ReadonlySet<string>>(
    () => new Set(props.highlightEventId !== undefined ? [props.highlightEventId] : []),
  );
  const listRef = useRef<HTMLOListElement>(null);
  const markRef = useRef<HTMLLIElement>(null);
  // Scrolls the list alone (scrollIntoView would also scroll the page around it) to centre the marked item;
  // the list is `position: relative`, so the item's offsetTop is within it.
  useEffect(() => {
    const list = listRef.current;
    const mark = markRef.current;
    if (list === null || mark === null) return;
    list.scrollTop = mark.offsetTop - list.clientHeight / 2 + mark.clientHeight / 2;
  }, [props.highlightEventId, props.items.length]);

  if (props.items.length === 0) return <p className="empty">Nothing recorded in this window.</p>;
  // The API answers newest first; a timeline reads oldest first.
  const items = [...props.items].reverse();
  return (
    <ol className="timeline" data-testid="timeline" ref={listRef}>
      {items.map((item) => {
        if (item.kind === "alert") {
          const alert = item.alert;
          return (
            <li key={`a:${alert.id}`} className="tl-alert">
              <time>{formatTime(alert.time)}</time>
              <LevelBadge level={alert.level} />
              <a href={href("alerts", alert.id)}>{alert.title}</a>
            </li>
          );
        }
        const event = item.event;
        const marked = event.id === props.highlightEventId;
        const expanded = open.has(event.id);
        return (
          <li
            key={`e:${event.id}`}
            ref={marked ? markRef : undefined}
            className={marked ? "tl-event marked" : "tl-event"}
            data-event-id={event.id}
          >
            <button
              type="button"
              className="tl-toggle"
              aria-expanded={expanded}
              onClick={() =>
                setOpen((current) => {
                  const next = new Set(current);
                  if (next.has(event.id)) next.delete(event.id);
                  else next.add(event.id);
                  return next;
                })
              }
            >
              <time>{formatTime(event.time)}</time>
              <span className="tl-kind">{eventKind(event)}</span>
              <span className="tl-summary">{eventSummary(event)}</span>
            </button>
            {expanded ? <EventFields event={event} /> : null}
          </li>
        );
      })}
    </ol>
  );
}
