import { crc32 } from "node:zlib";

/*
 * The spool's on-disk format, as pure functions over bytes (the file I/O is in spool.ts).
 *
 * A segment file `seg-<first seq, 16 digits>.log`:
 *
 *   header  "R3SPOOL1" (8 bytes) | first seq (u64 LE)                                    16 bytes
 *   record  payload length (u32 LE) | CRC-32 of seq bytes + payload (u32 LE) | seq (u64 LE) | payload
 *   record  …
 *
 * Every record carries its own sequence number, so a reader can tell a gap (records dropped when the spool
 * was full, or lost to corruption) from a duplicate, and a torn write at the tail (a process killed in the
 * middle of write(2), a full disk) fails its length or checksum and is cut off when the spool opens.
 * The CRC covers the sequence number as well as the payload: a record copied to the wrong place fails it.
 */

export const SEGMENT_MAGIC = "R3SPOOL1";
export const SEGMENT_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 16;

const SEGMENT_NAME = /^seg-(\d{16})\.log$/;

export function segmentFileName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, "0")}.log`;
}

/** The first sequence number a segment file name carries, or undefined for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match === null ? undefined : Number(match[1]);
}

export function encodeSegmentHeader(firstSeq: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  header.write(SEGMENT_MAGIC, 0, "latin1");
  writeSeq(header, 8, firstSeq);
  return header;
}

/** The first seq of a segment header, or a reason it is not one. */
export function decodeSegmentHeader(bytes: Uint8Array): { firstSeq: number } | { error: string } {
  if (bytes.length < SEGMENT_HEADER_BYTES) return { error: "shorter than a segment header" };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.toString("latin1", 0, 8) !== SEGMENT_MAGIC) return { error: "not a ring3 spool segment (bad magic)" };
  return { firstSeq: readSeq(buf, 8) };
}

function writeSeq(buf: Buffer, offset: number, seq: number): void {
  buf.writeUInt32LE(seq % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), offset + 4);
}

function readSeq(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * 0x1_0000_0000;
}

function recordCrc(seqBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(seqBytes));
}

/** One framed record: header and payload in one buffer, so a single write(2) puts it on disk. */
export function encodeRecord(seq: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  writeSeq(out, 8, seq);
  out.set(payload, RECORD_HEADER_BYTES);
  out.writeUInt32LE(recordCrc(out.subarray(8, 16), payload), 4);
  return out;
}

export type DecodedRecord = {
  readonly seq: number;
  readonly payload: Buffer;
  /** Offset just past this record. */
  readonly end: number;
};

/** Why a record at some offset could not be read. `short`: the bytes end inside it (a torn tail). */
export type RecordError = { readonly error: "short" | "too-large" | "checksum" };

/**
 * The record starting at `offset` in `buf`. A length over `maxPayloadBytes` is refused before anything is
 * read: a corrupted length field must not make the reader allocate gigabytes.
 */
export function decodeRecord(buf: Buffer, offset: number, maxPayloadBytes: number): DecodedRecord | RecordError {
  if (buf.length - offset < RECORD_HEADER_BYTES) return { error: "short" };
  const length = buf.readUInt32LE(offset);
  if (length > maxPayloadBytes) return { error: "too-large" };
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return { error: "short" };
  const payload = buf.subarray(offset + RECORD_HEADER_BYTES, end);
  if (recordCrc(buf.subarray(offset + 8, offset + 16), payload) !== buf.readUInt32LE(offset + 4))
    return { error: "checksum" };
  return { seq: readSeq(buf, offset + 8), payload, end };
}

/** The payload length a record header announces (the reader uses it to size its next read). */
export function recordPayloadLength(header: Buffer, offset = 0): number {
  return header.readUInt32LE(offset);
}
