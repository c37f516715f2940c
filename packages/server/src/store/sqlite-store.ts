import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setImmediate as nextTurn } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { ALERT_LEVELS, HOST_HEALTHS, HOST_STATES } from "@ring3/protocol";
import type {
  ActionResult,
  Alert,
  AlertBulkUpdate,
  AlertComment,
  AlertQuery,
  AlertUpdate,
  AuditEntry,
  Command,
  EnrollmentToken,
  EventSearch,
  Host,
  HostHealth,
  HostQuery,
  ProcessTree,
  ResponseRequest,
  Role,
  StoredEvent,
  Suppression,
  SuppressionCreate,
  User,
  WireAlert,
  WireEvent,
} from "@ring3/protocol";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { fold, valueTexts } from "./field-text.ts";
import { isCanonicalIso, isoTime, parseIsoTime, requireIsoTime } from "./iso-time.ts";
import type { Row } from "./sqlite-connection.ts";
import { SqliteConnection, storeErrorFrom } from "./sqlite-connection.ts";
import { EventIndexWriter, pushIndexInput } from "./sqlite-event-index.ts";
import type { IndexInputs } from "./sqlite-event-index.ts";
import type { IndexWorkerData, IndexWorkerReply, IndexWorkerRequest } from "./sqlite-index-worker.ts";
import { EVENT_COLUMNS, registerSearchFunctions, searchEvents, toStoredEvent } from "./sqlite-event-search.ts";
import type { EventSearchContext } from "./sqlite-event-search.ts";
import { processTree } from "./sqlite-process-tree.ts";
import { dropIndexSchema, indexSchema, INDEX_SCHEMA_VERSION, migrateMain } from "./sqlite-schema.ts";
import type {
  AgentIdentity,
  AlertStats,
  HeartbeatInput,
  HeartbeatRecord,
  HostCounts,
  HostRegistration,
  IngestBatchInput,
  IngestResult,
  PageRequest,
  PageResult,
  RetentionPolicy,
  Store,
  StoreStats,
  TimelineItem,
} from "./store.ts";
import { StoreError } from "./store-error.ts";

export type SqliteStoreOptions = {
  /** The database file (created with its directory), or ":memory:". The search index goes to `<path>-index`. */
  readonly path: string;
  /** Page cache of each connection, MiB (default 64). */
  readonly cacheMiB?: number;
  /**
   * Hard ceiling on the events database size: a write that would pass it fails with R3_ERR_STORE_FULL and
   * is rolled back, before the disk itself fills. Retention keeps the store under its own, lower limit.
   */
  readonly maxBytes?: number;
  /** Rows a search may walk before it returns a short page with a cursor (default 20,000). */
  readonly scanBudgetRows?: number;
  /** Most events a search driven by the index will sort (default 50,000). */
  readonly postingsCap?: number;
  /**
   * Index in the calling thread after every batch instead of in a worker thread. Always so for ":memory:"
   * (a worker cannot share an in-memory database).
   */
  readonly inlineIndex?: boolean;
};

/** Opens (creating or migrating) the SQLite store. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const store = new SqliteStore(options);
  await store.ready();
  return store;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/**
 * Events the index may trail ingest by before ingest waits for it (half a second at full rate): searches scan
 * the unindexed tail, so it must stay short.
 */
const MAX_INDEX_LAG = 25_000;
const INDEX_CHUNK = 20_000;
const RETENTION_CHUNK = 5000;
/** SQLite's default. */
const SQLITE_WAL_AUTOCHECKPOINT = 1000;
const MAX_WORKER_BACKOFF_MS = 60_000;
/**
 * 16 KiB pages rather than SQLite's 4 KiB: a batch's events land all over the fleet-wide (time_ms) and
 * (logsource_id, time_ms) orders, and larger pages mean fewer pages (WAL frames) per commit, fewer splits
 * and shallower trees. In `npm run bench:ingest -- --events 1000000` (runs alternated with 4 KiB ones) the
 * main thread's CPU an event, its JSON parse aside, fell from ~19.5 to ~16.5 µs; 32 KiB gained nothing more.
 * (Those orders were indexes of the events then; they are the index database's event_times now, written by
 * the index worker with the same page size: sqlite-schema.ts.) Searches read whole pages too, so larger is
 * not free: their p95 stayed within a few ms.
 */
const PAGE_SIZE = 16_384;
/** The WAL size (in pages: 40 MiB) past which the store checkpoints itself while the index worker runs. */
const WORKER_WAL_AUTOCHECKPOINT = (40 * 1024 * 1024) / PAGE_SIZE;

type HostRef = { no: number; id: string; hostname: string };
type Alerted = { no: number; created: boolean; suppressed: boolean };

const LEVEL_RANK: Readonly<Record<string, number>> = Object.fromEntries(ALERT_LEVELS.map((level, i) => [level, i]));

/** Synchronous store work as the interface's promise: a throw becomes a rejection, as from a networked engine. */
function promised<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/**
 * A host's health (protocol HOST_HEALTHS, most urgent first) from its row: silent, else isolated, else degraded
 * (sensors not started, counted at each heartbeat), else online. `prefix` is the hosts table's alias.
 */
function hostHealthSql(prefix: string): string {
  return `CASE WHEN ${prefix}state = 'silent' THEN 'silent' WHEN ${prefix}isolated = 1 THEN 'isolated'
    WHEN ${prefix}degraded > 0 THEN 'degraded' ELSE 'online' END`;
}

function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(limit ?? 100, 1), 1000);
}

/** The default store: everything in one SQLite database, the search index in a second one. */
export class SqliteStore implements Store {
  readonly engine = "sqlite";
  private readonly options: SqliteStoreOptions;
  private readonly conn: SqliteConnection;
  private readonly hostsById = new Map<string, HostRef>();
  private readonly hostsByNo = new Map<number, HostRef>();
  /**
   * Every agent request is authenticated by its credential; a query each (the host row and its open alerts)
   * took ~55 µs of the loop in `npm run bench:fleet`. A host's credential never changes and hosts are not
   * deleted, so the map is never stale; unknown credentials are not remembered (anyone can present one).
   */
  private readonly hostsByCredential = new Map<string, HostRef>();
  private readonly logsourceIds = new Map<string, number>();
  private readonly logsources = new Map<number, WireEvent["logsource"]>();
  private readonly searchContext: EventSearchContext;
  private inlineWriter: EventIndexWriter | undefined;
  private worker: Worker | undefined;
  private workerFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private indexedSeq = 0;
  private lastSeq = 0;
  private indexProblem: string | undefined;
  private readonly progressWaiters: (() => void)[] = [];
  private readonly purgeWaiters = new Map<number, (deleted: number) => void>();
  private purgeIds = 0;
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    this.options = options;
    const memory = options.path === ":memory:";
    if (!memory) {
      try {
        mkdirSync(dirname(resolve(options.path)), { recursive: true });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new StoreError(
          code === "EACCES" || code === "EROFS" || code === "EPERM" ? "R3_ERR_STORE_READ_ONLY" : "R3_ERR_STORE_OPEN",
          `cannot create the directory of ${options.path}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(options.path, { timeout: 1000 });
    } catch (error) {
      throw storeErrorFrom(error);
    }
    this.conn = new SqliteConnection(db);
    try {
      this.openDatabase(memory);
    } catch (error) {
      db.close();
      throw storeErrorFrom(error);
    }
    this.searchContext = {
      conn: this.conn,
      hostNo: (id) => this.hostsById.get(id)?.no,
      host: (no) => this.hostRef(no),
      logsource: (id) => this.logsources.get(id) ?? {},
      indexedSeq: () => {
        const row = this.conn.get<{ value: string }>("SELECT value FROM index_state WHERE key = 'indexed_seq'");
        return row === undefined ? 0 : Number(row.value);
      },
      scanBudgetRows: options.scanBudgetRows ?? 20_000,
      postingsCap: options.postingsCap ?? 50_000,
    };
  }

  private openDatabase(memory: boolean): void {
    const db = this.conn.db;
    const cacheKiB = (this.options.cacheMiB ?? 64) * 1024;
    // The page size of a new database (an existing file keeps its own), set before WAL mode writes the header.
    db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
    db.exec(`PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -${cacheKiB}`);
    if (!memory) {
      const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
      if (mode !== "wal")
        throw new StoreError("R3_ERR_STORE_READ_ONLY", `cannot switch ${this.options.path} to WAL (got ${mode})`);
      // NORMAL in WAL mode: a commit survives a process crash; only a power loss can drop the last commits.
      db.exec("PRAGMA synchronous = NORMAL");
    }
    if (this.options.maxBytes !== undefined) {
      const pageSize = (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
      db.exec(`PRAGMA max_page_count = ${Math.max(16, Math.floor(this.options.maxBytes / pageSize))}`);
    }
    migrateMain(db);
    let uid = this.conn.get<{ value: string }>("SELECT value FROM store_meta WHERE key = 'uid'")?.value;
    if (uid === undefined) {
      uid = randomUUID();
      this.conn.run("INSERT INTO store_meta (key, value) VALUES ('uid', ?)", uid);
    }
    registerSearchFunctions(db);

    // The index database, attached for searching (and written here too when indexing inline). It holds nothing
    // the events do not: damaged, it is deleted and rebuilt rather than failing the store.
    // The high-water mark of seqs: those of deleted events are never handed out again.
    this.lastSeq = Math.max(
      this.conn.get<{ value: number }>("SELECT value FROM counters WHERE name = 'last_seq'")?.value ?? 0,
      this.conn.get<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM events")?.seq ?? 0,
    );
    try {
      this.attachIndex(memory, uid);
    } catch (error) {
      const failure = storeErrorFrom(error);
      if (memory || !(failure instanceof StoreError) || failure.code !== "R3_ERR_STORE_CORRUPT") throw failure;
      const attached = (db.prepare("PRAGMA database_list").all() as { name: string }[]).some((d) => d.name === "ix");
      if (attached) db.exec("DETACH DATABASE ix");
      for (const suffix of ["-index", "-index-wal", "-index-shm"])
        rmSync(`${this.options.path}${suffix}`, { force: true });
      this.indexProblem = `the search index was damaged and is being rebuilt (${failure.message})`;
      this.attachIndex(memory, uid);
    }
    this.indexedSeq = Number(
      this.conn.get<{ value: string }>("SELECT value FROM ix.index_state WHERE key = 'indexed_seq'")?.value ?? 0,
    );

    for (const row of this.conn.all<{ no: number; id: string; hostname: string; credential_hash: string }>(
      "SELECT no, id, hostname, credential_hash FROM hosts",
    )) {
      this.rememberHost(row);
    }
    this.loadLogsources();
  }

  private attachIndex(memory: boolean, uid: string): void {
    const db = this.conn.db;
    db.prepare("ATTACH DATABASE ? AS ix").run(memory ? ":memory:" : `${this.options.path}-index`);
    db.exec(`PRAGMA ix.page_size = ${PAGE_SIZE}`);
    if (!memory) db.exec("PRAGMA ix.journal_mode = WAL; PRAGMA ix.synchronous = NORMAL");
    db.exec(indexSchema("ix"));
    const state = new Map(
      this.conn
        .all<{ key: string; value: string }>("SELECT key, value FROM ix.index_state")
        .map((r) => [r.key, r.value]),
    );
    const indexed = Number(state.get("indexed_seq") ?? 0);
    // An index of another database (the events file was replaced or restored) or of another layout: rebuild.
    if (state.get("uid") !== uid || state.get("version") !== String(INDEX_SCHEMA_VERSION) || indexed > this.lastSeq) {
      dropIndexSchema(db, "ix");
      db.exec(indexSchema("ix"));
      this.conn.run(
        "INSERT INTO ix.index_state (key, value) VALUES ('uid', ?), ('version', ?), ('indexed_seq', '0')",
        uid,
        String(INDEX_SCHEMA_VERSION),
      );
    }
  }

  /** Starts the indexer (worker or inline) and catches the index up with the events. */
  async ready(): Promise<void> {
    if (this.options.path === ":memory:" || this.options.inlineIndex === true) {
      this.inlineWriter = new EventIndexWriter(this.conn.db, "ix");
      this.indexInline();
    } else {
      this.startWorker();
    }
    await Promise.resolve();
  }

  // ---- index ---------------------------------------------------------------------------------------------------

  private indexInline(): void {
    const writer = this.inlineWriter;
    if (writer === undefined) return;
    try {
      while (writer.indexNext(INDEX_CHUNK) > 0);
      this.indexedSeq = writer.indexedSeq;
      this.indexProblem = undefined;
    } catch (error) {
      // Searches stay exact without the index (they scan what it has not reached); only slower.
      this.indexProblem = `indexing failed: ${(storeErrorFrom(error) as Error).message}`;
    }
  }

  private startWorker(): void {
    const data: IndexWorkerData = {
      eventsPath: resolve(this.options.path),
      indexPath: `${resolve(this.options.path)}-index`,
      chunk: INDEX_CHUNK,
    };
    const worker = new Worker(new URL("./sqlite-index-worker.ts", import.meta.url), { workerData: data });
    this.worker = worker;
    // The worker's checkpointer thread copies the WAL into the database several times a second
    // (sqlite-checkpoint-worker.ts), off this thread. This thread still checkpoints when the WAL passes
    // 40 MiB: by then most of it is copied, and a checkpoint by the writer itself makes sure the next
    // transaction restarts the WAL from its start (one by another thread, racing with a writer that never
    // pauses, can leave the WAL growing).
    this.conn.db.exec(`PRAGMA wal_autocheckpoint = ${WORKER_WAL_AUTOCHECKPOINT}`);
    worker.on("message", (reply: IndexWorkerReply) => {
      switch (reply.type) {
        case "progress":
          this.indexedSeq = reply.indexedSeq;
          this.workerFailures = 0;
          this.indexProblem = undefined;
          for (const wake of this.progressWaiters.splice(0)) wake();
          break;
        case "purged":
          this.purgeWaiters.get(reply.id)?.(reply.deleted);
          this.purgeWaiters.delete(reply.id);
          break;
        case "failed":
          this.indexProblem = `the index worker failed: ${reply.message}`;
          break;
      }
    });
    worker.on("error", (error: Error) => {
      this.indexProblem = `the index worker failed: ${error.message}`;
    });
    worker.on("exit", () => {
      if (this.worker === worker) this.worker = undefined;
      if (!this.closed) this.conn.db.exec(`PRAGMA wal_autocheckpoint = ${SQLITE_WAL_AUTOCHECKPOINT}`);
      for (const wake of this.progressWaiters.splice(0)) wake();
      for (const [id, done] of this.purgeWaiters) {
        done(0);
        this.purgeWaiters.delete(id);
      }
      if (this.closed) return;
      // Never take the server down with it: restart with backoff, searches scan meanwhile.
      this.indexProblem ??= "the index worker exited";
      this.workerFailures += 1;
      const delay = Math.min(MAX_WORKER_BACKOFF_MS, 500 * 2 ** Math.min(this.workerFailures, 7));
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.closed) this.startWorker();
      }, delay);
      this.restartTimer.unref();
    });
  }

  private post(request: IndexWorkerRequest): void {
    this.worker?.postMessage(request);
  }

  /** After a commit: index inline (reading the events back), or hand the batch to the worker. */
  private indexNewEvents(after: number, inputs: IndexInputs): void {
    if (this.inlineWriter !== undefined) this.indexInline();
    else this.post({ type: "events", after, inputs });
  }

  /** Ingest waits while the worker trails by more than MAX_INDEX_LAG, so the unindexed tail stays small. */
  private async awaitIndexCapacity(): Promise<void> {
    while (
      this.worker !== undefined &&
      this.lastSeq - this.indexedSeq > MAX_INDEX_LAG &&
      this.indexProblem === undefined
    ) {
      await new Promise<void>((wake) => this.progressWaiters.push(wake));
    }
  }

  private async purgeIndex(beforeMs: number): Promise<void> {
    if (this.inlineWriter !== undefined) {
      this.inlineWriter.purge(beforeMs);
      return;
    }
    if (this.worker === undefined) return;
    const id = ++this.purgeIds;
    await new Promise<number>((done) => {
      this.purgeWaiters.set(id, done);
      this.post({ type: "purge", id, beforeMs });
    });
  }

  // ---- caches ------------------------------------------------------------------------------------------------

  private rememberHost(row: { no: number; id: string; hostname: string; credential_hash: string }): void {
    const ref = { no: row.no, id: row.id, hostname: row.hostname };
    this.hostsById.set(ref.id, ref);
    this.hostsByNo.set(ref.no, ref);
    this.hostsByCredential.set(row.credential_hash, ref);
  }

  private hostRef(no: number): HostRef {
    const ref = this.hostsByNo.get(no);
    if (ref === undefined)
      throw new StoreError("R3_ERR_STORE_CORRUPT", `a row refers to host #${no}, which does not exist`);
    return ref;
  }

  private requireHost(hostId: string): HostRef {
    const ref = this.hostsById.get(hostId);
    if (ref === undefined) throw new StoreError("R3_ERR_STORE_BAD_QUERY", `no host ${hostId}`);
    return ref;
  }

  private loadLogsources(): void {
    this.logsourceIds.clear();
    this.logsources.clear();
    for (const r of this.conn.all<{ id: number; product: string; category: string; service: string }>(
      "SELECT id, product, category, service FROM logsources",
    )) {
      this.logsourceIds.set(`${r.product}\u0000${r.category}\u0000${r.service}`, r.id);
      this.logsources.set(r.id, {
        ...(r.product === "" ? {} : { product: r.product }),
        ...(r.category === "" ? {} : { category: r.category }),
        ...(r.service === "" ? {} : { service: r.service }),
      });
    }
  }

  private logsourceId(ls: WireEvent["logsource"]): number {
    const product = ls.product ?? "";
    const category = ls.category ?? "";
    const service = ls.service ?? "";
    const key = `${product}\u0000${category}\u0000${service}`;
    let id = this.logsourceIds.get(key);
    if (id === undefined) {
      this.conn.run(
        "INSERT OR IGNORE INTO logsources (product, category, service) VALUES (?, ?, ?)",
        product,
        category,
        service,
      );
      id = (
        this.conn.get(
          "SELECT id FROM logsources WHERE product = ? AND category = ? AND service = ?",
          product,
          category,
          service,
        ) as {
          id: number;
        }
      ).id;
      this.logsourceIds.set(key, id);
      this.logsources.set(id, {
        ...(product === "" ? {} : { product }),
        ...(category === "" ? {} : { category }),
        ...(service === "" ? {} : { service }),
      });
    }
    return id;
  }

  private open(): void {
    if (this.closed) throw new StoreError("R3_ERR_STORE_CLOSED", "the store is closed");
  }

  // ---- users, sessions, audit --------------------------------------------------------------------------------

  private toUser(row: Row): User {
    return {
      id: row.id as string,
      username: row.username as string,
      role: row.role as Role,
      createdAt: isoTime(row.created_ms as number),
    };
  }

  createUser(user: { username: string; passwordHash: string; role: Role }): Promise<User> {
    return promised(() => {
      this.open();
      const id = randomUUID();
      const now = Date.now();
      try {
        this.conn.transaction(() =>
          this.conn.run(
            "INSERT INTO users (id, username, password_hash, role, created_ms) VALUES (?, ?, ?, ?, ?)",
            id,
            user.username,
            user.passwordHash,
            user.role,
            now,
          ),
        );
      } catch (error) {
        if ((error as { errcode?: number }).errcode === 2067 /* SQLITE_CONSTRAINT_UNIQUE */) {
          throw new StoreError("R3_ERR_STORE_CONFLICT", `a user named '${user.username}' exists`, { cause: error });
        }
        throw error;
      }
      return { id, username: user.username, role: user.role, createdAt: isoTime(now) };
    });
  }

  findUserCredentials(username: string): Promise<(User & { passwordHash: string }) | undefined> {
    return promised(() => {
      this.open();
      const row = this.conn.get("SELECT * FROM users WHERE username = ?", username);
      return row === undefined ? undefined : { ...this.toUser(row), passwordHash: row.password_hash as string };
    });
  }

  getUser(id: string): Promise<User | undefined> {
    return promised(() => {
      this.open();
      const row = this.conn.get("SELECT * FROM users WHERE id = ?", id);
      return row === undefined ? undefined : this.toUser(row);
    });
  }

  listUsers(): Promise<User[]> {
    return promised(() => {
      this.open();
      return this.conn.all("SELECT * FROM users ORDER BY username").map((row) => this.toUser(row));
    });
  }

  deleteUser(id: string): Promise<boolean> {
    return promised(() => {
      this.open();
      return this.conn.transaction(() => this.conn.run("DELETE FROM users WHERE id = ?", id).changes > 0);
    });
  }

  countUsers(): Promise<number> {
    return promised(() => {
      this.open();
      return (this.conn.get("SELECT count(*) AS n FROM users") as { n: number }).n;
    });
  }

  createSession(session: { tokenHash: string; userId: string; expiresAt: string }): Promise<void> {
    return promised(() => {
      this.open();
      const expires = requireIsoTime(session.expiresAt, "expiresAt");
      this.conn.transaction(() =>
        this.conn.run(
          "INSERT INTO sessions (token_hash, user_id, expires_ms) VALUES (?, ?, ?)",
          session.tokenHash,
          session.userId,
          expires,
        ),
      );
    });
  }

  getSessionUser(tokenHash: string, now: string): Promise<User | undefined> {
    return promised(() => {
      this.open();
      const row = this.conn.get(
        "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_ms > ?",
        tokenHash,
        requireIsoTime(now, "now"),
      );
      return row === undefined ? undefined : this.toUser(row);
    });
  }

  deleteSession(tokenHash: string): Promise<void> {
    return promised(() => {
      this.open();
      this.conn.transaction(() => this.conn.run("DELETE FROM sessions WHERE token_hash = ?", tokenHash));
    });
  }

  appendAudit(entry: Omit<AuditEntry, "id">): Promise<AuditEntry> {
    return promised(() => {
      this.open();
      const id = randomUUID();
      this.conn.transaction(() =>
        this.conn.run(
          "INSERT INTO audit (id, time, actor, action, target, details) VALUES (?, ?, ?, ?, ?, ?)",
          id,
          entry.time,
          entry.actor,
          entry.action,
          entry.target ?? null,
          json(entry.details),
        ),
      );
      return { id, ...entry };
    });
  }

  listAudit(page: PageRequest): Promise<PageResult<AuditEntry>> {
    return promised(() => {
      this.open();
      const limit = clampLimit(page.limit);
      const before =
        page.cursor === undefined
          ? Number.MAX_SAFE_INTEGER
          : (decodeCursor(page.cursor, "audit", ["number"])[0] as number);
      const rows = this.conn.all("SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?", before, limit + 1);
      const items = rows.slice(0, limit).map((r): AuditEntry => ({
        id: r.id as string,
        time: r.time as string,
        actor: r.actor as string,
        action: r.action as string,
        ...(r.target === null ? {} : { target: r.target as string }),
        ...(r.details === null ? {} : { details: JSON.parse(r.details as string) as unknown }),
      }));
      const last = rows[limit - 1];
      return rows.length > limit && last !== undefined
        ? { items, nextCursor: encodeCursor("audit", [last.seq as number]) }
        : { items };
    });
  }

  // ---- enrollment --------------------------------------------------------------------------------------------

  private toToken(row: Row): EnrollmentToken {
    return {
      id: row.id as string,
      ...(row.description === null ? {} : { description: row.description as string }),
      createdBy: row.created_by as string,
      createdAt: isoTime(row.created_ms as number),
      expiresAt: isoTime(row.expires_ms as number),
      ...(row.max_uses === null ? {} : { maxUses: row.max_uses as number }),
      uses: row.uses as number,
      revoked: row.revoked === 1,
    };
  }

  createEnrollmentToken(
    token: Omit<EnrollmentToken, "id" | "uses" | "revoked"> & { secretHash: string },
  ): Promise<EnrollmentToken> {
    return promised(() => {
      this.open();
      const id = randomUUID();
      const row = this.conn.transaction(() =>
        this.conn.get(
          `INSERT INTO enrollment_tokens (id, secret_hash, description, created_by, created_ms, expires_ms, max_uses)
           VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          id,
          token.secretHash,
          token.description ?? null,
          token.createdBy,
          requireIsoTime(token.createdAt, "createdAt"),
          requireIsoTime(token.expiresAt, "expiresAt"),
          token.maxUses ?? null,
        ),
      );
      return this.toToken(row as Row);
    });
  }

  listEnrollmentTokens(): Promise<EnrollmentToken[]> {
    return promised(() => {
      this.open();
      return this.conn.all("SELECT * FROM enrollment_tokens ORDER BY no DESC").map((r) => this.toToken(r));
    });
  }

  revokeEnrollmentToken(id: string): Promise<boolean> {
    return promised(() => {
      this.open();
      return this.conn.transaction(
        () => this.conn.run("UPDATE enrollment_tokens SET revoked = 1 WHERE id = ?", id).changes > 0,
      );
    });
  }

  consumeEnrollmentToken(secretHash: string, now: string): Promise<EnrollmentToken | undefined> {
    return promised(() => {
      this.open();
      const nowMs = requireIsoTime(now, "now");
      // One UPDATE checks and spends: two agents racing for the last use cannot both get it.
      const row = this.conn.transaction(() =>
        this.conn.get(
          `UPDATE enrollment_tokens SET uses = uses + 1
           WHERE secret_hash = ? AND revoked = 0 AND expires_ms > ? AND (max_uses IS NULL OR uses < max_uses) RETURNING *`,
          secretHash,
          nowMs,
        ),
      );
      return row === undefined ? undefined : this.toToken(row);
    });
  }

  // ---- hosts -------------------------------------------------------------------------------------------------

  private static readonly HOST_SELECT = `SELECT h.*, ${hostHealthSql("h.")} AS health, (SELECT count(*) FROM alerts a WHERE a.host_no = h.no AND a.status IN ('new', 'in_progress')) AS open_alerts FROM hosts h`;

  private toHost(row: Row): Host {
    return {
      id: row.id as string,
      hostname: row.hostname as string,
      machineId: row.machine_id as string,
      os: row.os as string,
      ...(row.os_version === null ? {} : { osVersion: row.os_version as string }),
      agentVersion: row.agent_version as string,
      ...(row.content_version === null ? {} : { contentVersion: row.content_version as string }),
      enrolledAt: isoTime(row.enrolled_ms as number),
      ...(row.last_seen_ms === null ? {} : { lastSeen: isoTime(row.last_seen_ms as number) }),
      state: row.state as Host["state"],
      health: row.health as HostHealth,
      isolated: row.isolated === 1,
      sensors: JSON.parse(row.sensors as string) as Host["sensors"],
      queueDepth: row.queue_depth as number,
      dropped: JSON.parse(row.dropped as string) as Host["dropped"],
      openAlerts: row.open_alerts as number,
    };
  }

  async createHost(host: HostRegistration): Promise<Host> {
    this.open();
    const id = randomUUID();
    const row = this.conn.transaction(() =>
      this.conn.get(
        `INSERT INTO hosts (id, hostname, machine_id, os, os_version, agent_version, credential_hash, enrolled_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING no, id, hostname, credential_hash`,
        id,
        host.hostname,
        host.machineId,
        host.os,
        host.osVersion ?? null,
        host.agentVersion,
        host.credentialHash,
        requireIsoTime(host.enrolledAt, "enrolledAt"),
      ),
    ) as { no: number; id: string; hostname: string; credential_hash: string };
    this.rememberHost(row);
    return (await this.getHost(id)) as Host;
  }

  getHost(id: string): Promise<Host | undefined> {
    return promised(() => {
      this.open();
      const row = this.conn.get(`${SqliteStore.HOST_SELECT} WHERE h.id = ?`, id);
      return row === undefined ? undefined : this.toHost(row);
    });
  }

  getAgentByCredential(credentialHash: string): Promise<AgentIdentity | undefined> {
    return promised(() => {
      this.open();
      const ref = this.hostsByCredential.get(credentialHash);
      return ref === undefined ? undefined : { id: ref.id, hostname: ref.hostname };
    });
  }

  listHosts(query: HostQuery): Promise<PageResult<Host>> {
    return promised(() => {
      this.open();
      const limit = clampLimit(query.limit);
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (query.q !== undefined && query.q !== "") {
        where.push("instr(r3_fold(h.hostname), ?) > 0");
        params.push(fold(query.q));
      }
      if (query.health !== undefined && query.health.length > 0) {
        where.push(`${hostHealthSql("h.")} IN (SELECT value FROM json_each(?))`);
        params.push(JSON.stringify(query.health));
      }
      if (query.cursor !== undefined) {
        const [hostname, no] = decodeCursor(query.cursor, "hosts", ["string", "number"]) as [string, number];
        where.push("(h.hostname > ? OR (h.hostname = ? AND h.no > ?))");
        params.push(hostname, hostname, no);
      }
      // hosts_hostname holds (hostname, no): a page walks the index from the cursor on.
      const rows = this.conn.all(
        `${SqliteStore.HOST_SELECT} ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
         ORDER BY h.hostname, h.no LIMIT ?`,
        ...params,
        limit + 1,
      );
      const items = rows.slice(0, limit).map((r) => this.toHost(r));
      const last = rows[limit - 1];
      if (rows.length <= limit || last === undefined) return { items };
      return { items, nextCursor: encodeCursor("hosts", [last.hostname as string, last.no as number]) };
    });
  }

  countHosts(): Promise<HostCounts> {
    return promised(() => {
      this.open();
      const byState = Object.fromEntries(HOST_STATES.map((state) => [state, 0])) as Record<Host["state"], number>;
      const byHealth = Object.fromEntries(HOST_HEALTHS.map((health) => [health, 0])) as Record<HostHealth, number>;
      let isolated = 0;
      // One walk of the hosts_fleet index (state, isolated, degraded), never of the host rows: listing the
      // hosts took ~20 ms per 1,000 of them, on the thread that answers their heartbeats.
      for (const row of this.conn.all<{ health: HostHealth; state: Host["state"]; isolated: number; n: number }>(
        `SELECT ${hostHealthSql("")} AS health, state, isolated, count(*) AS n FROM hosts
         GROUP BY state, isolated, degraded`,
      )) {
        byHealth[row.health] += row.n;
        byState[row.state] += row.n;
        if (row.isolated === 1) isolated += row.n;
      }
      return { byState, byHealth, isolated };
    });
  }

  recordHeartbeats(beats: readonly HeartbeatInput[]): Promise<(HeartbeatRecord | undefined)[]> {
    return promised(() => {
      this.open();
      const received = beats.map((beat) => requireIsoTime(beat.receivedAt, "receivedAt"));
      return this.conn.transaction(() => beats.map((beat, i) => this.recordHeartbeat(beat, received[i]!)));
    });
  }

  private recordHeartbeat({ hostId, heartbeat }: HeartbeatInput, receivedMs: number): HeartbeatRecord | undefined {
    const ref = this.hostsById.get(hostId);
    if (ref === undefined) return undefined;
    const before = this.conn.get<{ health: HostHealth; isolated: number; agent_version: string }>(
      `SELECT ${hostHealthSql("")} AS health, isolated, agent_version FROM hosts WHERE no = ?`,
      ref.no,
    )!;
    const notStarted = Object.values(heartbeat.sensors).filter((sensor) => sensor.state !== "started").length;
    const { health } = this.conn.get<{ health: HostHealth }>(
      `UPDATE hosts SET last_seen_ms = ?, state = 'online', agent_version = ?, content_version = ?, sensors = ?,
         degraded = ?, queue_depth = ?, dropped = ?, isolated = ? WHERE no = ? RETURNING ${hostHealthSql("")} AS health`,
      receivedMs,
      heartbeat.agentVersion,
      heartbeat.contentVersion,
      JSON.stringify(heartbeat.sensors),
      notStarted,
      heartbeat.queueDepth,
      JSON.stringify(heartbeat.dropped),
      heartbeat.isolated ? 1 : 0,
      ref.no,
    )!;
    const changed =
      health !== before.health ||
      before.isolated !== (heartbeat.isolated ? 1 : 0) ||
      before.agent_version !== heartbeat.agentVersion;
    return { health, changed };
  }

  async markSilentHosts(silentBefore: string): Promise<Host[]> {
    this.open();
    const ids = this.conn.transaction(() =>
      this.conn.all<{ id: string }>(
        `UPDATE hosts SET state = 'silent' WHERE state = 'online' AND coalesce(last_seen_ms, enrolled_ms) < ? RETURNING id`,
        requireIsoTime(silentBefore, "silentBefore"),
      ),
    );
    const hosts: Host[] = [];
    for (const { id } of ids) {
      const host = await this.getHost(id);
      if (host !== undefined) hosts.push(host);
    }
    return hosts;
  }

  // ---- ingest ------------------------------------------------------------------------------------------------

  async ingestBatch(batch: IngestBatchInput): Promise<IngestResult> {
    const outcome = (await this.ingestBatches([batch]))[0]!;
    if (outcome.status === "rejected") throw outcome.reason;
    return outcome.value;
  }

  async ingestBatches(batches: readonly IngestBatchInput[]): Promise<PromiseSettledResult<IngestResult>[]> {
    this.open();
    if (batches.length === 0) return [];
    await this.awaitIndexCapacity();
    this.open();
    const after = this.lastSeq;
    // The worker gets what it indexes from here; inline indexing reads the events back instead.
    const inputs: IndexInputs | undefined = this.worker === undefined ? undefined : [];
    let outcomes: PromiseSettledResult<IngestResult>[];
    // First without savepoints, which are not free: SQLite copies every page a batch changes into the
    // savepoint's journal (some 8% of the CPU of a big batch), and a fleet's groups are of many small batches.
    // Batches seldom fail; when one does, the group is rolled back and stored again with a savepoint per
    // batch, so that one alone fails.
    try {
      outcomes = this.conn.transaction(() =>
        batches.map((batch): PromiseSettledResult<IngestResult> => ({
          status: "fulfilled",
          value: this.ingestOne(batch, inputs),
        })),
      );
    } catch (error) {
      this.forgetRolledBack(after);
      if (batches.length === 1) return [{ status: "rejected", reason: error }];
      if (inputs !== undefined) inputs.length = 0;
      try {
        outcomes = this.conn.transaction(() => batches.map((batch) => this.ingestInSavepoint(batch, inputs)));
      } catch (groupError) {
        this.forgetRolledBack(after);
        throw groupError;
      }
    }
    // One hand-off for the group: its events have consecutive seqs (a failed batch gave its seqs back).
    if (this.lastSeq > after) this.indexNewEvents(after, inputs ?? []);
    return outcomes;
  }

  /** One batch of a group, in a savepoint of the group's transaction: when it fails, it alone is rolled back. */
  private ingestInSavepoint(
    batch: IngestBatchInput,
    inputs: IndexInputs | undefined,
  ): PromiseSettledResult<IngestResult> {
    const seqBefore = this.lastSeq;
    const inputsBefore = inputs?.length ?? 0;
    try {
      return { status: "fulfilled", value: this.conn.transaction(() => this.ingestOne(batch, inputs)) };
    } catch (error) {
      // SQLite ended the whole transaction (it does on SQLITE_FULL and IOERR): the group fails with it.
      if (!this.conn.db.isTransaction) throw error;
      // The group goes on without this batch.
      this.forgetRolledBack(seqBefore);
      if (inputs !== undefined) inputs.length = inputsBefore;
      return { status: "rejected", reason: error };
    }
  }

  /** After a rollback: the logsources and seqs it took are gone again, back to `seq`. */
  private forgetRolledBack(seq: number): void {
    this.loadLogsources();
    this.lastSeq = seq;
  }

  private ingestOne(batch: IngestBatchInput, inputs: IndexInputs | undefined): IngestResult {
    const host = this.requireHost(batch.hostId);
    return this.ingestInTransaction(host, batch, requireIsoTime(batch.receivedAt, "receivedAt"), inputs);
  }

  private ingestInTransaction(
    host: HostRef,
    batch: { batchId: string; events: readonly WireEvent[]; alerts: readonly (WireAlert & { groupKey: string })[] },
    receivedMs: number,
    inputs: IndexInputs | undefined,
  ): IngestResult {
    const claimed = this.conn.run(
      "INSERT OR IGNORE INTO batches (host_no, batch_id, received_ms, events, alerts) VALUES (?, ?, ?, 0, 0)",
      host.no,
      batch.batchId,
      receivedMs,
    );
    if (claimed.changes === 0) {
      const earlier = this.conn.get<{ events: number; alerts: number }>(
        "SELECT events, alerts FROM batches WHERE host_no = ? AND batch_id = ?",
        host.no,
        batch.batchId,
      );
      return { duplicate: true, events: earlier?.events ?? 0, alerts: earlier?.alerts ?? 0, newAlerts: [] };
    }
    const insert = this.conn.writer(
      `INSERT OR IGNORE INTO events (seq, host_no, event_id, time_ms, time, received_ms, logsource_id, host, fields, raw)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    let events = 0;
    for (const event of batch.events) {
      const parsed = parseIsoTime(event.time);
      // An unreadable time is kept as sent and the event filed at its arrival: never dropped.
      const timeMs = parsed ?? receivedMs;
      const timeText = parsed !== undefined && isCanonicalIso(event.time, parsed) ? null : event.time;
      const logsourceId = this.logsourceId(event.logsource);
      const seq = this.lastSeq + 1;
      const inserted = insert.run(
        seq,
        host.no,
        event.id,
        timeMs,
        timeText,
        receivedMs,
        logsourceId,
        event.host === host.hostname ? null : event.host,
        JSON.stringify(event.fields),
        json(event.raw),
      );
      if (inserted.changes > 0) {
        events += 1;
        this.lastSeq = seq;
        if (inputs !== undefined)
          pushIndexInput(inputs, seq, host.no, logsourceId, event.logsource.category ?? "", timeMs, event.fields);
      }
    }
    if (events > 0) {
      this.conn.run("UPDATE counters SET value = value + ? WHERE name = 'events'", events);
      this.conn.run("UPDATE counters SET value = ? WHERE name = 'last_seq'", this.lastSeq);
    }

    const newAlerts: Alert[] = [];
    let alerts = 0;
    if (batch.alerts.length > 0) {
      // Built on the first lookup (a suppression by field): most batches never need it, and it costs a
      // tenth of the storing of their events.
      let batchEvents: Map<string, WireEvent> | undefined;
      const suppressions = this.activeSuppressions(receivedMs);
      for (const alert of batch.alerts) {
        const recorded = this.recordAlert(host, alert, suppressions, (id) =>
          (batchEvents ??= new Map(batch.events.map((e) => [e.id, e]))).get(id),
        );
        if (recorded === undefined) continue;
        alerts += 1;
        if (recorded.created && !recorded.suppressed) newAlerts.push(this.alertByNo(recorded.no));
      }
    }
    this.conn.run(
      "UPDATE batches SET events = ?, alerts = ? WHERE host_no = ? AND batch_id = ?",
      events,
      alerts,
      host.no,
      batch.batchId,
    );
    return { duplicate: false, events, alerts, newAlerts };
  }

  // ---- alerts ------------------------------------------------------------------------------------------------

  private static readonly ALERT_SELECT =
    "SELECT a.*, h.id AS host_id, h.hostname FROM alerts a JOIN hosts h ON h.no = a.host_no";

  private toAlert(row: Row): Alert {
    return {
      id: row.id as string,
      time: row.time as string,
      eventId: row.event_id as string,
      ruleId: row.rule_id as string,
      title: row.title as string,
      level: row.level as Alert["level"],
      ...(row.author === null ? {} : { author: row.author as string }),
      tags: JSON.parse(row.tags as string) as string[],
      techniques: JSON.parse(row.techniques as string) as string[],
      tactics: JSON.parse(row.tactics as string) as string[],
      ...(row.explanation === null
        ? {}
        : { explanation: JSON.parse(row.explanation as string) as Alert["explanation"] }),
      ...(row.ancestry === null ? {} : { ancestry: JSON.parse(row.ancestry as string) as Alert["ancestry"] }),
      hostId: row.host_id as string,
      hostname: row.hostname as string,
      status: row.status as Alert["status"],
      ...(row.assignee === null ? {} : { assignee: row.assignee as string }),
      groupKey: row.group_key as string,
      count: row.count as number,
      firstSeen: isoTime(row.first_seen_ms as number),
      lastSeen: isoTime(row.last_seen_ms as number),
    };
  }

  private alertByNo(no: number): Alert {
    return this.toAlert(this.conn.get(`${SqliteStore.ALERT_SELECT} WHERE a.no = ?`, no) as Row);
  }

  private activeSuppressions(nowMs: number): Suppression[] {
    return this.conn
      .all("SELECT * FROM suppressions WHERE expires_ms > ? ORDER BY no", nowMs)
      .map((r) => this.toSuppression(r));
  }

  /**
   * Files one sighting of an alert. Repeats of (host, rule, group key) count into the latest such alert while
   * it is open or marked false positive; once resolved, a repeat opens a new alert. A sighting an unexpired
   * suppression matches goes into a new or the latest suppressed alert, stored resolved, never new.
   * Undefined when this sighting (host, wire id) was filed before: a resent batch counts nothing twice.
   */
  private recordAlert(
    host: HostRef,
    alert: WireAlert & { groupKey: string },
    suppressions: readonly Suppression[],
    batchEvent: (id: string) => WireEvent | undefined,
  ): Alerted | undefined {
    if (
      this.conn.get("SELECT 1 AS x FROM alert_sightings WHERE host_no = ? AND wire_id = ?", host.no, alert.id) !==
      undefined
    ) {
      return undefined;
    }
    const timeMs = parseIsoTime(alert.time) ?? Date.now();
    const suppression = suppressions.find((s) => this.suppresses(s, host, alert, batchEvent));
    const latest = this.conn.get<{ no: number; status: string; suppression_id: string | null }>(
      "SELECT no, status, suppression_id FROM alerts WHERE host_no = ? AND rule_id = ? AND group_key = ? ORDER BY no DESC LIMIT 1",
      host.no,
      alert.ruleId,
      alert.groupKey,
    );
    let recorded: Alerted;
    if (
      latest !== undefined &&
      (latest.status !== "resolved" || (latest.suppression_id !== null && suppression !== undefined))
    ) {
      this.conn.run(
        "UPDATE alerts SET count = count + 1, last_seen_ms = max(last_seen_ms, ?), first_seen_ms = min(first_seen_ms, ?) WHERE no = ?",
        timeMs,
        timeMs,
        latest.no,
      );
      recorded = { no: latest.no, created: false, suppressed: latest.suppression_id !== null };
    } else {
      // The agent's id is deterministic per rule and event; another host could send the same one.
      const taken = this.conn.get("SELECT 1 AS x FROM alerts WHERE id = ?", alert.id) !== undefined;
      const no = this.conn.run(
        `INSERT INTO alerts (id, host_no, rule_id, group_key, title, level, level_rank, status, author, tags, techniques,
           tactics, explanation, ancestry, event_id, time, first_seen_ms, last_seen_ms, count, suppression_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
        taken ? randomUUID() : alert.id,
        host.no,
        alert.ruleId,
        alert.groupKey,
        alert.title,
        alert.level,
        LEVEL_RANK[alert.level] ?? 0,
        suppression === undefined ? "new" : "resolved",
        alert.author ?? null,
        JSON.stringify(alert.tags),
        JSON.stringify(alert.techniques),
        JSON.stringify(alert.tactics),
        json(alert.explanation),
        json(alert.ancestry),
        alert.eventId,
        alert.time,
        timeMs,
        timeMs,
        suppression?.id ?? null,
      ).lastInsertRowid;
      recorded = { no, created: true, suppressed: suppression !== undefined };
    }
    this.conn.run(
      "INSERT INTO alert_sightings (host_no, wire_id, alert_no, time_ms, event_id) VALUES (?, ?, ?, ?, ?)",
      host.no,
      alert.id,
      recorded.no,
      timeMs,
      alert.eventId,
    );
    return recorded;
  }

  private suppresses(
    s: Suppression,
    host: HostRef,
    alert: WireAlert,
    batchEvent: (id: string) => WireEvent | undefined,
  ): boolean {
    if (s.ruleId !== undefined && s.ruleId !== alert.ruleId) return false;
    if (s.hostId !== undefined && s.hostId !== host.id) return false;
    if (s.field === undefined) return true;
    const fields =
      batchEvent(alert.eventId)?.fields ??
      (() => {
        const row = this.conn.get<{ fields: string }>(
          "SELECT fields FROM events WHERE host_no = ? AND event_id = ?",
          host.no,
          alert.eventId,
        );
        return row === undefined ? undefined : (JSON.parse(row.fields) as Record<string, unknown>);
      })();
    if (fields === undefined) return false;
    const texts = valueTexts(fields[s.field]);
    return s.value === undefined ? texts.length > 0 : texts.includes(fold(s.value));
  }

  insertServerAlert(hostId: string, alert: WireAlert & { groupKey: string }): Promise<Alert> {
    return promised(() => {
      this.open();
      const host = this.requireHost(hostId);
      return this.conn.transaction(() => {
        const recorded = this.recordAlert(
          host,
          alert,
          this.activeSuppressions(parseIsoTime(alert.time) ?? Date.now()),
          () => undefined,
        );
        if (recorded !== undefined) return this.alertByNo(recorded.no);
        const sighting = this.conn.get<{ alert_no: number }>(
          "SELECT alert_no FROM alert_sightings WHERE host_no = ? AND wire_id = ?",
          host.no,
          alert.id,
        );
        return this.alertByNo((sighting as { alert_no: number }).alert_no);
      });
    });
  }

  listAlerts(query: AlertQuery): Promise<PageResult<Alert>> {
    return promised(() => {
      this.open();
      const limit = clampLimit(query.limit);
      const sort = query.sort ?? "lastSeen";
      const order = query.order ?? "desc";
      const column = {
        lastSeen: "a.last_seen_ms",
        firstSeen: "a.first_seen_ms",
        level: "a.level_rank",
        rule: "a.rule_id",
        host: "h.hostname",
        status: "a.status",
        count: "a.count",
      }[sort];
      const numeric = sort !== "rule" && sort !== "host" && sort !== "status";
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (query.status !== undefined && query.status.length > 0) {
        where.push("a.status IN (SELECT value FROM json_each(?))");
        params.push(JSON.stringify(query.status));
      }
      if (query.level !== undefined && query.level.length > 0) {
        where.push("a.level IN (SELECT value FROM json_each(?))");
        params.push(JSON.stringify(query.level));
      }
      if (query.hostId !== undefined) {
        where.push("h.id = ?");
        params.push(query.hostId);
      }
      if (query.ruleId !== undefined) {
        where.push("a.rule_id = ?");
        params.push(query.ruleId);
      }
      if (query.technique !== undefined) {
        where.push("EXISTS (SELECT 1 FROM json_each(a.techniques) t WHERE t.value = ? COLLATE NOCASE)");
        params.push(query.technique);
      }
      if (query.q !== undefined && query.q !== "") {
        where.push(
          "(instr(r3_fold(a.title), ?) > 0 OR instr(r3_fold(a.rule_id), ?) > 0 OR instr(r3_fold(h.hostname), ?) > 0)",
        );
        const q = fold(query.q);
        params.push(q, q, q);
      }
      if (query.from !== undefined) {
        where.push("a.last_seen_ms >= ?");
        params.push(requireIsoTime(query.from, "from"));
      }
      if (query.to !== undefined) {
        where.push("a.first_seen_ms <= ?");
        params.push(requireIsoTime(query.to, "to"));
      }
      const listing = `alerts:${sort}:${order}`;
      if (query.cursor !== undefined) {
        const [value, no] = decodeCursor(query.cursor, listing, [numeric ? "number" : "string", "number"]) as [
          number | string,
          number,
        ];
        const cmp = order === "desc" ? "<" : ">";
        where.push(`(${column} ${cmp} ? OR (${column} = ? AND a.no ${cmp} ?))`);
        params.push(value, value, no);
      }
      const dir = order === "desc" ? "DESC" : "ASC";
      const rows = this.conn.all(
        `${SqliteStore.ALERT_SELECT} ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
         ORDER BY ${column} ${dir}, a.no ${dir} LIMIT ?`,
        ...params,
        limit + 1,
      );
      const items = rows.slice(0, limit).map((r) => this.toAlert(r));
      const last = rows[limit - 1];
      if (rows.length <= limit || last === undefined) return { items };
      const key = {
        lastSeen: last.last_seen_ms,
        firstSeen: last.first_seen_ms,
        level: last.level_rank,
        rule: last.rule_id,
        host: last.hostname,
        status: last.status,
        count: last.count,
      }[sort] as number | string;
      return { items, nextCursor: encodeCursor(listing, [key, last.no as number]) };
    });
  }

  getAlert(id: string): Promise<Alert | undefined> {
    return promised(() => this.alertById(id));
  }

  private alertById(id: string): Alert | undefined {
    this.open();
    const row = this.conn.get(`${SqliteStore.ALERT_SELECT} WHERE a.id = ?`, id);
    return row === undefined ? undefined : this.toAlert(row);
  }

  private updateSql(update: AlertUpdate): { sets: string[]; params: (string | null)[] } {
    const sets: string[] = [];
    const params: (string | null)[] = [];
    if (update.status !== undefined) {
      sets.push("status = ?");
      params.push(update.status);
    }
    if (update.assignee !== undefined) {
      sets.push("assignee = ?");
      params.push(update.assignee);
    }
    return { sets, params };
  }

  updateAlert(id: string, update: AlertUpdate): Promise<Alert | undefined> {
    return promised(() => {
      this.open();
      const { sets, params } = this.updateSql(update);
      if (sets.length > 0) {
        this.conn.transaction(() => this.conn.run(`UPDATE alerts SET ${sets.join(", ")} WHERE id = ?`, ...params, id));
      }
      return this.alertById(id);
    });
  }

  bulkUpdateAlerts(bulk: AlertBulkUpdate): Promise<number> {
    return promised(() => {
      this.open();
      const { sets, params } = this.updateSql(bulk.update);
      if (sets.length === 0) return 0;
      return this.conn.transaction(
        () =>
          this.conn.run(
            `UPDATE alerts SET ${sets.join(", ")} WHERE id IN (SELECT value FROM json_each(?))`,
            ...params,
            JSON.stringify(bulk.ids),
          ).changes,
      );
    });
  }

  addComment(comment: Omit<AlertComment, "id">): Promise<AlertComment> {
    return promised(() => {
      this.open();
      const id = randomUUID();
      this.conn.transaction(() =>
        this.conn.run(
          "INSERT INTO alert_comments (id, alert_id, author, text, time) VALUES (?, ?, ?, ?, ?)",
          id,
          comment.alertId,
          comment.author,
          comment.text,
          comment.time,
        ),
      );
      return { id, ...comment };
    });
  }

  listComments(alertId: string): Promise<AlertComment[]> {
    return promised(() => {
      this.open();
      return this.conn.all("SELECT * FROM alert_comments WHERE alert_id = ? ORDER BY no", alertId).map((r) => ({
        id: r.id as string,
        alertId: r.alert_id as string,
        author: r.author as string,
        text: r.text as string,
        time: r.time as string,
      }));
    });
  }

  alertStats(range: { from: string; to: string }): Promise<AlertStats> {
    return promised(() => {
      this.open();
      const from = requireIsoTime(range.from, "from");
      const to = requireIsoTime(range.to, "to");
      // Sightings in the range, of alerts not suppressed: a grouped alert counts every time it fired.
      const scope = `FROM alert_sightings s JOIN alerts a ON a.no = s.alert_no
        WHERE s.time_ms >= ? AND s.time_ms <= ? AND a.suppression_id IS NULL`;
      return this.conn.snapshot(() => ({
        byLevel: Object.fromEntries(
          this.conn
            .all<{ level: string; n: number }>(`SELECT a.level, count(*) AS n ${scope} GROUP BY a.level`, from, to)
            .map((r) => [r.level, r.n]),
        ),
        byTactic: Object.fromEntries(
          this.conn
            .all<{ tactic: string; n: number }>(
              `SELECT t.value AS tactic, count(*) AS n FROM alert_sightings s JOIN alerts a ON a.no = s.alert_no, json_each(a.tactics) t
               WHERE s.time_ms >= ? AND s.time_ms <= ? AND a.suppression_id IS NULL GROUP BY t.value`,
              from,
              to,
            )
            .map((r) => [r.tactic, r.n]),
        ),
        topRules: this.conn
          .all<{ rule_id: string; title: string; n: number }>(
            `SELECT a.rule_id, max(a.title) AS title, count(*) AS n ${scope} GROUP BY a.rule_id ORDER BY n DESC, a.rule_id LIMIT 10`,
            from,
            to,
          )
          .map((r) => ({ ruleId: r.rule_id, title: r.title, count: r.n })),
        topHosts: this.conn
          .all<{ host_no: number; n: number }>(
            `SELECT a.host_no, count(*) AS n ${scope} GROUP BY a.host_no ORDER BY n DESC, a.host_no LIMIT 10`,
            from,
            to,
          )
          .map((r) => {
            const host = this.hostRef(r.host_no);
            return { hostId: host.id, hostname: host.hostname, count: r.n };
          }),
        series: this.conn
          .all<{ hour: number; level: string; n: number }>(
            `SELECT s.time_ms / ${HOUR_MS} AS hour, a.level, count(*) AS n ${scope} GROUP BY hour, a.level ORDER BY hour, a.level`,
            from,
            to,
          )
          .map((r) => ({ bucket: isoTime(r.hour * HOUR_MS), level: r.level, count: r.n })),
      }));
    });
  }

  // ---- suppressions ------------------------------------------------------------------------------------------

  private toSuppression(row: Row): Suppression {
    return {
      id: row.id as string,
      ...(row.rule_id === null ? {} : { ruleId: row.rule_id as string }),
      ...(row.host_id === null ? {} : { hostId: row.host_id as string }),
      ...(row.field === null ? {} : { field: row.field as string }),
      ...(row.value === null ? {} : { value: row.value as string }),
      reason: row.reason as string,
      expiresAt: row.expires_at as string,
      createdBy: row.created_by as string,
      createdAt: row.created_at as string,
    };
  }

  createSuppression(s: SuppressionCreate & { createdBy: string; createdAt: string }): Promise<Suppression> {
    return promised(() => {
      this.open();
      const id = randomUUID();
      const row = this.conn.transaction(() =>
        this.conn.get(
          `INSERT INTO suppressions (id, rule_id, host_id, field, value, reason, expires_ms, expires_at, created_by, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          id,
          s.ruleId ?? null,
          s.hostId ?? null,
          s.field ?? null,
          s.value ?? null,
          s.reason,
          requireIsoTime(s.expiresAt, "expiresAt"),
          s.expiresAt,
          s.createdBy,
          s.createdAt,
        ),
      );
      return this.toSuppression(row as Row);
    });
  }

  listSuppressions(now: string): Promise<Suppression[]> {
    return promised(() => {
      this.open();
      return this.conn
        .all("SELECT * FROM suppressions WHERE expires_ms > ? ORDER BY no DESC", requireIsoTime(now, "now"))
        .map((r) => this.toSuppression(r));
    });
  }

  deleteSuppression(id: string): Promise<boolean> {
    return promised(() => {
      this.open();
      return this.conn.transaction(() => this.conn.run("DELETE FROM suppressions WHERE id = ?", id).changes > 0);
    });
  }

  // ---- events ------------------------------------------------------------------------------------------------

  searchEvents(query: EventSearch): Promise<PageResult<StoredEvent>> {
    return promised(() => {
      this.open();
      return searchEvents(this.searchContext, query);
    });
  }

  getEvent(hostId: string, eventId: string): Promise<StoredEvent | undefined> {
    return promised(() => {
      this.open();
      const host = this.hostsById.get(hostId);
      if (host === undefined) return undefined;
      const row = this.conn.get(
        `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.host_no = ? AND e.event_id = ?`,
        host.no,
        eventId,
      );
      return row === undefined ? undefined : toStoredEvent(this.searchContext, row);
    });
  }

  processTree(hostId: string, pid: number | undefined, at: string | undefined): Promise<ProcessTree> {
    return promised(() => {
      this.open();
      const atMs = at === undefined ? undefined : requireIsoTime(at, "at");
      if (!this.hostsById.has(hostId)) return { hostId, ...(pid === undefined ? {} : { focusPid: pid }), nodes: [] };
      return this.conn.snapshot(() => processTree(this.searchContext, hostId, pid, atMs));
    });
  }

  /**
   * Events and alerts of a host, newest first; an alert sits at its last sighting, before the events of the
   * same millisecond. Keyset (time, kind, row) so the two streams page together.
   */
  timeline(hostId: string, range: { from?: string; to?: string } & PageRequest): Promise<PageResult<TimelineItem>> {
    return promised(() => {
      this.open();
      const host = this.hostsById.get(hostId);
      if (host === undefined) return { items: [] };
      const limit = clampLimit(range.limit);
      const from = range.from === undefined ? -Number.MAX_SAFE_INTEGER : requireIsoTime(range.from, "from");
      let t = range.to === undefined ? Number.MAX_SAFE_INTEGER : requireIsoTime(range.to, "to");
      let kind = 2;
      let row = Number.MAX_SAFE_INTEGER;
      if (range.cursor !== undefined) {
        const [ct, ck, cn] = decodeCursor(range.cursor, "timeline", ["number", "number", "number"]) as [
          number,
          number,
          number,
        ];
        if (ct <= t) [t, kind, row] = [ct, ck, cn];
      }
      const ALERT = 1;
      const EVENT = 0;
      return this.conn.snapshot(() => {
        const events = this.conn.all(
          `SELECT ${EVENT_COLUMNS} FROM events e INDEXED BY events_host_time
           WHERE e.host_no = ? AND e.time_ms >= ? AND e.time_ms <= ? AND (e.time_ms < ? OR ? > ${EVENT} OR e.seq < ?)
           ORDER BY e.time_ms DESC, e.seq DESC LIMIT ?`,
          host.no,
          from,
          t,
          t,
          kind,
          kind === EVENT ? row : Number.MAX_SAFE_INTEGER,
          limit + 1,
        );
        const alerts = this.conn.all(
          `${SqliteStore.ALERT_SELECT} WHERE a.host_no = ? AND a.last_seen_ms >= ? AND a.last_seen_ms <= ?
             AND (a.last_seen_ms < ? OR (? > ${ALERT} OR (? = ${ALERT} AND a.no < ?)))
           ORDER BY a.last_seen_ms DESC, a.no DESC LIMIT ?`,
          host.no,
          from,
          t,
          t,
          kind,
          kind,
          row,
          limit + 1,
        );
        type Keyed = { t: number; k: number; n: number; item: () => TimelineItem };
        const merged: Keyed[] = [
          ...events.map((r) => ({
            t: r.time_ms as number,
            k: EVENT,
            n: r.seq as number,
            item: (): TimelineItem => ({ kind: "event", event: toStoredEvent(this.searchContext, r) }),
          })),
          ...alerts.map((r) => ({
            t: r.last_seen_ms as number,
            k: ALERT,
            n: r.no as number,
            item: (): TimelineItem => ({ kind: "alert", alert: this.toAlert(r) }),
          })),
        ].sort((a, b) => b.t - a.t || b.k - a.k || b.n - a.n);
        const items = merged.slice(0, limit).map((m) => m.item());
        const last = merged[limit - 1];
        return merged.length > limit && last !== undefined
          ? { items, nextCursor: encodeCursor("timeline", [last.t, last.k, last.n]) }
          : { items };
      });
    });
  }

  // ---- commands ----------------------------------------------------------------------------------------------

  private static readonly COMMAND_SELECT =
    "SELECT c.*, h.id AS host_id FROM commands c JOIN hosts h ON h.no = c.host_no";

  private toCommand(row: Row): Command {
    return {
      id: row.id as string,
      hostId: (row.host_id as string | undefined) ?? this.hostRef(row.host_no as number).id,
      request: JSON.parse(row.request as string) as ResponseRequest,
      status: row.status as Command["status"],
      requestedBy: row.requested_by as string,
      ...(row.alert_id === null ? {} : { alertId: row.alert_id as string }),
      createdAt: isoTime(row.created_ms as number),
      deadline: isoTime(row.deadline_ms as number),
      ...(row.delivered_ms === null ? {} : { deliveredAt: isoTime(row.delivered_ms as number) }),
      ...(row.completed_ms === null ? {} : { completedAt: isoTime(row.completed_ms as number) }),
      ...(row.result === null ? {} : { result: JSON.parse(row.result as string) as ActionResult }),
    };
  }

  createCommand(command: {
    hostId: string;
    request: ResponseRequest;
    requestedBy: string;
    alertId?: string;
    createdAt: string;
    deadline: string;
  }): Promise<Command> {
    return promised(() => {
      this.open();
      const host = this.requireHost(command.hostId);
      const row = this.conn.transaction(() =>
        this.conn.get(
          `INSERT INTO commands (id, host_no, request, status, requested_by, alert_id, created_ms, deadline_ms)
           VALUES (?, ?, ?, 'queued', ?, ?, ?, ?) RETURNING *`,
          randomUUID(),
          host.no,
          JSON.stringify(command.request),
          command.requestedBy,
          command.alertId ?? null,
          requireIsoTime(command.createdAt, "createdAt"),
          requireIsoTime(command.deadline, "deadline"),
        ),
      );
      return this.toCommand(row as Row);
    });
  }

  countQueuedCommands(hostId: string, now: string): Promise<number> {
    return promised(() => {
      this.open();
      const host = this.hostsById.get(hostId);
      if (host === undefined) return 0;
      return (
        this.conn.get(
          "SELECT count(*) AS n FROM commands WHERE host_no = ? AND status = 'queued' AND deadline_ms > ?",
          host.no,
          requireIsoTime(now, "now"),
        ) as { n: number }
      ).n;
    });
  }

  claimCommands(hostId: string, now: string): Promise<Command[]> {
    return promised(() => {
      this.open();
      const host = this.hostsById.get(hostId);
      if (host === undefined) return [];
      const nowMs = requireIsoTime(now, "now");
      const rows = this.conn.transaction(() =>
        this.conn.all(
          `UPDATE commands SET status = 'delivered', delivered_ms = ?
           WHERE host_no = ? AND status = 'queued' AND deadline_ms > ? RETURNING *`,
          nowMs,
          host.no,
          nowMs,
        ),
      );
      return rows.sort((a, b) => (a.no as number) - (b.no as number)).map((r) => this.toCommand(r));
    });
  }

  completeCommand(hostId: string, id: string, result: ActionResult, now: string): Promise<Command | undefined> {
    return promised(() => {
      this.open();
      const host = this.hostsById.get(hostId);
      if (host === undefined) return undefined;
      const row = this.conn.transaction(() =>
        this.conn.get(
          `UPDATE commands SET status = ?, completed_ms = ?, result = ?
           WHERE id = ? AND host_no = ? AND status IN ('queued', 'delivered') RETURNING *`,
          result.ok ? "succeeded" : "failed",
          requireIsoTime(now, "now"),
          JSON.stringify(result),
          id,
          host.no,
        ),
      );
      return row === undefined ? undefined : this.toCommand(row);
    });
  }

  expireCommands(now: string): Promise<Command[]> {
    return promised(() => {
      this.open();
      const nowMs = requireIsoTime(now, "now");
      const rows = this.conn.transaction(() =>
        this.conn.all(
          `UPDATE commands SET status = 'timed_out', completed_ms = ?
           WHERE status IN ('queued', 'delivered') AND deadline_ms <= ? RETURNING *`,
          nowMs,
          nowMs,
        ),
      );
      return rows.sort((a, b) => (a.no as number) - (b.no as number)).map((r) => this.toCommand(r));
    });
  }

  getCommand(id: string): Promise<Command | undefined> {
    return promised(() => {
      this.open();
      const row = this.conn.get(`${SqliteStore.COMMAND_SELECT} WHERE c.id = ?`, id);
      return row === undefined ? undefined : this.toCommand(row);
    });
  }

  listCommands(query: { hostId?: string } & PageRequest): Promise<PageResult<Command>> {
    return promised(() => {
      this.open();
      const limit = clampLimit(query.limit);
      const before =
        query.cursor === undefined
          ? Number.MAX_SAFE_INTEGER
          : (decodeCursor(query.cursor, "commands", ["number"])[0] as number);
      let rows: Row[];
      if (query.hostId !== undefined) {
        const host = this.hostsById.get(query.hostId);
        if (host === undefined) return { items: [] };
        rows = this.conn.all(
          `${SqliteStore.COMMAND_SELECT} WHERE c.host_no = ? AND c.no < ? ORDER BY c.no DESC LIMIT ?`,
          host.no,
          before,
          limit + 1,
        );
      } else {
        rows = this.conn.all(
          `${SqliteStore.COMMAND_SELECT} WHERE c.no < ? ORDER BY c.no DESC LIMIT ?`,
          before,
          limit + 1,
        );
      }
      const items = rows.slice(0, limit).map((r) => this.toCommand(r));
      const last = rows[limit - 1];
      return rows.length > limit && last !== undefined
        ? { items, nextCursor: encodeCursor("commands", [last.no as number]) }
        : { items };
    });
  }

  // ---- housekeeping ------------------------------------------------------------------------------------------

  /** Bytes in use (pages not on the free list) of the events database and of the index. */
  private usedBytes(): { main: number; index: number } {
    const used = (schema: string): number => {
      const pages = (this.conn.get(`PRAGMA ${schema}.page_count`) as { page_count: number }).page_count;
      const free = (this.conn.get(`PRAGMA ${schema}.freelist_count`) as { freelist_count: number }).freelist_count;
      const size = (this.conn.get(`PRAGMA ${schema}.page_size`) as { page_size: number }).page_size;
      return (pages - free) * size;
    };
    return { main: used("main"), index: used("ix") };
  }

  /**
   * Deletes up to `count` of the oldest events before `olderThanMs` (or the oldest at all), one transaction;
   * moves `from` past them. The fleet-wide time order is the index's event_times (sqlite-schema.ts) merged with
   * the events it has not reached (past its watermark: a rowid range). Its rows of deleted events stay until
   * the index purges them: the join skips them, and `from` (where this run's previous slice stopped) keeps a
   * run from walking its own again.
   */
  private deleteOldestEvents(count: number, olderThanMs: number, from: { ms: number; seq: number }): number {
    return this.conn.transaction(() => {
      const oldest = this.conn.all<{ seq: number; time_ms: number }>(
        `SELECT seq, time_ms FROM (
           SELECT * FROM (
             SELECT t.seq, t.time_ms FROM ix.event_times t JOIN events e ON e.seq = t.seq
             WHERE t.time_ms < ?1 AND (t.time_ms > ?2 OR (t.time_ms = ?2 AND t.seq > ?3))
             ORDER BY t.time_ms, t.seq LIMIT ?4)
           UNION ALL
           SELECT seq, time_ms FROM events NOT INDEXED
           WHERE seq > (SELECT coalesce(max(value + 0), 0) FROM ix.index_state WHERE key = 'indexed_seq') AND time_ms < ?1
         ) ORDER BY time_ms, seq LIMIT ?4`,
        olderThanMs,
        from.ms,
        from.seq,
        count,
      );
      const last = oldest[oldest.length - 1];
      if (last === undefined) return 0;
      // Unindexed events may be older than `from`; it only moves on.
      if (last.time_ms > from.ms || (last.time_ms === from.ms && last.seq > from.seq)) {
        from.ms = last.time_ms;
        from.seq = last.seq;
      }
      const deleted = this.conn.run(
        "DELETE FROM events WHERE seq IN (SELECT value FROM json_each(?))",
        JSON.stringify(oldest.map((row) => row.seq)),
      ).changes;
      if (deleted > 0) this.conn.run("UPDATE counters SET value = value - ? WHERE name = 'events'", deleted);
      return deleted;
    });
  }

  /**
   * Age first (events, then resolved alerts, spent batch ids and expired sessions), then size: the oldest
   * events go until the events database is under its share of maxBytes (its share of the bytes in use when
   * the run starts; the index follows as whole days of it are dropped). In slices of RETENTION_CHUNK events,
   * one transaction each, yielding between them so ingest and the API keep running.
   */
  async applyRetention(
    policy: RetentionPolicy,
    now: string,
  ): Promise<{ eventsDeleted: number; alertsDeleted: number }> {
    this.open();
    const nowMs = requireIsoTime(now, "now");
    const cutoff = nowMs - policy.maxAgeDays * DAY_MS;
    let eventsDeleted = 0;
    const from = { ms: -Number.MAX_SAFE_INTEGER, seq: 0 };
    for (;;) {
      const deleted = this.deleteOldestEvents(RETENTION_CHUNK, cutoff, from);
      eventsDeleted += deleted;
      if (deleted < RETENTION_CHUNK) break;
      await nextTurn();
      this.open();
    }
    const alertsDeleted = this.conn.transaction(() => {
      const gone = this.conn.all<{ no: number; id: string }>(
        "DELETE FROM alerts WHERE status IN ('resolved', 'false_positive') AND last_seen_ms < ? RETURNING no, id",
        cutoff,
      );
      for (const { no, id } of gone) {
        this.conn.run("DELETE FROM alert_sightings WHERE alert_no = ?", no);
        this.conn.run("DELETE FROM alert_comments WHERE alert_id = ?", id);
      }
      this.conn.run("DELETE FROM batches WHERE received_ms < ?", cutoff);
      this.conn.run("DELETE FROM sessions WHERE expires_ms < ?", nowMs);
      return gone.length;
    });
    // The index shrinks a day at a time (whole terms tables), so it cannot be watched shrinking here: the
    // events database gets its present share of maxBytes as its target, fixed for this run.
    const start = this.usedBytes();
    const target = policy.maxBytes * (start.main / Math.max(1, start.main + start.index));
    for (;;) {
      const used = this.usedBytes().main;
      const events = (this.conn.get("SELECT value FROM counters WHERE name = 'events'") as { value: number }).value;
      if (start.main + start.index <= policy.maxBytes || used <= target || events === 0) break;
      const excess = Math.ceil((used - target) / (used / events));
      const deleted = this.deleteOldestEvents(
        Math.min(Math.max(excess, 100), RETENTION_CHUNK),
        Number.MAX_SAFE_INTEGER,
        from,
      );
      eventsDeleted += deleted;
      if (deleted === 0) break;
      await nextTurn();
      this.open();
    }
    if (eventsDeleted > 0) {
      // Each host's oldest through (host_no, time_ms): there is no fleet-wide time index on the events.
      const oldest = this.conn.get<{ t: number | null }>(
        "SELECT min((SELECT min(time_ms) FROM events WHERE host_no = h.no)) AS t FROM hosts h",
      )?.t;
      await this.purgeIndex(oldest ?? Number.MAX_SAFE_INTEGER);
    }
    return { eventsDeleted, alertsDeleted };
  }

  stats(): Promise<StoreStats> {
    return promised(() => {
      this.open();
      const used = this.usedBytes();
      return {
        events: (this.conn.get("SELECT value FROM counters WHERE name = 'events'") as { value: number }).value,
        alerts: (this.conn.get("SELECT count(*) AS n FROM alerts") as { n: number }).n,
        hosts: this.hostsById.size,
        bytes: used.main + used.index,
        indexLag: Math.max(0, this.lastSeq - this.indexedSeq),
        ...(this.indexProblem === undefined ? {} : { indexProblem: this.indexProblem }),
      };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (worker !== undefined) {
      const exited = new Promise<void>((done) => worker.once("exit", () => done()));
      worker.postMessage({ type: "close" } satisfies IndexWorkerRequest);
      await exited;
    }
    this.conn.close();
  }
}
