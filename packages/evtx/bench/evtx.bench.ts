/**
 * EVTX reading throughput over the attack samples subset: records/s and MB/s, parsing in the reading thread versus
 * on the worker pool. Run with `npm run bench:evtx`.
 */
import { readdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { sharedDataDir, SHARED_DATA_MISSING } from "@ring3/testkit";
import { EvtxReader } from "../src/evtx-reader.ts";

const PASSES = 5;

const data = sharedDataDir();
if (data === undefined) {
  console.log(`bench:evtx skipped: ${SHARED_DATA_MISSING}`);
  process.exit(0);
}
const dir = join(data, "evtx-samples", "evtx-attack-samples-subset");
const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
  .filter((name) => name.endsWith(".evtx"))
  .map((name) => join(dir, name));
const bytes = files.reduce((sum, file) => sum + statSync(file).size, 0);

async function pass(workers: number | "auto"): Promise<{ records: number; seconds: number }> {
  const started = performance.now();
  let records = 0;
  for (const file of files) {
    for await (const record of new EvtxReader(file, { workers })) records += record.recordId > 0 ? 1 : 0;
  }
  return { records, seconds: (performance.now() - started) / 1000 };
}

console.log(
  `${files.length} files, ${(bytes / 1e6).toFixed(1)} MB, best of ${PASSES} passes, ${availableParallelism()} cores`,
);
for (const [label, workers] of [
  ["single thread", 0],
  ["workers: 2", 2],
  ["workers: auto", "auto"],
] as const) {
  await pass(workers);
  let best = { records: 0, seconds: Infinity };
  for (let i = 0; i < PASSES; i++) {
    const result = await pass(workers);
    if (result.seconds < best.seconds) best = result;
  }
  console.log(
    `${label.padEnd(14)} ${best.records} records in ${best.seconds.toFixed(3)} s: ` +
      `${Math.round(best.records / best.seconds)} records/s, ${(bytes / 1e6 / best.seconds).toFixed(1)} MB/s`,
  );
}
