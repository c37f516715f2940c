import { Type, type Static, type TSchema } from "typebox";

/** Wire protocol version; every route lives under `/api/v<PROTOCOL_VERSION>`. A breaking change bumps both. */
export const PROTOCOL_VERSION = 1;
export const API_PREFIX = `/api/v${PROTOCOL_VERSION}`;

export const IsoTime = Type.String({ minLength: 10, maxLength: 40, description: "ISO 8601 / RFC 3339 UTC" });
export const Id = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" });

export const ALERT_LEVELS = ["informational", "low", "medium", "high", "critical"] as const;
export const AlertLevel = Type.Enum(ALERT_LEVELS);
export type AlertLevel = Static<typeof AlertLevel>;

/** One page of a listing; `nextCursor` is opaque and absent on the last page. */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Optional(Type.String()) });
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};

/**
 * Every error the API returns has this body and a stable code `R3_ERR_<AREA>_<WHAT>`; clients branch on the
 * code, never on the message.
 */
export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ pattern: "^R3_ERR_[A-Z0-9_]+$" }),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** Size limits both sides enforce: the agent splits batches to fit, the server answers 413 beyond them. */
export const LIMITS = {
  /** Decompressed body of one ingest batch. */
  maxBatchBytes: 8 * 1024 * 1024,
  /** Compressed body of any request. */
  maxBodyBytes: 4 * 1024 * 1024,
  maxEventsPerBatch: 5000,
  /** One serialised event (fields and raw together). A bigger one is truncated by the agent and flagged. */
  maxEventBytes: 256 * 1024,
  maxFieldValueChars: 64 * 1024,
} as const;
