import type { DatabaseSync } from "node:sqlite";
import type { EventSearch, FieldFilter, StoredEvent, WireEvent } from "@ring3/protocol";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { filterNeedle, fold, textMatches, valueTexts } from "./field-text.ts";
import type { TextOp } from "./field-text.ts";
import { isoTime, requireIsoTime } from "./iso-time.ts";
import { dayOf, PROMOTED_FIELDS, term, termsTable, VALUE_END, VALUE_START } from "./sqlite-event-index.ts";
import type { Row, SqliteConnection } from "./sqlite-connection.ts";
import type { PageResult } from "./store.ts";
import { StoreError } from "./store-error.ts";

/**
 * Event search, newest first, by (time_ms, seq) keyset.
 *
 * Plan: a filter on a promoted field whose values the index narrows to at most `postingsCap` events drives
 * the search through the index's terms (exact, whatever the store's size); the events ingested after the index's
 * watermark are scanned directly and merged in, so a result never depends on how far the indexer got.
 * Otherwise the search walks an events index newest first (the host's, the logsource's or the time index) and
 * tests every filter in SQL; a filter that matches many events finds a page quickly this way, and the walk
 * stops after `scanBudgetRows` rows with a cursor to continue, so no search holds the (single) thread longer
 * than that. A page can then be short, or empty, and still carry `nextCursor`.
 */
export type EventSearchContext = {
  readonly conn: SqliteConnection;
  hostNo(hostId: string): number | undefined;
  host(hostNo: number): { id: string; hostname: string };
  logsource(id: number): WireEvent["logsource"];
  /** The highest seq the index holds, read inside the search's snapshot. */
  indexedSeq(): number;
  readonly scanBudgetRows: number;
  readonly postingsCap: number;
};

export const EVENT_COLUMNS =
  "e.seq, e.host_no, e.event_id, e.time_ms, e.time, e.received_ms, e.logsource_id, e.host, e.fields, e.raw";

type EventRow = {
  seq: number;
  host_no: number;
  event_id: string;
  time_ms: number;
  time: string | null;
  received_ms: number;
  logsource_id: number;
  host: string | null;
  fields: string;
  raw: string | null;
};

export function toStoredEvent(ctx: Pick<EventSearchContext, "host" | "logsource">, row: Row): StoredEvent {
  const r = row as EventRow;
  const host = ctx.host(r.host_no);
  return {
    id: r.event_id,
    time: r.time ?? isoTime(r.time_ms),
    host: r.host ?? host.hostname,
    logsource: ctx.logsource(r.logsource_id),
    fields: JSON.parse(r.fields) as Record<string, unknown>,
    ...(r.raw === null ? {} : { raw: JSON.parse(r.raw) as unknown }),
    hostId: host.id,
    receivedAt: isoTime(r.received_ms),
  };
}

/** A JSON path naming one top-level key verbatim (Sigma field names may hold dots). */
function fieldPath(field: string): string {
  return `$."${field.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

type Sql = { sql: string; params: (string | number)[] };

/**
 * A filter as an SQL condition on `e.fields`, with the JS semantics of field-text.ts. A pure-ASCII text value
 * (GLOB finds no other character) is tested in SQL: lower() folds ASCII exactly as toLowerCase does. Any other
 * value goes to r3_match (registered by the store), which folds Unicode and walks lists. json_type and
 * json_extract on one row share one parse of the JSON (SQLite caches it per statement).
 */
function filterSql(filter: FieldFilter): Sql {
  const path = fieldPath(filter.field);
  if (filter.op === "exists") {
    const present = `coalesce(json_type(e.fields, ?), 'null') <> 'null'`;
    return { sql: filter.value === false ? `NOT (${present})` : present, params: [path] };
  }
  const needle = filterNeedle(filter);
  if (needle === undefined) {
    throw new StoreError("R3_ERR_STORE_BAD_QUERY", `the ${filter.op} filter on ${filter.field} needs a value`);
  }
  const op: TextOp = filter.op === "neq" ? "eq" : filter.op;
  const udf: Sql = {
    sql: "r3_match(?, json_type(e.fields, ?), json_extract(e.fields, ?), ?)",
    params: [op, path, path, needle],
  };
  let test = udf;
  if (needle !== "") {
    const value = "lower(json_extract(e.fields, ?))";
    const length = Array.from(needle).length;
    const ascii: Sql = {
      eq: { sql: `${value} = ?`, params: [path, needle] },
      contains: { sql: `instr(${value}, ?) > 0`, params: [path, needle] },
      startswith: { sql: `substr(${value}, 1, ?) = ?`, params: [path, length, needle] },
      endswith: { sql: `substr(${value}, ?) = ?`, params: [path, -length, needle] },
    }[op];
    test = {
      sql: `CASE json_type(e.fields, ?) WHEN 'text' THEN
              CASE WHEN json_extract(e.fields, ?) GLOB '*[^ -~]*' THEN ${udf.sql} ELSE ${ascii.sql} END
            ELSE ${udf.sql} END`,
      params: [path, path, ...udf.params, ...ascii.params, ...udf.params],
    };
  }
  return filter.op === "neq" ? { sql: `NOT (${test.sql})`, params: test.params } : test;
}

function and(parts: readonly Sql[]): Sql {
  if (parts.length === 0) return { sql: "1", params: [] };
  return { sql: parts.map((p) => `(${p.sql})`).join(" AND "), params: parts.flatMap((p) => p.params) };
}

/** Trigrams of a pattern, by code point as the trigram tokenizer splits, at most `max` spread over it. */
function trigrams(pattern: string, max: number): string[] {
  const chars = Array.from(pattern);
  const all = [
    ...new Set(Array.from({ length: Math.max(0, chars.length - 2) }, (_, i) => chars.slice(i, i + 3).join(""))),
  ];
  if (all.length <= max) return all;
  return Array.from({ length: max }, (_, i) => all[Math.round((i * (all.length - 1)) / (max - 1))] as string);
}

/**
 * More matching values than this and the index is not used: a search of one FTS5 term per value costs a seek
 * per value and segment, and so many values mean a common substring, which walking the newest events finds.
 */
const MAX_MATCHING_VALUES = 500;

/**
 * The indexed values of `field` satisfying `op needle` and how many events had them, or undefined when the
 * index cannot narrow it: a needle too short for a trigram, a frequent value among the matches (it has no
 * terms), or more than MAX_MATCHING_VALUES. eq anchors at both brackets, so even a one-letter value has a
 * trigram.
 */
function matchingValues(
  conn: SqliteConnection,
  field: string,
  op: TextOp,
  needle: string,
): { ids: number[]; events: number } | undefined {
  const anchoredStart = op === "startswith" || op === "eq";
  const anchoredEnd = op === "endswith" || op === "eq";
  const pattern = (anchoredStart ? VALUE_START : "") + needle + (anchoredEnd ? VALUE_END : "");
  const grams = trigrams(pattern, 12);
  if (grams.length === 0) return undefined;
  const match = grams.map((g) => `"${g.replaceAll('"', '""')}"`).join(" AND ");
  const ids: number[] = [];
  let events = 0;
  const candidates = conn
    .stmt(
      `SELECT v.id, v.value, v.frequent, v.count FROM field_values_text t JOIN field_values v ON v.id = t.rowid
       WHERE field_values_text MATCH ? AND v.field = ?`,
    )
    .iterate(match, field) as Iterable<{ id: number; value: string; frequent: number; count: number }>;
  for (const { id, value, frequent, count } of candidates) {
    if (!textMatches(op, value, needle)) continue;
    if (frequent === 1 || ids.length >= MAX_MATCHING_VALUES) return undefined;
    ids.push(id);
    events += count;
  }
  return { ids, events };
}

type Bounds = { fromMs: number; toMs: number; cursorMs: number; cursorSeq: number };

const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Runs the search; `limit` defaults to 100 and is capped at 1000. */
export function searchEvents(ctx: EventSearchContext, query: EventSearch): PageResult<StoredEvent> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
  const fromMs = query.from === undefined ? -MAX_SEQ : requireIsoTime(query.from, "from");
  const toMs = query.to === undefined ? MAX_SEQ : requireIsoTime(query.to, "to");
  let bounds: Bounds = { fromMs, toMs, cursorMs: toMs, cursorSeq: MAX_SEQ };
  if (query.cursor !== undefined) {
    const [ms, seq] = decodeCursor(query.cursor, "events", ["number", "number"]) as [number, number];
    if (ms <= toMs) bounds = { fromMs, toMs, cursorMs: ms, cursorSeq: seq };
  }

  const scope: Sql[] = [];
  let hostNo: number | undefined;
  if (query.hostId !== undefined) {
    hostNo = ctx.hostNo(query.hostId);
    if (hostNo === undefined) return { items: [] };
    scope.push({ sql: "e.host_no = ?", params: [hostNo] });
  }
  let logsourceIds: number[] | undefined;
  const ls = query.logsource;
  if (ls !== undefined && (ls.product !== undefined || ls.category !== undefined || ls.service !== undefined)) {
    logsourceIds = ctx.conn
      .all<{ id: number }>(
        `SELECT id FROM logsources WHERE (?1 IS NULL OR product = ?1 COLLATE NOCASE)
           AND (?2 IS NULL OR category = ?2 COLLATE NOCASE) AND (?3 IS NULL OR service = ?3 COLLATE NOCASE)`,
        ls.product ?? null,
        ls.category ?? null,
        ls.service ?? null,
      )
      .map((r) => r.id);
    if (logsourceIds.length === 0) return { items: [] };
    scope.push({ sql: "e.logsource_id IN (SELECT value FROM json_each(?))", params: [JSON.stringify(logsourceIds)] });
  }
  const filters = (query.filters ?? []).map((filter) => ({ filter, sql: filterSql(filter) }));

  return ctx.conn.snapshot(() => {
    const driver = chooseIndexDriver(ctx, filters, bounds);
    const page =
      driver === undefined
        ? scanSearch(
            ctx,
            bounds,
            limit,
            scope,
            filters.map((f) => f.sql),
            hostNo,
            logsourceIds,
          )
        : indexedSearch(ctx, bounds, limit, scope, filters, driver);
    return page;
  });
}

type Driver = { index: number; match: string | undefined; days: number[] };

/** The days with a terms table from `fromMs`'s to `toMs`'s, newest first. */
export function termDays(conn: SqliteConnection, fromMs: number, toMs: number): number[] {
  return conn
    .all<{ day: number }>(
      "SELECT day FROM index_days WHERE day >= ? AND day <= ? ORDER BY day DESC",
      dayOf(Math.max(fromMs, -8.64e15)),
      dayOf(Math.min(toMs, 8.64e15)),
    )
    .map((r) => r.day);
}

/**
 * The promoted filter whose values had the fewest events, if at most postingsCap. The counts are the index's
 * (all time, persisted as they double): an estimate that costs no search of the terms.
 */
function chooseIndexDriver(
  ctx: EventSearchContext,
  filters: readonly { filter: FieldFilter }[],
  bounds: Bounds,
): Driver | undefined {
  let best: (Driver & { events: number }) | undefined;
  filters.forEach(({ filter }, index) => {
    if (filter.op === "neq" || filter.op === "exists" || !PROMOTED_FIELDS.has(filter.field)) return;
    const needle = filterNeedle(filter);
    if (needle === undefined) return;
    const values = matchingValues(ctx.conn, filter.field, filter.op, needle);
    if (values === undefined || values.events > ctx.postingsCap) return;
    if (best !== undefined && values.events >= best.events) return;
    const match = values.ids.length === 0 ? undefined : values.ids.map(term.value).join(" OR ");
    best = { index, match, days: [], events: values.events };
  });
  if (best !== undefined && best.match !== undefined) best.days = termDays(ctx.conn, bounds.fromMs, bounds.cursorMs);
  return best;
}

function timeSql(column: string, seqColumn: string, b: Bounds): Sql {
  return {
    sql: `${column} >= ? AND ${column} <= ? AND (${column} < ? OR ${seqColumn} < ?)`,
    params: [b.fromMs, b.cursorMs, b.cursorMs, b.cursorSeq],
  };
}

function pageOf(ctx: EventSearchContext, rows: Row[], limit: number): PageResult<StoredEvent> {
  const items = rows.slice(0, limit).map((row) => toStoredEvent(ctx, row));
  if (rows.length <= limit) return { items };
  const last = rows[limit - 1] as { time_ms: number; seq: number };
  return { items, nextCursor: encodeCursor("events", [last.time_ms, last.seq]) };
}

/** The driver's events (by its terms), merged with a scan of the events the index has not reached. */
function indexedSearch(
  ctx: EventSearchContext,
  bounds: Bounds,
  limit: number,
  scope: readonly Sql[],
  filters: readonly { sql: Sql }[],
  driver: Driver,
): PageResult<StoredEvent> {
  const watermark = ctx.indexedSeq();
  const others = and([...scope, ...filters.filter((_, i) => i !== driver.index).map((f) => f.sql)]);
  const time = timeSql("e.time_ms", "e.seq", bounds);
  const indexed: Row[] = [];
  // Newest day first; a page rarely needs more than the latest day or two.
  for (const day of driver.match === undefined ? [] : driver.days) {
    const table = termsTable(day);
    indexed.push(
      ...ctx.conn.all(
        `SELECT ${EVENT_COLUMNS} FROM ${table} t JOIN events e ON e.seq = t.rowid
         WHERE ${table} MATCH ? AND ${time.sql} AND ${others.sql}
         ORDER BY e.time_ms DESC, e.seq DESC LIMIT ?`,
        driver.match as string,
        ...time.params,
        ...others.params,
        limit + 1 - indexed.length,
      ),
    );
    if (indexed.length > limit) break;
  }
  const all = and([...scope, ...filters.map((f) => f.sql), timeSql("e.time_ms", "e.seq", bounds)]);
  const tail = ctx.conn.all(
    // NOT INDEXED: the tail is a rowid range; walking a time index for the ORDER BY would visit every event.
    `SELECT ${EVENT_COLUMNS} FROM events e NOT INDEXED WHERE e.seq > ? AND ${all.sql}
     ORDER BY e.time_ms DESC, e.seq DESC LIMIT ?`,
    watermark,
    ...all.params,
    limit + 1,
  );
  const rows = tail.length === 0 ? indexed : [...indexed, ...tail].sort(newestFirst);
  return pageOf(ctx, rows, limit);
}

function newestFirst(a: Row, b: Row): number {
  const x = a as { time_ms: number; seq: number };
  const y = b as { time_ms: number; seq: number };
  return y.time_ms - x.time_ms || y.seq - x.seq;
}

const SCAN_CHUNK = 2000;

/**
 * Walks events newest first, testing every condition in SQL, until limit+1 hits or the budget. A host's events
 * are walked through (host_no, time_ms); otherwise the index's event_times (by logsource when the search names
 * one) holds the order of the events up to its watermark, and the events past it (a rowid range, at most
 * MAX_INDEX_LAG of them while the index keeps up) are scanned and merged as in indexedSearch.
 */
function scanSearch(
  ctx: EventSearchContext,
  bounds: Bounds,
  limit: number,
  scope: readonly Sql[],
  filters: readonly Sql[],
  hostNo: number | undefined,
  logsourceIds: readonly number[] | undefined,
): PageResult<StoredEvent> {
  // The walk, and the one condition it answers itself; every other one is tested per row.
  let from: string;
  let driverSql: Sql;
  let rest: Sql[];
  let tailFrom: number | undefined;
  if (hostNo !== undefined) {
    from = "events e INDEXED BY events_host_time";
    driverSql = { sql: "e.host_no = ?", params: [hostNo] };
    rest = scope.slice(1);
  } else {
    tailFrom = ctx.indexedSeq();
    // CROSS JOIN: event_times drives, the events are looked up by rowid.
    if (logsourceIds?.length === 1) {
      from = "event_times t INDEXED BY event_times_logsource CROSS JOIN events e ON e.seq = t.seq";
      driverSql = { sql: "t.logsource_id = ?", params: [logsourceIds[0] as number] };
      rest = [];
    } else {
      from = "event_times t CROSS JOIN events e ON e.seq = t.seq";
      driverSql = { sql: "1", params: [] };
      rest = [...scope];
    }
  }
  // The keyset in the walked table's own columns, so that its order needs no sort.
  const w = tailFrom === undefined ? "e" : "t";
  const hit = and([...rest, ...filters]);
  const statement = ctx.conn.stmt(
    `SELECT e.seq, e.time_ms, ${hit.sql} AS hit FROM ${from}
     WHERE ${driverSql.sql} AND ${w}.time_ms >= ? AND ${w}.time_ms <= ? AND (${w}.time_ms < ? OR ${w}.seq < ?)
     ORDER BY ${w}.time_ms DESC, ${w}.seq DESC LIMIT ?`,
  );
  let hits: { seq: number; time_ms: number }[] = [];
  let position = { ms: bounds.cursorMs, seq: bounds.cursorSeq };
  let scanned = 0;
  let exhausted = false;
  while (hits.length <= limit && scanned < ctx.scanBudgetRows) {
    const chunk = Math.min(SCAN_CHUNK, ctx.scanBudgetRows - scanned);
    const rows = statement.all(
      ...hit.params,
      ...driverSql.params,
      bounds.fromMs,
      position.ms,
      position.ms,
      position.seq,
      chunk,
    ) as { seq: number; time_ms: number; hit: number }[];
    for (const row of rows) {
      scanned += 1;
      position = { ms: row.time_ms, seq: row.seq };
      if (row.hit === 1) {
        hits.push(row);
        if (hits.length > limit) break;
      }
    }
    if (rows.length < chunk) {
      exhausted = hits.length <= limit;
      break;
    }
  }
  if (tailFrom !== undefined) {
    // The unindexed events the walk would have met: all of them when it got to the end, else those after
    // (newer than) where it stopped; the older ones are the next page's.
    const all = and([...scope, ...filters, timeSql("e.time_ms", "e.seq", bounds)]);
    const tail = ctx.conn.all<{ seq: number; time_ms: number }>(
      `SELECT e.seq, e.time_ms FROM events e NOT INDEXED WHERE e.seq > ? AND ${all.sql}
       ORDER BY e.time_ms DESC, e.seq DESC LIMIT ?`,
      tailFrom,
      ...all.params,
      limit + 1,
    );
    const reached = exhausted
      ? tail
      : tail.filter((t) => t.time_ms > position.ms || (t.time_ms === position.ms && t.seq >= position.seq));
    if (reached.length > 0) {
      hits = [...hits, ...reached].sort((a, b) => b.time_ms - a.time_ms || b.seq - a.seq);
      if (hits.length > limit) exhausted = false;
    }
  }
  const page = hits.slice(0, limit);
  const byseq = new Map(
    page.length === 0
      ? []
      : ctx.conn
          .all(
            `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.seq IN (SELECT value FROM json_each(?))`,
            JSON.stringify(page.map((h) => h.seq)),
          )
          .map((row) => [(row as { seq: number }).seq, row]),
  );
  const items = page.map((h) => toStoredEvent(ctx, byseq.get(h.seq) as Row));
  if (exhausted) return { items };
  // More hits than the page: continue after the last one returned; budget spent: after the last row scanned.
  const resume =
    hits.length > limit
      ? (page[page.length - 1] as { seq: number; time_ms: number })
      : { seq: position.seq, time_ms: position.ms };
  return { items, nextCursor: encodeCursor("events", [resume.time_ms, resume.seq]) };
}

/**
 * Registers r3_match(op, json type, value, needle), a field's value against a folded needle, and
 * r3_fold(text): the JS semantics of field-text.ts (Unicode case folding; SQLite's lower() folds ASCII only).
 */
export function registerSearchFunctions(db: DatabaseSync): void {
  db.function("r3_fold", { deterministic: true }, (text: unknown) => (typeof text === "string" ? fold(text) : null));
  db.function(
    "r3_match",
    { deterministic: true, useBigIntArguments: true },
    (op: unknown, type: unknown, value: unknown, needle: unknown): number => {
      const matches = (text: string | undefined): boolean =>
        text !== undefined && textMatches(op as TextOp, text, needle as string);
      switch (type) {
        case "text":
          return matches(fold(value as string)) ? 1 : 0;
        case "integer":
        case "real":
          return matches(String(value)) ? 1 : 0;
        case "true":
        case "false":
          return matches(type) ? 1 : 0;
        case "array":
          // A list matches when an element does (json_extract hands the list over as JSON text).
          return valueTexts(JSON.parse(value as string)).some(matches) ? 1 : 0;
        default:
          return 0;
      }
    },
  );
}
