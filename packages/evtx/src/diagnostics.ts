/**
 * Damage found while reading an EVTX file. Reported, never thrown: a bad chunk or record is skipped and the rest of
 * the file is still read (one torn chunk in a recovered log must not hide the thousands of events around it).
 */
export const EvtxDiagnosticCode = {
  /** The file header does not start with "ElfFile\0"; chunks are still searched for. */
  badFileMagic: "R3_EVTX_BAD_FILE_MAGIC",
  /** The file header carries values no known writer produces (header size, block size, version). */
  badFileHeader: "R3_EVTX_BAD_FILE_HEADER",
  /** A 64 KiB chunk slot that is neither "ElfChnk\0" nor all zeroes (an unused slot). */
  badChunkMagic: "R3_EVTX_BAD_CHUNK_MAGIC",
  /** A chunk header field points outside the chunk. */
  badChunkHeader: "R3_EVTX_BAD_CHUNK_HEADER",
  /** A stored CRC32 (file header, chunk header, or chunk event-records data) does not match the bytes. */
  crcMismatch: "R3_EVTX_CRC_MISMATCH",
  /** The file or a chunk ends before the structure it holds. */
  truncated: "R3_EVTX_TRUNCATED",
  /** A record does not start with the 0x2a2a0000 signature where one is expected. */
  badRecordMagic: "R3_EVTX_BAD_RECORD_MAGIC",
  /** A record size is too small, runs past its chunk, or disagrees with the size copy at its end. */
  badRecordSize: "R3_EVTX_BAD_RECORD_SIZE",
  /** The binary XML of a record cannot be decoded (unknown token or value type, overrun, bad name or template). */
  badBinXml: "R3_EVTX_BAD_BINXML",
  /** A safety limit was hit: nesting depth of nested BinXml or templates, a self-referencing template. */
  limitExceeded: "R3_EVTX_LIMIT_EXCEEDED",
  /** A parsing worker failed; its chunk was parsed again in the reading thread. */
  workerFailed: "R3_EVTX_WORKER_FAILED",
} as const;
export type EvtxDiagnosticCode = (typeof EvtxDiagnosticCode)[keyof typeof EvtxDiagnosticCode];

export type EvtxDiagnostic = {
  readonly file: string;
  /** 0-based chunk index; null for the file header. */
  readonly chunk: number | null;
  /** Absolute byte offset in the file of the damaged structure. */
  readonly offset: number;
  readonly code: EvtxDiagnosticCode;
  readonly reason: string;
};

/** A diagnostic as the pure parsers report it, before the reader stamps the file name on it. */
export type EvtxProblem = Omit<EvtxDiagnostic, "file">;

/** The one-line form the CLI prints: `file: chunk N offset 0x...: CODE reason`. */
export function formatEvtxDiagnostic(d: EvtxDiagnostic): string {
  const where = d.chunk === null ? "header" : `chunk ${d.chunk}`;
  return `${d.file}: ${where} offset 0x${d.offset.toString(16)}: ${d.code} ${d.reason}`;
}

/**
 * Thrown inside the pure parsers when a structure cannot be decoded; the chunk parser catches it at the record
 * boundary and turns it into a diagnostic, so it never leaves the package.
 */
export class EvtxFormatError extends Error {
  readonly code: EvtxDiagnosticCode;
  /** Chunk-relative offset where decoding failed. */
  readonly at: number;

  constructor(code: EvtxDiagnosticCode, reason: string, at: number) {
    super(reason);
    this.name = "EvtxFormatError";
    this.code = code;
    this.at = at;
  }
}
