/**
 * Every error code the server answers with, and its HTTP status. Codes are stable (`R3_ERR_<AREA>_<WHAT>`):
 * clients branch on them, never on the message, and a new failure gets a new code rather than a reused one.
 */
export const ERROR_CODES = {
  /** Schema violation in params, query or body; `details` lists where. */
  R3_ERR_REQUEST_INVALID: 400,
  /** Body is not valid JSON, or not valid gzip when it says `Content-Encoding: gzip`. */
  R3_ERR_REQUEST_MALFORMED: 400,
  /** JSON nested deeper than the server accepts (a stack-exhaustion attempt, or a runaway serialiser). */
  R3_ERR_REQUEST_TOO_DEEP: 400,
  R3_ERR_REQUEST_TOO_LARGE: 413,
  R3_ERR_REQUEST_UNSUPPORTED_MEDIA: 415,
  R3_ERR_ROUTE_NOT_FOUND: 404,
  /** No credential, or one the server does not know (expired session, revoked agent). */
  R3_ERR_AUTH_REQUIRED: 401,
  /** A valid credential without the right: a lower role, or an agent credential on a console route. */
  R3_ERR_AUTH_FORBIDDEN: 403,
  R3_ERR_AUTH_INVALID_CREDENTIALS: 401,
  /** Too many failed logins from one address or for one account; `Retry-After` says when to try again. */
  R3_ERR_AUTH_RATE_LIMITED: 429,
  /** Unknown, expired, revoked or used-up enrollment token. */
  R3_ERR_ENROLL_TOKEN_INVALID: 401,
  /** A batch over `LIMITS.maxBatchBytes` decompressed (or over `LIMITS.maxBodyBytes` compressed). */
  R3_ERR_INGEST_TOO_LARGE: 413,
  R3_ERR_INGEST_TOO_MANY_EVENTS: 413,
  /** One event over `LIMITS.maxEventBytes`, or a field value over `LIMITS.maxFieldValueChars`; `details.index`. */
  R3_ERR_INGEST_EVENT_TOO_LARGE: 413,
  R3_ERR_USER_NOT_FOUND: 404,
  R3_ERR_USER_EXISTS: 409,
  /** An admin cannot delete the account it is signed in with (so one admin always remains). */
  R3_ERR_USER_SELF_DELETE: 409,
  R3_ERR_ENROLLMENT_TOKEN_NOT_FOUND: 404,
  R3_ERR_HOST_NOT_FOUND: 404,
  R3_ERR_ALERT_NOT_FOUND: 404,
  R3_ERR_SUPPRESSION_NOT_FOUND: 404,
  R3_ERR_COMMAND_NOT_FOUND: 404,
  R3_ERR_RULE_NOT_FOUND: 404,
  /** A correlation cannot be tested alone: it counts the matches of other rules. */
  R3_ERR_RULE_NOT_TESTABLE: 409,
  /** The ATT&CK catalog (`enterprise-techniques.json`) is not where the server was told to read it. */
  R3_ERR_ATTACK_CATALOG_MISSING: 503,
  /** A paging cursor the server did not hand out for this listing. */
  R3_ERR_STORE_BAD_CURSOR: 400,
  /** A time that is not ISO 8601 / RFC 3339 with a zone. */
  R3_ERR_STORE_BAD_TIME: 400,
  /** A query the store cannot run (a field filter without a value, a field it cannot address). */
  R3_ERR_STORE_BAD_QUERY: 400,
  R3_ERR_STORE_CONFLICT: 409,
  /**
   * The store cannot take writes now: disk or size limit full, read-only, locked, damaged. Nothing of the
   * request was stored; an agent keeps the batch in its spool and retries after `Retry-After`.
   */
  R3_ERR_STORE_UNAVAILABLE: 503,
  /** The server is at a limit it protects (live streams open) or shutting down. */
  R3_ERR_SERVER_BUSY: 503,
  R3_ERR_INTERNAL: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;
