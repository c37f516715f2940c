/**
 * Why a store operation failed, as a stable code the HTTP layer maps to a status: bad input from a caller
 * (a cursor or time it did not get from us) is a 4xx, a store that cannot write (read-only file system, disk or
 * size limit full, corrupt file) is a 503 with the reason, never a crash.
 */
export const STORE_ERROR_CODES = [
  /** The database cannot be opened or created (directory not creatable, not a file…). */
  "R3_ERR_STORE_OPEN",
  /** The file system or the database file is read-only. */
  "R3_ERR_STORE_READ_ONLY",
  /** The disk, or the size limit the store was opened with, is full: the write was rolled back whole. */
  "R3_ERR_STORE_FULL",
  /** The file is not a ring3 database, is damaged, or was written by a newer ring3. */
  "R3_ERR_STORE_CORRUPT",
  /** Another process holds the database locked for longer than the busy timeout. */
  "R3_ERR_STORE_BUSY",
  /** A pagination cursor that this store did not hand out (or handed out for another listing). */
  "R3_ERR_STORE_BAD_CURSOR",
  /** A time that is not ISO 8601 / RFC 3339 with a zone. */
  "R3_ERR_STORE_BAD_TIME",
  /** A query the store cannot run (a filter without a value, a field name it cannot address). */
  "R3_ERR_STORE_BAD_QUERY",
  /** A unique name already taken (a user name). */
  "R3_ERR_STORE_CONFLICT",
  /** The store was closed. */
  "R3_ERR_STORE_CLOSED",
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
  }
}
