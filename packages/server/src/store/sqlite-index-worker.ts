/**
 * The search indexer's thread: its own SQLite connection writes the index database while the main thread
 * ingests into the events database, so indexing runs on the second core instead of adding to every batch.
 * Ingest hands over what the index needs of each committed batch (`events`: the few indexed fields, so they
 * are not read back and parsed again). When a batch does not follow the watermark (the thread restarted, or
 * batches were committed before it started) it reads the events past its watermark from the events database
 * instead (a WAL reader never blocks the writer); so a restart resumes where the last commit left off.
 *
 * Checkpoints of both databases run on a thread of its own, started and ended here (sqlite-checkpoint-worker.ts).
 *
 * Messages in: `events` (a committed batch), `purge` (retention ran), `close`.
 * Messages out: `progress` (the watermark after each commit), `purged`, `failed` (then the thread exits and
 * the store restarts it).
 */
import { DatabaseSync } from "node:sqlite";
import { parentPort, Worker, workerData } from "node:worker_threads";
import type { CheckpointWorkerData } from "./sqlite-checkpoint-worker.ts";
import { EventIndexWriter } from "./sqlite-event-index.ts";
import { inputCount, lastInputSeq } from "./sqlite-event-index.ts";
import type { IndexInputs } from "./sqlite-event-index.ts";

export type IndexWorkerData = { readonly eventsPath: string; readonly indexPath: string; readonly chunk: number };
export type IndexWorkerRequest =
  | { readonly type: "events"; readonly after: number; readonly inputs: IndexInputs }
  | { readonly type: "purge"; readonly id: number; readonly beforeMs: number }
  | { readonly type: "close" };
export type IndexWorkerReply =
  | { readonly type: "progress"; readonly indexedSeq: number }
  | { readonly type: "purged"; readonly id: number; readonly deleted: number }
  | { readonly type: "failed"; readonly message: string; readonly code?: string };

const port = parentPort;
if (port === null) throw new Error("sqlite-index-worker.ts runs as a worker thread");
const data = workerData as IndexWorkerData;
const post = (reply: IndexWorkerReply): void => port.postMessage(reply);

let db: DatabaseSync | undefined;
let writer: EventIndexWriter | undefined;
let running = false;
/** Batches handed over and not yet indexed, in commit order. */
const batches: { after: number; inputs: IndexInputs }[] = [];
const purges: { id: number; beforeMs: number }[] = [];
let closing = false;
let checkpoints: NodeJS.Timeout | undefined;
let checkpointer: Worker | undefined;
/** While the checkpointer is down: how often this thread checkpoints the events database itself. */
const CHECKPOINT_MS = 1000;
/** SQLite's default automatic checkpoint (in pages), this thread's own while the checkpointer is down. */
const AUTOCHECKPOINT_PAGES = 1000;
/** The backstop while the checkpointer runs (128 MiB of 16 KiB pages): it keeps the WAL far below that. */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 8192;

function fail(error: unknown): void {
  if (checkpoints !== undefined) clearInterval(checkpoints);
  const stopping = checkpointer;
  checkpointer = undefined;
  void stopping?.terminate();
  const e = error as { message?: string; code?: string };
  post({
    type: "failed",
    message: e.message ?? String(error),
    ...(typeof e.code === "string" ? { code: e.code } : {}),
  });
  db?.close();
  db = undefined;
  port?.close();
}

/**
 * Hands the checkpoints of both databases to a thread of their own (sqlite-checkpoint-worker.ts: why). Should
 * it stop, this thread checkpoints as it did before there was one: the events database's WAL every second
 * (PASSIVE, so the store's own checkpoints, rare while the index worker runs, find little left to copy) and
 * its own database's by SQLite's automatic checkpoint. Ingest is then slower; nothing is lost.
 */
function startCheckpointer(indexDb: DatabaseSync): void {
  const worker = new Worker(new URL("./sqlite-checkpoint-worker.ts", import.meta.url), {
    workerData: { paths: [data.eventsPath, data.indexPath] } satisfies CheckpointWorkerData,
  });
  checkpointer = worker;
  indexDb.exec(`PRAGMA main.wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
  let reason = "it exited";
  worker.on("error", (error: Error) => {
    reason = error.message;
  });
  worker.once("exit", () => {
    if (checkpointer !== worker || closing || db === undefined) return;
    checkpointer = undefined;
    process.stderr.write(`ring3 store: the checkpointer thread stopped (${reason}); the index worker checkpoints\n`);
    db.exec(`PRAGMA main.wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    checkpoints = setInterval(() => {
      try {
        db?.exec("PRAGMA ev.wal_checkpoint(PASSIVE)");
      } catch (error) {
        fail(error);
      }
    }, CHECKPOINT_MS);
  });
}

try {
  // The index file is the main schema, the events file attached read-only in practice (never written here).
  db = new DatabaseSync(data.indexPath, { timeout: 5000 });
  db.exec(
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY",
  );
  db.prepare("ATTACH DATABASE ? AS ev").run(data.eventsPath);
  writer = new EventIndexWriter(db, "main");
  post({ type: "progress", indexedSeq: writer.indexedSeq });
  startCheckpointer(db);
} catch (error) {
  fail(error);
}

/** Indexes until caught up, one chunk per turn of the event loop so purge and close requests get in. */
function run(): void {
  if (writer === undefined || closing) return;
  try {
    const purge = purges.shift();
    if (purge !== undefined) {
      post({ type: "purged", id: purge.id, deleted: writer.purge(purge.beforeMs) });
    } else if (!indexBatches(writer) && writer.indexNext(data.chunk) === 0) {
      // Nothing past the watermark in the events table: any batch still held was deleted by retention.
      batches.length = 0;
      running = false;
      return;
    }
    post({ type: "progress", indexedSeq: writer.indexedSeq });
    setImmediate(run);
  } catch (error) {
    running = false;
    fail(error);
  }
}

/**
 * Indexes the handed-over batches that continue the watermark, up to a chunk; false when there are none
 * (then the events table is read instead). Batches already indexed from the table are dropped.
 */
function indexBatches(indexer: EventIndexWriter): boolean {
  while (batches.length > 0) {
    const last = lastInputSeq((batches[0] as { inputs: IndexInputs }).inputs);
    if (last !== undefined && last > indexer.indexedSeq) break;
    batches.shift();
  }
  if (batches[0]?.after !== indexer.indexedSeq) return false;
  const chunk: IndexInputs[] = [];
  let events = 0;
  let after = indexer.indexedSeq;
  while (batches.length > 0 && events < data.chunk) {
    const next = batches[0];
    if (next === undefined || next.after !== after) break;
    chunk.push(next.inputs);
    events += inputCount(next.inputs);
    after = lastInputSeq(next.inputs) ?? after;
    batches.shift();
  }
  indexer.index(chunk);
  return true;
}

/**
 * Starts a run a moment after the first wake: ingest commits a batch every few milliseconds under load, and
 * one index transaction over many batches writes far fewer pages than one per batch.
 */
const COALESCE_MS = 100;
function schedule(): void {
  if (running) return;
  running = true;
  setTimeout(run, COALESCE_MS);
}

port.on("message", (message: IndexWorkerRequest) => {
  switch (message.type) {
    case "events":
      batches.push({ after: message.after, inputs: message.inputs });
      schedule();
      break;
    case "purge":
      purges.push({ id: message.id, beforeMs: message.beforeMs });
      schedule();
      break;
    case "close":
      closing = true;
      if (checkpoints !== undefined) clearInterval(checkpoints);
      // It closes its connections and ends; this thread ends after it.
      checkpointer?.postMessage({ type: "close" });
      db?.close();
      db = undefined;
      port.close();
      break;
  }
});
if (writer !== undefined) schedule();
