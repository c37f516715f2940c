/**
 * Worker thread entry of `EvtxReader`: parses the chunks it is sent and posts back plain records and problems.
 * Parsing is pure (no I/O here): the reading thread owns the file and keeps the output in file order.
 */
import { parentPort } from "node:worker_threads";
import { parseChunk } from "./chunk-parser.ts";
import type { ChunkJob, ChunkJobResult } from "./chunk-job.ts";

const port = parentPort;
if (port === null) throw new Error("chunk-worker.ts must run in a worker thread");

port.on("message", (job: ChunkJob) => {
  let reply: ChunkJobResult;
  try {
    const { records, problems } = parseChunk(new Uint8Array(job.buffer, 0, job.length), job.index, job.fileOffset, {
      keepTree: job.keepTree,
    });
    reply = { records, problems };
  } catch (error) {
    reply = { error: String(error) };
  }
  port.postMessage(reply);
});
