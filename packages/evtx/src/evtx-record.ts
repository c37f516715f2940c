import type { EvtxJsonObject } from "./value-format.ts";
import type { XmlNode } from "./xml-model.ts";

/** One event record, in file order. */
export type EvtxRecord = {
  /** The record identifier from the record header (EventRecordID). */
  readonly recordId: number;
  /** When the record was written, from the record header: ISO 8601 UTC with microseconds. */
  readonly timestamp: string;
  /** 0-based index of the 64 KiB chunk holding the record. */
  readonly chunk: number;
  /** Absolute byte offset of the record in the file. */
  readonly offset: number;
  /** The event shaped exactly like one object of `evtx_dump -o json`: `{"Event": {"#attributes": ..., ...}}`. */
  readonly event: EvtxJsonObject;
  /** The decoded element tree, present when read with `keepTree: true` (needed by `renderRecordXml`). */
  readonly tree?: readonly XmlNode[];
};
