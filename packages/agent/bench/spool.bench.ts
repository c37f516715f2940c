/**
 * What the agent's spool costs: `npm run bench:spool`. Appends typical process_creation events (as the link
 * spools them: fitted to the protocol's limits, one record each) for a few seconds with the default group
 * commit, then reads them back in uplink-sized batches and acknowledges them, and prints events/s and MB/s of
 * each phase. RING3_BENCH_SECONDS changes the append phase (default 5).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BATCH_LIMITS, buildBatch } from "../src/link/batch.ts";
import { Spool } from "../src/link/spool.ts";
import { eventRecord } from "../src/link/wire-records.ts";

const SECONDS = Number(process.env.RING3_BENCH_SECONDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), "ring3-spool-bench-"));

function event(n: number) {
  return {
    id: `bench-host-4242-${n}`,
    time: new Date(1_772_366_400_000 + n).toISOString(),
    host: "bench-host",
    logsource: { product: "linux", category: "process_creation" },
    fields: {
      EventType: "ProcessCreate",
      ProcessId: 10_000 + (n % 30_000),
      ParentProcessId: 1234,
      Image: "/usr/bin/curl",
      CommandLine: `curl -fsSL https://example.org/install.sh?n=${n} -o /tmp/install-${n}.sh`,
      ParentImage: "/usr/bin/bash",
      ParentCommandLine: "bash -c ./deploy.sh",
      CurrentDirectory: "/home/builder/project",
      User: "builder",
      LogonId: 1000,
      Hashes: "SHA256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    },
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

try {
  const spool = Spool.open({ dir, maxBytes: 2 * 1024 * 1024 * 1024 });
  // Records built ahead: the bench measures the spool, not JSON.stringify.
  const records = Array.from({ length: 10_000 }, (_, n) => eventRecord(event(n)).payload);
  const recordBytes = records.reduce((sum, r) => sum + r.length, 0) / records.length;

  let appended = 0;
  const start = performance.now();
  let lastSync = start;
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < 1000; i++) spool.append(records[(appended + i) % records.length]!);
    appended += 1000;
    // The group commit's timer cannot fire inside this loop: sync on its schedule by hand, so it is counted.
    if (performance.now() - lastSync >= 1000) {
      spool.sync();
      lastSync = performance.now();
    }
  }
  const appendMs = performance.now() - start;
  spool.sync();
  const rss = process.memoryUsage().rss;

  let read = 0;
  let batches = 0;
  let jsonBytes = 0;
  const readStart = performance.now();
  for (;;) {
    const acked = spool.stats().acked;
    const batch = spool.read(acked, BATCH_LIMITS.maxRecords, BATCH_LIMITS.maxPayloadBytes);
    if (batch.length === 0) break;
    const range = { first: batch[0]!.seq, last: batch.at(-1)!.seq };
    spool.claim(range);
    jsonBytes += buildBatch(spool.stats().spoolId, range, batch).json.length;
    spool.ack(range.last);
    read += batch.length;
    batches += 1;
  }
  const readMs = performance.now() - readStart;
  spool.close();

  console.log(
    `spool bench (${SECONDS} s of appends, ${Math.round(recordBytes)}-byte event records, group commit every 1 s)`,
  );
  console.log(
    `  append:            ${fmt(appended / (appendMs / 1000))} events/s  ${((appended * recordBytes) / 1e6 / (appendMs / 1000)).toFixed(1)} MB/s  (${fmt(appended)} events)`,
  );
  console.log(
    `  read+claim+ack:    ${fmt(read / (readMs / 1000))} events/s  ${(jsonBytes / 1e6 / (readMs / 1000)).toFixed(1)} MB/s of batch JSON  (${fmt(batches)} batches of ${fmt(read / batches)})`,
  );
  console.log(`  rss after appends: ${(rss / 1e6).toFixed(0)} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
