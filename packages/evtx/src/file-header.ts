import { crc32 } from "./crc32.ts";
import { EvtxDiagnosticCode } from "./diagnostics.ts";
import type { EvtxProblem } from "./diagnostics.ts";

/** The file header occupies the first 4096-byte block; only its first 128 bytes are defined. */
export const FILE_HEADER_BLOCK_SIZE = 4096;
const FILE_HEADER_SIZE = 128;
/** "The checksum is a CRC32 of the first 120 bytes of the file header" (libevtx). */
const FILE_HEADER_CRC_RANGE = 120;
const FILE_MAGIC = "ElfFile\0";

export type FileHeader = {
  readonly firstChunk: bigint;
  readonly lastChunk: bigint;
  readonly nextRecordId: bigint;
  readonly headerSize: number;
  readonly minorVersion: number;
  readonly majorVersion: number;
  readonly headerBlockSize: number;
  readonly chunkCount: number;
  /** 0x1 dirty (not closed cleanly), 0x2 full. */
  readonly flags: number;
};

export type FileHeaderResult = { readonly header: FileHeader | null; readonly problems: readonly EvtxProblem[] };

function problem(code: EvtxProblem["code"], reason: string, offset = 0): EvtxProblem {
  return { chunk: null, offset, code, reason };
}

export function hasMagic(bytes: Uint8Array, magic: string, at = 0): boolean {
  if (bytes.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic.charCodeAt(i)) return false;
  return true;
}

/**
 * Reads the file header from the first bytes of a file. Damage is reported, not fatal: the chunks that follow carry
 * everything needed to read the records, so the reader goes on to them whatever the header says.
 */
export function parseFileHeader(bytes: Uint8Array): FileHeaderResult {
  if (bytes.length < FILE_HEADER_SIZE) {
    return {
      header: null,
      problems: [problem(EvtxDiagnosticCode.truncated, `file is ${bytes.length} bytes, shorter than its header`)],
    };
  }
  if (!hasMagic(bytes, FILE_MAGIC)) {
    return {
      header: null,
      problems: [problem(EvtxDiagnosticCode.badFileMagic, 'file does not start with "ElfFile\\0"')],
    };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header: FileHeader = {
    firstChunk: view.getBigUint64(8, true),
    lastChunk: view.getBigUint64(16, true),
    nextRecordId: view.getBigUint64(24, true),
    headerSize: view.getUint32(32, true),
    minorVersion: view.getUint16(36, true),
    majorVersion: view.getUint16(38, true),
    headerBlockSize: view.getUint16(40, true),
    chunkCount: view.getUint16(42, true),
    flags: view.getUint32(120, true),
  };
  const problems: EvtxProblem[] = [];
  const stored = view.getUint32(124, true);
  const actual = crc32(bytes, 0, FILE_HEADER_CRC_RANGE);
  if (stored !== actual) {
    problems.push(
      problem(
        EvtxDiagnosticCode.crcMismatch,
        `file header checksum 0x${actual.toString(16)}, stored 0x${stored.toString(16)}`,
        124,
      ),
    );
  }
  if (
    header.headerSize !== FILE_HEADER_SIZE ||
    header.headerBlockSize !== FILE_HEADER_BLOCK_SIZE ||
    header.majorVersion !== 3
  ) {
    problems.push(
      problem(
        EvtxDiagnosticCode.badFileHeader,
        `header size ${header.headerSize}, block size ${header.headerBlockSize}, version ${header.majorVersion}.${header.minorVersion} (expected 128, 4096, 3.x)`,
        32,
      ),
    );
  }
  return { header, problems };
}
