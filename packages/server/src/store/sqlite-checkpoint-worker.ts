/**
 * The checkpointer's thread: copies the WAL of the events database and of the index database back into their
 * files, a little every CHECKPOINT_MS, so that the waits of a checkpoint (an fsync of the WAL before the copy,
 * one of the database after it) fall on a thread that does nothing else. Ingest keeps the main thread busy and
 * indexing the index worker's: on a 2-core host, every millisecond either spends asleep in fsync is a
 * millisecond of ingest lost. In `npm run bench:ingest -- --events 2000000`, with the index worker checkpointing
 * the events database and its own, the two threads spent 9.4 and 9.7 s of 75 s waiting (3.2 and 6.3 s of it in
 * fsync); with this thread, 4.3 and 2.8 s, and the fsyncs of ingest and indexing fell to 1.0 and 0.4 s.
 *
 * PASSIVE never waits for a writer nor blocks one; it copies what the WAL holds up to the newest reader's
 * snapshot. When it has copied every frame and the writer starts its next transaction, the writer restarts
 * the WAL from its start (SQLite's rule), so the WALs stay small. Both writers keep an automatic checkpoint as
 * a backstop: should this thread stop, the WALs stay bounded and nothing but speed is lost
 * (sqlite-index-worker.ts then checkpoints as it did before this thread).
 *
 * Started by the index worker, which ends it: a `close` message in, nothing out; an error ends the thread.
 */
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

export type CheckpointWorkerData = { readonly paths: readonly string[] };

/** Often enough that each checkpoint copies little (a few MB under full ingest), so each fsync is short. */
const CHECKPOINT_MS = 250;

const port = parentPort;
if (port === null) throw new Error("sqlite-checkpoint-worker.ts runs as a worker thread");
const data = workerData as CheckpointWorkerData;
// No busy timeout: PASSIVE takes no lock that a writer holds long, and a tick that finds one busy skips.
const databases = data.paths.map((path) => new DatabaseSync(path, { timeout: 0 }));
const timer = setInterval(() => {
  for (const db of databases) db.exec("PRAGMA wal_checkpoint(PASSIVE)");
}, CHECKPOINT_MS);
port.on("message", () => {
  clearInterval(timer);
  for (const db of databases) db.close();
  port.close();
});
