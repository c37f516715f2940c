import type { EvtxProblem } from "./diagnostics.ts";
import type { EvtxRecord } from "./evtx-record.ts";

/** What the reading thread sends a worker: one chunk's bytes (transferred, not copied). */
export type ChunkJob = {
  readonly id: number;
  readonly index: number;
  readonly fileOffset: number;
  readonly buffer: ArrayBuffer;
  readonly keepTree: boolean;
};

export type ChunkJobResult =
  | { readonly id: number; readonly records: EvtxRecord[]; readonly problems: EvtxProblem[] }
  | { readonly id: number; readonly error: string };
