import { memo, useCallback, useEffect, useRef, type KeyboardEvent } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Alert, AlertQuery } from "@ring3/protocol";
import { formatTime } from "../format.ts";
import { href, navigate } from "../router.ts";
import { LevelBadge, StatusBadge } from "./ui.tsx";

export type SortKey = NonNullable<AlertQuery["sort"]>;
export type Sort = { readonly key: SortKey; readonly order: "asc" | "desc" };

const ROW_HEIGHT = 34;

const COLUMNS: readonly { key: string; label: string; sort?: SortKey }[] = [
  { key: "level", label: "Level", sort: "level" },
  { key: "time", label: "Last seen", sort: "lastSeen" },
  { key: "rule", label: "Rule", sort: "rule" },
  { key: "host", label: "Host", sort: "host" },
  { key: "technique", label: "Technique" },
  { key: "status", label: "Status", sort: "status" },
  { key: "count", label: "Count", sort: "count" },
];

type AlertRowProps = {
  alert: Alert;
  index: number;
  start: number;
  isCursor: boolean;
  isSelected: boolean;
  isFresh: boolean;
  canTriage: boolean;
  onCursor: (index: number) => void;
  onToggle: (id: string) => void;
};

/**
 * One row, memoised: while scrolling only the rows entering the window render; the ones already on screen
 * keep their position (absolute, by `start`) and their props.
 */
const AlertRow = memo(function AlertRow(props: AlertRowProps) {
  const { alert, index } = props;
  const classes = ["vrow"];
  if (props.canTriage) classes.push("with-check");
  if (props.isCursor) classes.push("cursor");
  if (props.isSelected) classes.push("selected");
  if (props.isFresh) classes.push("fresh");
  return (
    <div
      role="row"
      aria-rowindex={index + 2}
      aria-selected={props.isSelected}
      className={classes.join(" ")}
      data-alert-id={alert.id}
      style={{ transform: `translateY(${props.start}px)`, height: ROW_HEIGHT }}
      onClick={() => props.onCursor(index)}
      onDoubleClick={() => navigate(href("alerts", alert.id))}
    >
      {props.canTriage ? (
        <span role="gridcell" className="cell-check">
          <input
            type="checkbox"
            aria-label={`Select ${alert.title}`}
            checked={props.isSelected}
            onChange={() => props.onToggle(alert.id)}
          />
        </span>
      ) : null}
      <span role="gridcell" className="cell-level">
        <LevelBadge level={alert.level} />
      </span>
      <span role="gridcell" className="cell-time">
        {formatTime(alert.lastSeen)}
      </span>
      <span role="gridcell" className="cell-rule" title={alert.ruleId}>
        <a href={href("alerts", alert.id)}>{alert.title}</a>
      </span>
      <span role="gridcell" className="cell-host">
        {alert.hostname}
      </span>
      <span role="gridcell" className="cell-technique">
        {alert.techniques.join(", ")}
      </span>
      <span role="gridcell" className="cell-status">
        <StatusBadge status={alert.status} />
      </span>
      <span role="gridcell" className="cell-count">
        {alert.count}
      </span>
    </div>
  );
});

export type AlertTableProps = {
  rows: readonly Alert[];
  loading: boolean;
  cursor: number;
  selected: ReadonlySet<string>;
  fresh: ReadonlySet<string>;
  canTriage: boolean;
  sort: Sort;
  onCursor: (index: number) => void;
  onToggle: (id: string) => void;
  onToggleAll: () => void;
  onSort: (key: SortKey) => void;
};

/**
 * The alerts as a virtualised grid (@tanstack/react-virtual): only the rows in view, plus an overscan, are in
 * the DOM, so 10,000 alerts scroll like 30. It is its own component so that scrolling re-renders the grid
 * alone, not the filters and toolbar around it. Keyboard: j/k or arrows, PageUp/PageDown, Home/End move the
 * cursor, Enter opens, x or Space selects (for those who may triage).
 */
export const AlertTable = memo(function AlertTable(props: AlertTableProps) {
  const { rows, cursor, onCursor, onToggle, canTriage } = props;
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  // The grid takes the keyboard when the page opens: j/k work without a click first.
  useEffect(() => scrollRef.current?.focus({ preventScroll: true }), []);

  const moveTo = useCallback(
    (index: number) => {
      const clamped = Math.max(0, Math.min(rows.length - 1, index));
      onCursor(clamped);
      virtualizer.scrollToIndex(clamped, { align: "auto" });
    },
    [rows.length, virtualizer, onCursor],
  );

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const pageRows = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / ROW_HEIGHT) - 1);
    const row = rows[cursor];
    const moves: Record<string, number> = {
      j: cursor + 1,
      ArrowDown: cursor + 1,
      k: cursor - 1,
      ArrowUp: cursor - 1,
      PageDown: cursor + pageRows,
      PageUp: cursor - pageRows,
      Home: 0,
      End: rows.length - 1,
    };
    const target = moves[event.key];
    if (target !== undefined) moveTo(target);
    else if (event.key === "Enter" && row !== undefined) navigate(href("alerts", row.id));
    else if ((event.key === "x" || event.key === " ") && row !== undefined && canTriage) onToggle(row.id);
    else return;
    event.preventDefault();
  };

  const allSelected = rows.length > 0 && props.selected.size === rows.length;
  return (
    <div className="vtable" role="grid" aria-rowcount={rows.length + 1} aria-label="Alerts">
      <div className={canTriage ? "vrow vhead with-check" : "vrow vhead"} role="row">
        {canTriage ? (
          <span role="columnheader" className="cell-check">
            <input
              type="checkbox"
              aria-label="Select all loaded alerts"
              checked={allSelected}
              onChange={props.onToggleAll}
            />
          </span>
        ) : null}
        {COLUMNS.map((column) => (
          <span
            key={column.key}
            role="columnheader"
            className={`cell-${column.key}`}
            aria-sort={
              column.sort === props.sort.key ? (props.sort.order === "asc" ? "ascending" : "descending") : undefined
            }
          >
            {column.sort !== undefined ? (
              <button type="button" className="sort" onClick={() => props.onSort(column.sort!)}>
                {column.label}
                {column.sort === props.sort.key ? (props.sort.order === "asc" ? " ▲" : " ▼") : ""}
              </button>
            ) : (
              column.label
            )}
          </span>
        ))}
      </div>
      <div className="vbody" ref={scrollRef} tabIndex={0} onKeyDown={onKeyDown} data-testid="alerts-scroll">
        {rows.length === 0 && !props.loading ? <p className="empty">No alerts match.</p> : null}
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const alert = rows[item.index]!;
            return (
              <AlertRow
                key={alert.id}
                alert={alert}
                index={item.index}
                start={item.start}
                isCursor={item.index === cursor}
                isSelected={props.selected.has(alert.id)}
                isFresh={props.fresh.has(alert.id)}
                canTriage={canTriage}
                onCursor={onCursor}
                onToggle={onToggle}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
});
