import type { EvtxProblem } from "./diagnostics.ts";
import type { EvtxRecord } from "./evtx-record.ts";

/** What the reading thread sends a worker: one chunk's bytes (transferred, not copied). */
export type ChunkJob = {
  readonly index: number;
  readonly fileOffset: number;
  readonly buffer: ArrayBuffer;
  /** Bytes of `buffer` that hold the chunk (fewer than 64 KiB at the end of a cut file). */
  readonly length: number;
  readonly keepTree: boolean;
};

export type ChunkJobResult =
  { readonly records: EvtxRecord[]; readonly problems: EvtxProblem[] } | { readonly error: string };
