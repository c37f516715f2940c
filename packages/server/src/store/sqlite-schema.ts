import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "./store-error.ts";

/**
 * The main database, as numbered migrations: `PRAGMA user_version` says how many ran. A migration runs in the
 * same transaction as the version bump, so a crash leaves the file at one version or the next, never between.
 *
 * Index choices follow the queries:
 * - events: `seq` is the ingest order the search index follows, never reused (the store hands seqs out from
 *   counters.last_seq, saved once per batch: AUTOINCREMENT would update sqlite_sequence per row); searches of a
 *   host read newest first through (host_no, time_ms), ending in the rowid so (time_ms, seq) keyset pages need
 *   no sort. (host_no, event_id) UNIQUE makes a resent event a no-op. Both take a batch's events at one place
 *   each (a host's events arrive in about time order, its ids in about id order). The fleet-wide time orders
 *   ((time_ms) and (logsource_id, time_ms)) are in the index database instead (event_times below): the hosts'
 *   batches interleave in time, so a batch's events land all over those trees (1000 events among the ~200,000
 *   of the other hosts' batches over the same hours: one in every 16 KiB page of that stretch), every page
 *   written again at each commit. In `npm run bench:ingest -- --events 1000000` (runs alternated with the
 *   indexes on the events) the main thread's CPU an event, its JSON parse aside, fell from ~21 to ~14 µs; the
 *   index worker, which writes them once per transaction of many batches, took ~1 µs more (~21 µs).
 * - alerts: grouping looks up (host_no, rule_id, group_key); listings sort by last_seen_ms within status, level,
 *   host or rule; a partial index counts the open alerts of a host for the host list.
 * - times are integer milliseconds (comparable, unlike ISO strings of different precision); event and alert
 *   times keep the text as sent when it is not the canonical form.
 */
const MAIN_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO counters VALUES ('events', 0), ('last_seq', 0);

  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  );
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX sessions_user ON sessions(user_id);
  CREATE INDEX sessions_expiry ON sessions(expires_ms);
  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT
  );

  CREATE TABLE enrollment_tokens (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    description TEXT,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0
  );

  CREATE TABLE hosts (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    os TEXT NOT NULL,
    os_version TEXT,
    agent_version TEXT NOT NULL,
    content_version TEXT,
    credential_hash TEXT NOT NULL UNIQUE,
    enrolled_ms INTEGER NOT NULL,
    last_seen_ms INTEGER,
    state TEXT NOT NULL DEFAULT 'online',
    isolated INTEGER NOT NULL DEFAULT 0,
    sensors TEXT NOT NULL DEFAULT '{}',
    queue_depth INTEGER NOT NULL DEFAULT 0,
    dropped TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX hosts_state_seen ON hosts(state, last_seen_ms);

  CREATE TABLE batches (
    host_no INTEGER NOT NULL,
    batch_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    alerts INTEGER NOT NULL,
    PRIMARY KEY (host_no, batch_id)
  ) WITHOUT ROWID;
  CREATE INDEX batches_received ON batches(received_ms);

  CREATE TABLE logsources (
    id INTEGER PRIMARY KEY,
    product TEXT NOT NULL,
    category TEXT NOT NULL,
    service TEXT NOT NULL,
    UNIQUE (product, category, service)
  );

  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    host_no INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    time TEXT,
    received_ms INTEGER NOT NULL,
    logsource_id INTEGER NOT NULL,
    host TEXT,
    fields TEXT NOT NULL,
    raw TEXT
  );
  CREATE UNIQUE INDEX events_host_event ON events(host_no, event_id);
  CREATE INDEX events_host_time ON events(host_no, time_ms);

  CREATE TABLE alerts (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    host_no INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    group_key TEXT NOT NULL,
    title TEXT NOT NULL,
    level TEXT NOT NULL,
    level_rank INTEGER NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    author TEXT,
    tags TEXT NOT NULL,
    techniques TEXT NOT NULL,
    tactics TEXT NOT NULL,
    explanation TEXT,
    ancestry TEXT,
    event_id TEXT NOT NULL,
    time TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    suppression_id TEXT
  );
  CREATE INDEX alerts_group ON alerts(host_no, rule_id, group_key);
  CREATE INDEX alerts_last_seen ON alerts(last_seen_ms);
  CREATE INDEX alerts_first_seen ON alerts(first_seen_ms);
  CREATE INDEX alerts_status ON alerts(status, last_seen_ms);
  CREATE INDEX alerts_level ON alerts(level_rank, last_seen_ms);
  CREATE INDEX alerts_host ON alerts(host_no, last_seen_ms);
  CREATE INDEX alerts_rule ON alerts(rule_id, last_seen_ms);
  CREATE INDEX alerts_open ON alerts(host_no) WHERE status IN ('new', 'in_progress');

  CREATE TABLE alert_sightings (
    host_no INTEGER NOT NULL,
    wire_id TEXT NOT NULL,
    alert_no INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (host_no, wire_id)
  ) WITHOUT ROWID;
  CREATE INDEX sightings_alert ON alert_sightings(alert_no);
  CREATE INDEX sightings_time ON alert_sightings(time_ms);
  CREATE INDEX sightings_host_time ON alert_sightings(host_no, time_ms);

  CREATE TABLE alert_comments (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    alert_id TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    time TEXT NOT NULL
  );
  CREATE INDEX alert_comments_alert ON alert_comments(alert_id, no);

  CREATE TABLE suppressions (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    rule_id TEXT,
    host_id TEXT,
    field TEXT,
    value TEXT,
    reason TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX suppressions_expiry ON suppressions(expires_ms);

  CREATE TABLE commands (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    host_no INTEGER NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    alert_id TEXT,
    created_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    delivered_ms INTEGER,
    completed_ms INTEGER,
    result TEXT
  );
  CREATE INDEX commands_host ON commands(host_no, no);
  CREATE INDEX commands_pending ON commands(status, deadline_ms) WHERE status IN ('queued', 'delivered');
  `,
  // 2: the isolated hosts, counted for /metrics and the console's overview without reading every host row.
  `
  CREATE INDEX hosts_isolated ON hosts(no) WHERE isolated = 1;
  `,
  // 3: what a host's health is made of (sqlite-store.ts hostHealthSql) in indexed columns, so that the fleet is
  // counted by health and listed a page at a time in hostname order without reading every host row and its
  // sensors JSON. \`degraded\` (sensors not started) is written with each heartbeat; the rows already there get
  // it from their last heartbeat's sensors. hosts_fleet covers the counts, isolated ones included, so the
  // partial index of migration 2 goes. (A generated health column would not do: SQLite reads the row to
  // compute it even when an index holds it.)
  `
  ALTER TABLE hosts ADD COLUMN degraded INTEGER NOT NULL DEFAULT 0;
  UPDATE hosts SET degraded =
    (SELECT count(*) FROM json_each(hosts.sensors) s WHERE json_extract(s.value, '$.state') IS NOT 'started');
  DROP INDEX hosts_isolated;
  CREATE INDEX hosts_fleet ON hosts(state, isolated, degraded);
  CREATE INDEX hosts_hostname ON hosts(hostname);
  `,
];

/**
 * The search index, a database of its own (`<db>-index`) so that a worker thread writes it in parallel with
 * ingest; it holds nothing that cannot be rebuilt from the events.
 * - field_values: the distinct folded values of the promoted fields, with how many events had them and the
 *   last day seen. A value on more than FREQUENT_SHARE of the events is `frequent`: no more terms are written
 *   for it, because a search for it finds a page fastest by walking the newest events anyway. Images, users
 *   and parent images are mostly frequent: without the cut, most of an event's terms would be theirs.
 *   Plain rowid ids, not AUTOINCREMENT (which updates sqlite_sequence on every new value): an id can come
 *   back only after retention deleted its value, and then every term naming it went with its days' tables.
 * - field_values_text: a trigram index of the values bracketed by U+0001 … U+0002, so that eq, startswith and
 *   endswith anchor and contains needs 3 characters; contentless (the text is in field_values), with deletes
 *   for the values retention orphans. Only distinct values pass through the trigram tokenizer (~0.2 µs a
 *   trigram): tokenizing every event's command line would cap ingest near 20,000 events/s on one core.
 * - terms_<day>: one FTS5 table per UTC day of event time, rowid = the event's seq, holding the event's terms
 *   (`v<value id>`, and the process tree's `p<host>x<pid>`, `c<host>x<parent pid>`, `e<host>x<pid>`). FTS5
 *   writes each transaction's terms as a sorted segment and merges segments in the background: appends,
 *   where a B-tree of (value, event) postings takes a random page write per posting once it outgrows the
 *   cache. Retention drops whole days. index_days lists the tables.
 * - event_times: every indexed event by (time_ms, seq), with its logsource, indexed again by (logsource_id,
 *   time_ms, seq): the newest-first walks of searches without a host (sqlite-event-search.ts) and the oldest
 *   first of retention. Rows of events retention deleted go in purge; until then a walk joining the events
 *   skips them.
 */
export const INDEX_SCHEMA_VERSION = 3;
export function indexSchema(schema: string): string {
  return `
  CREATE TABLE IF NOT EXISTS ${schema}.index_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS ${schema}.field_values (
    id INTEGER PRIMARY KEY,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    last_day INTEGER NOT NULL,
    count INTEGER NOT NULL,
    frequent INTEGER NOT NULL DEFAULT 0
  );
  CREATE VIRTUAL TABLE IF NOT EXISTS ${schema}.field_values_text USING fts5(
    value, content='', contentless_delete=1, tokenize='trigram', detail='none'
  );
  CREATE TABLE IF NOT EXISTS ${schema}.index_days (day INTEGER PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS ${schema}.event_times (
    time_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    logsource_id INTEGER NOT NULL,
    PRIMARY KEY (time_ms, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS ${schema}.event_times_logsource ON event_times(logsource_id, time_ms, seq);
  `;
}

/** Drops every table of the index, the per-day terms tables included. */
export function dropIndexSchema(db: DatabaseSync, schema: string): void {
  const tables = db
    .prepare(
      `SELECT name FROM ${schema}.sqlite_schema WHERE type = 'table' AND name GLOB 'terms_*' AND sql LIKE 'CREATE VIRTUAL%'`,
    )
    .all() as { name: string }[];
  for (const { name } of tables) db.exec(`DROP TABLE IF EXISTS ${schema}."${name}"`);
  for (const name of ["event_times", "index_days", "field_values_text", "field_values", "index_state"]) {
    db.exec(`DROP TABLE IF EXISTS ${schema}.${name}`);
  }
}

/** Brings the main database to the current version; refuses a database from a newer ring3. */
export function migrateMain(db: DatabaseSync): void {
  const current = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MAIN_MIGRATIONS.length) {
    throw new StoreError(
      "R3_ERR_STORE_CORRUPT",
      `the database is at schema version ${current}, newer than this ring3 knows (${MAIN_MIGRATIONS.length})`,
    );
  }
  for (let version = current; version < MAIN_MIGRATIONS.length; version += 1) {
    db.exec("BEGIN");
    try {
      db.exec(MAIN_MIGRATIONS[version] as string);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}
