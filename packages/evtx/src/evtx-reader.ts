import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ChunkJob, ChunkJobResult } from "./chunk-job.ts";
import { CHUNK_SIZE, parseChunk } from "./chunk-parser.ts";
import type { ChunkParseResult } from "./chunk-parser.ts";
import { EvtxDiagnosticCode } from "./diagnostics.ts";
import type { EvtxDiagnostic, EvtxProblem } from "./diagnostics.ts";
import type { EvtxRecord } from "./evtx-record.ts";
import { FILE_HEADER_BLOCK_SIZE, parseFileHeader } from "./file-header.ts";

export type EvtxReaderOptions = {
  /** Receives each damaged part (bad chunk, bad record, checksum mismatch) as it is met, in file order. */
  readonly onDiagnostic?: (diagnostic: EvtxDiagnostic) => void;
  /**
   * Parsing threads. "auto" (the default) parses on a small worker pool when the machine has at least three cores and
   * the file more than a few chunks, and in the reading thread otherwise; 0 or 1 always parses in the reading thread.
   * Measured on 2 cores, the pool is slower than one thread (records cross back by structured clone, which costs the
   * reading thread about what parsing saves), so it needs spare cores to win.
   */
  readonly workers?: number | "auto";
  /** Keep each record's element tree (`EvtxRecord.tree`), which `renderRecordXml` needs. */
  readonly keepTree?: boolean;
};

/** Counts of one pass over the file, complete once the iteration ends. */
export type EvtxReadSummary = { records: number; diagnostics: number; chunks: number };

/** The path could not be opened or read at all (as opposed to damage inside a file, which is a diagnostic). */
export class EvtxReadError extends Error {
  readonly path: string;
  /** The system error code, "ENOENT", "EACCES", "EISDIR"... */
  readonly code: string | undefined;

  constructor(path: string, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(`cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "EvtxReadError";
    this.path = path;
    this.code = typeof code === "string" ? code : undefined;
  }
}

/** Files with fewer chunks than this are parsed in the reading thread: starting workers would cost more. */
const MIN_CHUNKS_FOR_WORKERS = 4;
const MAX_WORKERS = 4;

function workerCount(option: number | "auto", chunks: number): number {
  if (option !== "auto") return Math.max(0, Math.min(MAX_WORKERS, Math.floor(option)));
  const cores = availableParallelism();
  if (cores < 3 || chunks < MIN_CHUNKS_FOR_WORKERS) return 0;
  return Math.min(MAX_WORKERS, cores - 1, chunks);
}

/**
 * Reads the records of an EVTX file, in file order, as an async iterable. The file is never loaded whole: the header
 * first, then one 64 KiB chunk at a time with positional reads, a bounded number of chunks in flight.
 *
 * Damage never throws: it goes to `onDiagnostic` and is counted in `summary`, and the reader moves on to the next
 * record or chunk. Only a path that cannot be opened or read rejects, with an `EvtxReadError`.
 */
export class EvtxReader implements AsyncIterable<EvtxRecord> {
  readonly path: string;
  readonly summary: EvtxReadSummary = { records: 0, diagnostics: 0, chunks: 0 };
  private readonly options: EvtxReaderOptions;

  constructor(path: string, options: EvtxReaderOptions = {}) {
    this.path = path;
    this.options = options;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<EvtxRecord, void, undefined> {
    this.summary.records = 0;
    this.summary.diagnostics = 0;
    this.summary.chunks = 0;
    let file: FileHandle;
    try {
      file = await open(this.path, "r");
    } catch (error) {
      throw new EvtxReadError(this.path, error);
    }
    try {
      const size = await this.size(file);
      const header = parseFileHeader(await this.read(file, 0, FILE_HEADER_BLOCK_SIZE, size));
      this.report(header.problems);
      const chunks = size > FILE_HEADER_BLOCK_SIZE ? Math.ceil((size - FILE_HEADER_BLOCK_SIZE) / CHUNK_SIZE) : 0;
      this.summary.chunks = chunks;
      const workers = workerCount(this.options.workers ?? "auto", chunks);
      const pool = workers > 0 ? ChunkWorkerPool.shared(workers) : null;
      // Parsing runs ahead of the consumer by at most this many chunks: memory stays bounded whatever the file size.
      // In the reading thread, two: the next chunk's read overlaps this chunk's parsing and consumption.
      const window = pool === null ? 2 : workers * 2;
      const inFlight = new Map<number, Promise<ChunkParseResult>>();
      let next = 0;
      for (let index = 0; index < chunks; index++) {
        while (next < chunks && next < index + window) {
          const parsing = this.parse(file, next, size, pool);
          // Awaited below in order; this only keeps a failure of a chunk the consumer never reaches from going
          // unhandled when the iteration is abandoned early.
          parsing.catch(() => undefined);
          inFlight.set(next, parsing);
          next++;
        }
        const result = await inFlight.get(index)!;
        inFlight.delete(index);
        this.report(result.problems);
        for (const record of result.records) {
          this.summary.records++;
          yield record;
        }
      }
    } finally {
      await file.close();
    }
  }

  private report(problems: readonly EvtxProblem[]): void {
    for (const problem of problems) {
      this.summary.diagnostics++;
      this.options.onDiagnostic?.({ file: this.path, ...problem });
    }
  }

  private async size(file: FileHandle): Promise<number> {
    try {
      return (await file.stat()).size;
    } catch (error) {
      throw new EvtxReadError(this.path, error);
    }
  }

  /** Up to `length` bytes at `position`, fewer at the end of the file. */
  private async read(file: FileHandle, position: number, length: number, fileSize: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(Math.max(0, Math.min(length, fileSize - position)));
    let filled = 0;
    try {
      while (filled < bytes.length) {
        const { bytesRead } = await file.read(bytes, filled, bytes.length - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    } catch (error) {
      throw new EvtxReadError(this.path, error);
    }
    return bytes.subarray(0, filled);
  }

  private async parse(
    file: FileHandle,
    index: number,
    size: number,
    pool: ChunkWorkerPool | null,
  ): Promise<ChunkParseResult> {
    const fileOffset = FILE_HEADER_BLOCK_SIZE + index * CHUNK_SIZE;
    const bytes = await this.read(file, fileOffset, CHUNK_SIZE, size);
    const keepTree = this.options.keepTree === true;
    if (pool === null) return parseChunk(bytes, index, fileOffset, { keepTree });
    const job: ChunkJob = { index, fileOffset, buffer: bytes.buffer as ArrayBuffer, length: bytes.length, keepTree };
    const result = await pool.run(job);
    if ("records" in result) return result;
    // The bytes went to the failed worker: read them again and parse here.
    const again = await this.read(file, fileOffset, CHUNK_SIZE, size);
    const parsed = parseChunk(again, index, fileOffset, { keepTree });
    const failure: EvtxProblem = {
      chunk: index,
      offset: fileOffset,
      code: EvtxDiagnosticCode.workerFailed,
      reason: `${result.error}; chunk parsed in the reading thread`,
    };
    return { records: parsed.records, problems: [failure, ...parsed.problems] };
  }
}

type Pending = { readonly job: ChunkJob; readonly resolve: (result: ChunkJobResult) => void };

type Slot = { readonly worker: Worker; current: Pending | null; dead: boolean };

const sharedPools = new Map<number, ChunkWorkerPool>();

/**
 * A small fixed set of chunk-parsing workers. `run` never rejects: a worker that throws or dies answers its job with
 * `{ error }` (the reader then parses that chunk itself), and the pool goes on with the workers it has left.
 */
export class ChunkWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];

  constructor(size: number) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  /**
   * The process-wide pool of `size` workers. Starting a worker (and loading the parser in it) costs far more than
   * parsing a chunk, so pools outlive readers; their workers are unref'd and never keep the process alive.
   */
  static shared(size: number): ChunkWorkerPool {
    const existing = sharedPools.get(size);
    if (existing !== undefined && existing.alive > 0) return existing;
    const pool = new ChunkWorkerPool(size);
    sharedPools.set(size, pool);
    return pool;
  }

  get alive(): number {
    return this.slots.filter((slot) => !slot.dead).length;
  }

  run(job: ChunkJob): Promise<ChunkJobResult> {
    return new Promise((resolve) => {
      if (this.alive === 0) {
        resolve({ error: "no parsing worker left" });
        return;
      }
      this.queue.push({ job, resolve });
      this.pump();
    });
  }

  private spawn(): void {
    const worker = new Worker(new URL("./chunk-worker.ts", import.meta.url));
    const slot: Slot = { worker, current: null, dead: false };
    const finish = (result: ChunkJobResult): void => {
      const pending = slot.current;
      slot.current = null;
      worker.unref();
      pending?.resolve(result);
      this.pump();
    };
    const fail = (reason: string): void => {
      if (slot.dead) return;
      slot.dead = true;
      if (slot.current !== null) finish({ error: reason });
      if (this.alive === 0) {
        for (const pending of this.queue.splice(0)) pending.resolve({ error: reason });
      }
    };
    worker.on("message", (result: ChunkJobResult) => finish(result));
    worker.on("error", (error) => fail(`worker error: ${String(error)}`));
    worker.on("exit", (code) => fail(`worker exited with code ${code}`));
    // A pooled worker keeps the process alive only while it has a job. Unref'd after the listeners are attached:
    // adding a "message" listener refs the worker's port again.
    worker.unref();
    this.slots.push(slot);
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.dead || slot.current !== null) continue;
      const pending = this.queue.shift();
      if (pending === undefined) return;
      slot.current = pending;
      slot.worker.ref();
      slot.worker.postMessage(pending.job, [pending.job.buffer]);
    }
  }
}
