import type { DatabaseSync, StatementSync } from "node:sqlite";
import { integerField, scalarText, valueTexts } from "./field-text.ts";

/**
 * Sigma fields searched often enough to index: the process (Image, CommandLine, ParentImage, User,
 * OriginalFileName), files, network peers, DNS names and registry keys. Other fields (ProcessId,
 * ParentCommandLine among them) are still searchable, by walking the newest events under a budget; process
 * trees have terms of their own. Every distinct value costs ~0.3 µs a character to index (its trigrams), so
 * the list stays short: ParentCommandLine would double the command lines indexed for rare use.
 */
export const PROMOTED_FIELDS: ReadonlySet<string> = new Set([
  "Image",
  "CommandLine",
  "ParentImage",
  "User",
  "OriginalFileName",
  "TargetFilename",
  "DestinationIp",
  "DestinationHostname",
  "QueryName",
  "TargetObject",
]);

/**
 * A value on more than this share of the indexed events (and at least FREQUENT_MIN_EVENTS) is frequent: no
 * more terms are written for it (sqlite-schema.ts). A search for it walks the newest events instead and meets
 * a hit every 100 rows at worst: a page of 100 within 10,000 rows, half the default scan budget.
 */
export const FREQUENT_SHARE = 1 / 100;
export const FREQUENT_MIN_EVENTS = 2000;

/** Brackets around an indexed value: a trigram holding one anchors a needle at the value's start or end. */
export const VALUE_START = "\u0001";
export const VALUE_END = "\u0002";

export const DAY_MS = 86_400_000;

/** The terms bucket of a time (a UTC day). */
export function dayOf(timeMs: number): number {
  return Math.floor(timeMs / DAY_MS);
}

/** The terms table of a day, unqualified (the schema it lives in is attached as `ix` or is `main`). */
export function termsTable(day: number): string {
  return day < 0 ? `terms_m${-day}` : `terms_${day}`;
}

/** Terms of an event: a promoted value, and the process tree's "created", "child of" and "ended" (per host). */
export const term = {
  value: (id: number): string => `v${id}`,
  created: (hostNo: number, pid: number): string => `p${hostNo}x${pid}`,
  childOf: (hostNo: number, ppid: number): string => `c${hostNo}x${ppid}`,
  ended: (hostNo: number, pid: number): string => `e${hostNo}x${pid}`,
};

/**
 * A dictionary entry as the writer tracks it. `count` is persisted when it doubles (the row can trail by
 * half: it only decides when a value turns frequent); `day` whenever it moves on, because retention deletes
 * values by their persisted last day.
 */
type ValueEntry = { id: number; day: number; savedDay: number; count: number; saved: number; frequent: boolean };

/**
 * A statement that writes: its run() reports changes and rowid as BigInts, since after a delete from a
 * contentless FTS5 table the connection's last insert rowid is an internal one past 2^53, which node:sqlite
 * refuses to return as a number.
 */
function writer(db: DatabaseSync, sql: string): StatementSync {
  const statement = db.prepare(sql);
  statement.setReadBigInts(true);
  return statement;
}

/** A pid as a term; a negative number would not survive the tokenizer as one term (and no pid is negative). */
function nonNegative(n: number | undefined): number | undefined {
  return n !== undefined && n >= 0 ? n : undefined;
}

type EventRow = { seq: number; host_no: number; logsource_id: number; time_ms: number; indexed: string };

/** The fields the writer reads: the promoted ones, then the pids. */
const INDEXED_FIELDS = [...PROMOTED_FIELDS, "ProcessId", "ParentProcessId"];
const PROCESS_ID = INDEXED_FIELDS.length - 2;
const PARENT_PROCESS_ID = INDEXED_FIELDS.length - 1;

/**
 * What the index needs of stored events, packed flat, INPUT_STRIDE slots an event: seq, host number, logsource
 * id, logsource category, time (ms), then its INDEXED_FIELDS values in order (null when absent). Ingest hands
 * these to the worker thread, and a flat array of primitives crosses postMessage several times cheaper than an
 * object (and an array) per event: structured clone writes and reads every object's property names.
 */
export type IndexInputs = unknown[];
const INPUT_STRIDE = 5 + INDEXED_FIELDS.length;

/** Appends the index input of an event as ingest has it, so the index need not read the event back. */
export function pushIndexInput(
  inputs: IndexInputs,
  seq: number,
  hostNo: number,
  logsourceId: number,
  category: string,
  timeMs: number,
  fields: Readonly<Record<string, unknown>>,
): void {
  inputs.push(seq, hostNo, logsourceId, category, timeMs);
  for (const field of INDEXED_FIELDS) inputs.push(fields[field] ?? null);
}

/** How many events packed inputs hold. */
export function inputCount(inputs: readonly unknown[]): number {
  return inputs.length / INPUT_STRIDE;
}

/** The seq of the last event of packed inputs (undefined when empty). */
export function lastInputSeq(inputs: readonly unknown[]): number | undefined {
  return inputs.length === 0 ? undefined : (inputs[inputs.length - INPUT_STRIDE] as number);
}

/** One value map per promoted field, in INDEXED_FIELDS order. */
function fieldMaps(): Map<string, ValueEntry>[] {
  return Array.from({ length: PROCESS_ID }, () => new Map<string, ValueEntry>());
}

/** Entries per generation of the value cache: the newest 2 × this many distinct values are deduplicated. */
const CACHE_GENERATION = 250_000;

/**
 * Writes the search index (schema in sqlite-schema.ts) from the events table: every event with a seq above
 * the watermark, in seq order, one transaction per chunk together with the new watermark, so the index is
 * exactly the events up to `indexedSeq` at every commit. Runs in the index worker on its own connection, or
 * inline on the store's connection for in-memory stores; `events` and `logsources` are named unqualified so
 * both work.
 */
export class EventIndexWriter {
  private readonly db: DatabaseSync;
  private readonly schema: string;
  private readonly readEvents: StatementSync;
  private readonly readCategory: StatementSync;
  private readonly insertValue: StatementSync;
  private readonly insertValueText: StatementSync;
  private readonly saveValue: StatementSync;
  private readonly insertDay: StatementSync;
  private readonly insertTime: StatementSync;
  private readonly setState: StatementSync;
  private readonly insertTerms = new Map<number, StatementSync>();
  /**
   * Folded value → entry, one map per promoted field (keyed by the value alone: no key string to build per
   * lookup), in two generations: when the young one fills up it becomes the old one. Values are deduplicated
   * through this cache only (a B-tree keyed by value hash would take a random page write per new value); a
   * value gone from both generations that comes back gets a second id, which searches find alongside the first.
   */
  private young = fieldMaps();
  private old = fieldMaps();
  private youngSize = 0;
  private readonly categories = new Map<number, string>();
  indexedSeq: number;

  constructor(db: DatabaseSync, schema: string) {
    const s = schema;
    this.db = db;
    this.schema = s;
    // SQLite pulls the few fields the index needs out of each event's JSON (in C, as one small JSON array),
    // instead of JSON.parse over every field of the event here.
    const paths = INDEXED_FIELDS.map((f) => `'$."${f}"'`).join(", ");
    this.readEvents = db.prepare(
      `SELECT seq, host_no, logsource_id, time_ms, json_extract(fields, ${paths}) AS indexed
       FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
    );
    this.readCategory = db.prepare("SELECT category FROM logsources WHERE id = ?");
    this.insertValue = writer(db, `INSERT INTO ${s}.field_values (field, value, last_day, count) VALUES (?, ?, ?, 1)`);
    this.insertValueText = writer(db, `INSERT INTO ${s}.field_values_text (rowid, value) VALUES (?, ?)`);
    this.saveValue = writer(db, `UPDATE ${s}.field_values SET last_day = ?, count = ?, frequent = ? WHERE id = ?`);
    this.insertDay = writer(db, `INSERT OR IGNORE INTO ${s}.index_days (day) VALUES (?)`);
    this.insertTime = writer(db, `INSERT INTO ${s}.event_times (time_ms, seq, logsource_id) VALUES (?, ?, ?)`);
    this.setState = writer(db, `INSERT OR REPLACE INTO ${s}.index_state (key, value) VALUES (?, ?)`);
    this.indexedSeq = this.savedSeq();
    this.warmCache();
  }

  private savedSeq(): number {
    const row = this.db.prepare(`SELECT value FROM ${this.schema}.index_state WHERE key = 'indexed_seq'`).get() as
      { value: string } | undefined;
    return row === undefined ? 0 : Number(row.value);
  }

  /** The newest values back into the cache after a restart, so they are not given second ids. */
  private warmCache(): void {
    const rows = this.db
      .prepare(`SELECT * FROM ${this.schema}.field_values ORDER BY id DESC LIMIT ?`)
      .all(CACHE_GENERATION) as Record<string, unknown>[];
    for (const row of rows.reverse()) {
      const count = row.count as number;
      const day = row.last_day as number;
      const values = this.young[INDEXED_FIELDS.indexOf(row.field as string)];
      if (values === undefined) continue;
      if (!values.has(row.value as string)) this.youngSize += 1;
      values.set(row.value as string, {
        id: row.id as number,
        day,
        savedDay: day,
        count,
        saved: count,
        frequent: row.frequent === 1,
      });
    }
  }

  /**
   * Indexes up to `maxEvents` events past the watermark, read back from the events table, in one transaction;
   * returns how many it read. The path after a restart, and the only one inline.
   */
  indexNext(maxEvents: number): number {
    const rows = this.readEvents.all(this.indexedSeq, maxEvents) as EventRow[];
    if (rows.length === 0) return 0;
    const inputs: IndexInputs = [];
    for (const row of rows) {
      inputs.push(row.seq, row.host_no, row.logsource_id, this.category(row.logsource_id), row.time_ms);
      for (const value of JSON.parse(row.indexed) as unknown[]) inputs.push(value);
    }
    this.index([inputs]);
    return rows.length;
  }

  /**
   * Indexes events handed over by ingest (in seq order, right after the watermark) in one transaction: packed
   * inputs of consecutive batches, each as it came (joining them would copy every slot).
   */
  index(batches: readonly (readonly unknown[])[]): void {
    const last = batches.findLast((inputs) => inputs.length > 0);
    const lastSeq = last === undefined ? undefined : lastInputSeq(last);
    if (lastSeq === undefined) return;
    const changed = new Set<ValueEntry>();
    const times: [timeMs: number, seq: number, logsourceId: number][] = [];
    this.inTransaction(() => {
      for (const inputs of batches) {
        for (let at = 0; at < inputs.length; at += INPUT_STRIDE) {
          times.push([inputs[at + 4] as number, inputs[at] as number, inputs[at + 2] as number]);
          this.indexEvent(inputs, at, changed);
        }
      }
      // In key order: the batches' events interleave in time, and each insert then lands next to the last.
      times.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      for (const [timeMs, seq, logsourceId] of times) this.insertTime.run(timeMs, seq, logsourceId);
      for (const entry of changed) this.save(entry);
      this.setState.run("indexed_seq", String(lastSeq));
      this.indexedSeq = lastSeq;
    });
  }

  /** Indexes the event packed at `at` (IndexInputs). */
  private indexEvent(inputs: readonly unknown[], at: number, changed: Set<ValueEntry>): void {
    const seq = inputs[at] as number;
    const hostNo = inputs[at + 1] as number;
    const category = inputs[at + 3] as string;
    const day = dayOf(inputs[at + 4] as number);
    const first = at + 5;
    const terms: string[] = [];
    for (let i = 0; i < PROCESS_ID; i += 1) {
      const value = inputs[first + i];
      if (value === null || value === undefined) continue;
      // A scalar (nearly every value) has one text; a list's texts are deduplicated so no event counts twice.
      const scalar = Array.isArray(value) ? undefined : scalarText(value);
      const texts = scalar !== undefined ? [scalar] : new Set(valueTexts(value));
      for (const text of texts) {
        const entry = this.value(i, text, day);
        entry.count += 1;
        if (entry.day < day) entry.day = day;
        changed.add(entry);
        if (!entry.frequent) terms.push(term.value(entry.id));
      }
    }
    const pid = nonNegative(integerField(inputs[first + PROCESS_ID]));
    if (category === "process_creation" && pid !== undefined) {
      terms.push(term.created(hostNo, pid));
      const ppid = nonNegative(integerField(inputs[first + PARENT_PROCESS_ID]));
      if (ppid !== undefined) terms.push(term.childOf(hostNo, ppid));
    } else if (category === "process_termination" && pid !== undefined) {
      terms.push(term.ended(hostNo, pid));
    }
    if (terms.length > 0) this.termsOf(day).run(seq, terms.join(" "));
  }

  /** The insert statement of a day's terms table, creating the table on the day's first event. */
  private termsOf(day: number): StatementSync {
    let insert = this.insertTerms.get(day);
    if (insert === undefined) {
      const table = `${this.schema}.${termsTable(day)}`;
      this.db.exec(
        `CREATE VIRTUAL TABLE IF NOT EXISTS ${table} USING fts5(terms, content='', columnsize=0, tokenize='ascii', detail='none')`,
      );
      this.insertDay.run(day);
      insert = writer(this.db, `INSERT INTO ${table} (rowid, terms) VALUES (?, ?)`);
      this.insertTerms.set(day, insert);
    }
    return insert;
  }

  private category(logsourceId: number): string {
    let category = this.categories.get(logsourceId);
    if (category === undefined) {
      category = (this.readCategory.get(logsourceId) as { category: string } | undefined)?.category ?? "";
      this.categories.set(logsourceId, category);
    }
    return category;
  }

  /** The entry of a folded text of promoted field `fieldNo` (INDEXED_FIELDS), new ones written. */
  private value(fieldNo: number, text: string, day: number): ValueEntry {
    let entry = this.young[fieldNo]?.get(text);
    if (entry !== undefined) return entry;
    entry = this.old[fieldNo]?.get(text);
    if (entry === undefined) {
      const id = Number(this.insertValue.run(INDEXED_FIELDS[fieldNo] as string, text, day).lastInsertRowid);
      this.insertValueText.run(id, VALUE_START + text + VALUE_END);
      // The row says count 1 already; the caller raises the count, so saving waits for 2.
      entry = { id, day, savedDay: day, count: 0, saved: 1, frequent: false };
    }
    if (this.youngSize >= CACHE_GENERATION) {
      this.old = this.young;
      this.young = fieldMaps();
      this.youngSize = 0;
    }
    this.young[fieldNo]?.set(text, entry);
    this.youngSize += 1;
    return entry;
  }

  /** Persists an entry when its count doubled, its day moved on, or it just became frequent. */
  private save(entry: ValueEntry): void {
    const becameFrequent =
      !entry.frequent && entry.count > Math.max(FREQUENT_MIN_EVENTS, this.indexedSeq * FREQUENT_SHARE);
    if (becameFrequent) entry.frequent = true;
    if (becameFrequent || entry.count >= 2 * entry.saved || entry.day > entry.savedDay) {
      this.saveValue.run(entry.day, entry.count, entry.frequent ? 1 : 0, entry.id);
      entry.saved = entry.count;
      entry.savedDay = entry.day;
    }
  }

  private inTransaction<T>(work: () => T): T {
    this.db.exec("BEGIN");
    try {
      const result = work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      this.db.exec("ROLLBACK");
      // Ids, counts, days and tables recorded inside the rolled-back transaction no longer hold.
      this.young = fieldMaps();
      this.old = fieldMaps();
      this.youngSize = 0;
      this.insertTerms.clear();
      this.indexedSeq = this.savedSeq();
      this.warmCache();
      throw error;
    }
  }

  /**
   * After retention: drops the terms of the days before `beforeMs`'s (whole tables: no row-by-row deletes),
   * the values last seen before that day and the event times before `beforeMs`, in slices, one transaction
   * each, so the indexer never stalls for long. The terms of deleted events on the boundary day stay until
   * their day goes: a search joins terms to events, so they match nothing. Returns the days dropped.
   */
  purge(beforeMs: number): number {
    const s = this.schema;
    const boundary = dayOf(beforeMs);
    const days = this.db.prepare(`SELECT day FROM ${s}.index_days WHERE day < ? ORDER BY day`).all(boundary) as {
      day: number;
    }[];
    for (const { day } of days) {
      this.inTransaction(() => {
        this.db.exec(`DROP TABLE IF EXISTS ${s}.${termsTable(day)}`);
        writer(this.db, `DELETE FROM ${s}.index_days WHERE day = ?`).run(day);
      });
      this.insertTerms.delete(day);
    }
    const orphans = this.db.prepare(`SELECT id FROM ${s}.field_values WHERE last_day < ?`).all(boundary) as {
      id: number;
    }[];
    const deleteValue = writer(this.db, `DELETE FROM ${s}.field_values WHERE id = ?`);
    const deleteText = writer(this.db, `DELETE FROM ${s}.field_values_text WHERE rowid = ?`);
    for (let from = 0; from < orphans.length; from += 2000) {
      this.inTransaction(() => {
        for (const { id } of orphans.slice(from, from + 2000)) {
          deleteValue.run(id);
          deleteText.run(id);
        }
      });
    }
    const deleteTimes = writer(
      this.db,
      `DELETE FROM ${s}.event_times WHERE (time_ms, seq) IN (SELECT time_ms, seq FROM ${s}.event_times WHERE time_ms < ? ORDER BY time_ms LIMIT 20000)`,
    );
    while (this.inTransaction(() => deleteTimes.run(beforeMs).changes) !== 0n);
    this.young = fieldMaps();
    this.old = fieldMaps();
    this.youngSize = 0;
    this.warmCache();
    return days.length;
  }
}
