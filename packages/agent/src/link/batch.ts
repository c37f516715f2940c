import { LIMITS } from "@ring3/protocol";
import type { SpoolRecord } from "./spool.ts";
import { recordJson, recordKind } from "./wire-records.ts";

/*
 * A batch is a contiguous range of spool records. Its id is derived from the spool's id and the range, so the
 * same records sent again (a retry, or a resend after the agent restarted) carry the same id and the server
 * stores them once. The range is written to the spool's cursor (a claim) before the batch is sent, so after a
 * crash the agent resends exactly that range, never a longer or shorter one under a different id.
 */

export function batchId(spoolId: string, first: number, last: number): string {
  return `${spoolId}.${first}-${last}`;
}

/**
 * Batch sizes as read from the spool: records, and payload bytes. The byte budget keeps the JSON under both
 * the decompressed limit and the compressed one (gzip never grows JSON text by more than a few bytes per 32
 * KiB block, so a body under maxBodyBytes uncompressed is under it compressed), with room for the envelope.
 */
export const BATCH_LIMITS = {
  maxRecords: LIMITS.maxEventsPerBatch,
  maxPayloadBytes: Math.min(LIMITS.maxBatchBytes, LIMITS.maxBodyBytes) - LIMITS.maxEventsPerBatch - 64 * 1024,
} as const;

export type BuiltBatch = {
  readonly id: string;
  readonly first: number;
  readonly last: number;
  readonly json: string;
  readonly events: number;
  readonly alerts: number;
  /** Records whose kind byte is unknown (written by a newer agent?): skipped and counted. */
  readonly skipped: number;
};

/** The IngestBatch JSON of `records`, concatenated from the spooled texts without parsing them. */
export function buildBatch(
  spoolId: string,
  range: { first: number; last: number },
  records: readonly SpoolRecord[],
  detect = false,
): BuiltBatch {
  const events: string[] = [];
  const alerts: string[] = [];
  let skipped = 0;
  for (const record of records) {
    const kind = recordKind(record.payload);
    if (kind === "event") events.push(recordJson(record.payload));
    else if (kind === "alert") alerts.push(recordJson(record.payload));
    else skipped += 1;
  }
  const id = batchId(spoolId, range.first, range.last);
  const json = `{"batchId":${JSON.stringify(id)},"events":[${events.join(",")}],"alerts":[${alerts.join(",")}]${detect ? `,"detect":true` : ""}}`;
  return { id, first: range.first, last: range.last, json, events: events.length, alerts: alerts.length, skipped };
}
