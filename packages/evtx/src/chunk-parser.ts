import { BinXmlParser } from "./binxml-parser.ts";
import { crc32, crc32Update } from "./crc32.ts";
import { EvtxDiagnosticCode, EvtxFormatError } from "./diagnostics.ts";
import type { EvtxProblem } from "./diagnostics.ts";
import type { EvtxRecord } from "./evtx-record.ts";
import { hasMagic } from "./file-header.ts";
import { renderEventJson } from "./json-renderer.ts";
import { formatFiletime } from "./time-format.ts";

export const CHUNK_SIZE = 65536;
const CHUNK_HEADER_SIZE = 512;
const CHUNK_MAGIC = "ElfChnk\0";
/** Event record signature "**\0\0" (0x00002a2a little-endian). */
const RECORD_MAGIC = 0x00002a2a;
/** Signature, size, identifier and written time. */
const RECORD_HEADER_SIZE = 24;
/** The header plus the copy of the size that ends every record. */
const RECORD_MIN_SIZE = RECORD_HEADER_SIZE + 4;

export type ChunkParseResult = { readonly records: EvtxRecord[]; readonly problems: EvtxProblem[] };

export type ChunkParseOptions = {
  /** Keep each record's element tree (`EvtxRecord.tree`), for XML rendering. */
  readonly keepTree?: boolean;
};

function isZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * Parses one chunk: its 512-byte header (magic, record range, free space offset, the CRC32 of the event-records data
 * and of the header itself) and the records from offset 512 up to the free space offset. `bytes` is the chunk, 64 KiB
 * or less when the file is cut short; `fileOffset` is where it starts in the file.
 *
 * A bad checksum is reported and the records are still read (evtx_dump does not check them at all; a torn write
 * usually damages one record, not all of them). A record that cannot be decoded is reported and skipped; a record
 * whose signature or size is broken ends the chunk, since the next record's position is then unknown.
 */
export function parseChunk(
  bytes: Uint8Array,
  index: number,
  fileOffset: number,
  options: ChunkParseOptions = {},
): ChunkParseResult {
  const records: EvtxRecord[] = [];
  const problems: EvtxProblem[] = [];
  const report = (code: EvtxProblem["code"], reason: string, at = 0): void => {
    problems.push({ chunk: index, offset: fileOffset + at, code, reason });
  };

  if (!hasMagic(bytes, CHUNK_MAGIC)) {
    // Unused chunk slots (preallocated or past the last written chunk) are zero-filled.
    if (!isZero(bytes, 0, bytes.length))
      report(EvtxDiagnosticCode.badChunkMagic, 'chunk does not start with "ElfChnk\\0"');
    return { records, problems };
  }
  if (bytes.length < CHUNK_HEADER_SIZE) {
    report(EvtxDiagnosticCode.truncated, `chunk cut short at ${bytes.length} bytes, inside its header`);
    return { records, problems };
  }
  if (bytes.length < CHUNK_SIZE)
    report(EvtxDiagnosticCode.truncated, `chunk cut short at ${bytes.length} of ${CHUNK_SIZE} bytes`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // "The checksum is a CRC32 of the chunk header data from offset 0 to 120 and 128 to 512."
  const storedHeaderCrc = view.getUint32(124, true);
  const headerCrc = crc32Update(crc32(bytes, 0, 120), bytes, 128, CHUNK_HEADER_SIZE);
  if (headerCrc !== storedHeaderCrc) {
    report(
      EvtxDiagnosticCode.crcMismatch,
      `chunk header checksum ${hex(headerCrc)}, stored ${hex(storedHeaderCrc)}`,
      124,
    );
  }

  const freeSpaceOffset = view.getUint32(48, true);
  let recordsEnd = freeSpaceOffset;
  if (freeSpaceOffset < CHUNK_HEADER_SIZE || freeSpaceOffset > CHUNK_SIZE) {
    report(EvtxDiagnosticCode.badChunkHeader, `free space offset ${hex(freeSpaceOffset)} outside the chunk`, 48);
    recordsEnd = bytes.length;
  } else if (freeSpaceOffset > bytes.length) {
    recordsEnd = bytes.length;
  } else {
    // The event-records checksum covers the records, from offset 512 to the free space offset.
    const storedDataCrc = view.getUint32(52, true);
    const dataCrc = crc32(bytes, CHUNK_HEADER_SIZE, freeSpaceOffset);
    if (dataCrc !== storedDataCrc) {
      report(
        EvtxDiagnosticCode.crcMismatch,
        `event records checksum ${hex(dataCrc)}, stored ${hex(storedDataCrc)}`,
        52,
      );
    }
  }

  const parser = new BinXmlParser(bytes);
  let offset = CHUNK_HEADER_SIZE;
  while (offset + RECORD_HEADER_SIZE <= recordsEnd) {
    if (view.getUint32(offset, true) !== RECORD_MAGIC) {
      if (!isZero(bytes, offset, recordsEnd))
        report(EvtxDiagnosticCode.badRecordMagic, "no record signature where a record should start", offset);
      break;
    }
    const size = view.getUint32(offset + 4, true);
    if (size < RECORD_MIN_SIZE || offset + size > bytes.length) {
      report(
        EvtxDiagnosticCode.badRecordSize,
        `record size ${size} (${offset + size > bytes.length ? "runs past the chunk" : `below ${RECORD_MIN_SIZE}`})`,
        offset,
      );
      break;
    }
    // The last record before a torn write often lacks only the copy of its size; its data is still whole.
    const sizeCopy = view.getUint32(offset + size - 4, true);
    if (sizeCopy !== size) {
      report(EvtxDiagnosticCode.badRecordSize, `record size ${size} but the copy at its end says ${sizeCopy}`, offset);
    }
    const recordId = view.getBigUint64(offset + 8, true);
    try {
      const tree = parser.parseRecord(offset + RECORD_HEADER_SIZE, offset + size - 4);
      const record: EvtxRecord = {
        recordId: Number(recordId),
        timestamp: formatFiletime(view.getBigUint64(offset + 16, true)),
        chunk: index,
        offset: fileOffset + offset,
        event: renderEventJson(tree),
      };
      records.push(options.keepTree === true ? { ...record, tree } : record);
    } catch (error) {
      if (error instanceof EvtxFormatError) {
        report(error.code, `record ${recordId}: ${error.message} (chunk offset ${hex(error.at)})`, offset);
      } else {
        // A bug or a RangeError from a read the cursor did not guard: still only this record's loss.
        report(EvtxDiagnosticCode.badBinXml, `record ${recordId}: ${String(error)}`, offset);
      }
    }
    offset += size;
  }
  return { records, problems };
}
