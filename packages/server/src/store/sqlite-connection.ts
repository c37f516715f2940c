import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { StoreError } from "./store-error.ts";

/** SQLite primary result codes (sqlite3.h) the store turns into its own codes. */
const SQLITE_PERM = 3;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

/**
 * An SQLite failure as a StoreError with a code callers can act on; anything else unchanged. SQLite reports
 * ENOSPC and a reached `max_page_count` alike as SQLITE_FULL, after rolling back the statement.
 */
export function storeErrorFrom(error: unknown): unknown {
  if (error instanceof StoreError) return error;
  const e = error as { code?: unknown; errcode?: unknown; message?: unknown };
  if (e.code !== "ERR_SQLITE_ERROR" || typeof e.errcode !== "number") return error;
  const message = typeof e.message === "string" ? e.message : "SQLite error";
  switch (e.errcode & 0xff) {
    case SQLITE_FULL:
      return new StoreError("R3_ERR_STORE_FULL", `the store is full: ${message}`, { cause: error });
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return new StoreError("R3_ERR_STORE_READ_ONLY", `the store cannot be written: ${message}`, { cause: error });
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return new StoreError("R3_ERR_STORE_CORRUPT", `the database file is damaged: ${message}`, { cause: error });
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new StoreError("R3_ERR_STORE_BUSY", `the database is locked: ${message}`, { cause: error });
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      return new StoreError("R3_ERR_STORE_OPEN", `the database file cannot be used: ${message}`, { cause: error });
    default:
      return error;
  }
}

export type Row = Record<string, unknown>;

/**
 * One DatabaseSync with its prepared statements cached by SQL text (each statement is compiled once) and
 * transactions that either commit whole or roll back whole, nested ones as savepoints.
 */
export class SqliteConnection {
  readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private depth = 0;

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  stmt(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  get<T = Row>(sql: string, ...params: SQLInputValue[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  all<T = Row>(sql: string, ...params: SQLInputValue[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  /**
   * A statement for writing, whose run() reports changes and rowid as BigInts: the connection's last insert
   * rowid can be an FTS5 internal one past 2^53 (after a delete from a contentless table), which node:sqlite
   * refuses to hand over as a number.
   */
  writer(sql: string): StatementSync {
    const key = `\u0000${sql}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      statement.setReadBigInts(true);
      this.statements.set(key, statement);
    }
    return statement;
  }

  run(sql: string, ...params: SQLInputValue[]): { changes: number; lastInsertRowid: number } {
    const result = this.writer(sql).run(...params);
    return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
  }

  /**
   * Runs `work` in a transaction. BEGIN is deferred on purpose: BEGIN IMMEDIATE would also take the write lock
   * of the attached index database, which the index worker writes.
   */
  transaction<T>(work: () => T): T {
    const savepoint = this.depth > 0 ? `s${this.depth}` : undefined;
    this.db.exec(savepoint === undefined ? "BEGIN" : `SAVEPOINT ${savepoint}`);
    this.depth += 1;
    try {
      const result = work();
      this.db.exec(savepoint === undefined ? "COMMIT" : `RELEASE ${savepoint}`);
      return result;
    } catch (error) {
      try {
        if (savepoint !== undefined) this.db.exec(`ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
        else if (this.db.isTransaction) this.db.exec("ROLLBACK");
      } catch {
        // SQLite already rolled the transaction back (it does on SQLITE_FULL and IOERR).
      }
      throw storeErrorFrom(error);
    } finally {
      this.depth -= 1;
    }
  }

  /** A read of several statements from one snapshot of the events and index databases. */
  snapshot<T>(work: () => T): T {
    if (this.depth > 0) return work();
    return this.transaction(work);
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }
}
