/**
 * What the default store sustains: `npm run bench:ingest [-- --events N]` (default 10,000,000).
 *
 * Before the timed part, a child process generates the fleet's batches (synthetic-events.ts: 200 Linux and
 * Windows hosts, batches of 1000 events from one host each, as an agent sends them, over a simulated week) into
 * a temp file of JSON lines (~550 bytes an event: 5.5 GB for the default run). In production the agents run on
 * other machines: generating while ingesting took a share of this machine's 2 cores from the store (~10 µs of
 * CPU an event, half as much as the store's main thread). The timed part reads that file, parses each line
 * (JSON.parse, as the server parses a request body) and calls `SqliteStore.ingestBatch` on a store in a temp
 * dir, with the index worker running as in production.
 * Reported: sustained events/s over the whole population (including the index catching up at the end),
 * ingest latency per batch (p50/p99, including any wait for the index), the latency of indexed searches over
 * the populated store (p50/p95 per kind and overall), and this process's peak RSS (both threads). The
 * database is deleted at the end. Progress goes to stderr, results to stdout.
 */
import { spawn } from "node:child_process";
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { EventSearch, WireAlert, WireEvent } from "@ring3/protocol";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import type { SqliteStore } from "../src/store/sqlite-store.ts";
import { makeFleet, Rng, syntheticEvent } from "./synthetic-events.ts";

const HOSTS = 200;
const BATCH = 1000;
const WEEK_MS = 7 * 86_400_000;
const START_MS = Date.parse("2026-03-01T00:00:00.000Z");

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i < 0 ? undefined : Number(process.argv[i + 1]);
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}

type Line = { host: number; events: WireEvent[]; alerts: (WireAlert & { groupKey: string })[] };

/**
 * The child: every batch of the week as one JSON line on stdout, written as fast as the pipe drains. Hosts
 * take turns, each batch holding one host's next 1000 events: every host reports all week long, its events
 * interleaved in time with the others'.
 */
async function generate(total: number): Promise<void> {
  const rng = new Rng(20260301);
  const fleet = makeFleet(HOSTS);
  const step = WEEK_MS / total;
  let written = 0;
  for (let batch = 0; written < total; batch += 1) {
    const hostIndex = batch % HOSTS;
    const round = Math.floor(batch / HOSTS);
    const host = fleet[hostIndex] as (typeof fleet)[number];
    const count = Math.min(BATCH, total - written);
    const events: WireEvent[] = [];
    for (let i = 0; i < count; i += 1) {
      // Event k of this host in round r sits at fleet position (r * BATCH + i) * HOSTS + host.
      const position = (round * BATCH + i) * HOSTS + hostIndex;
      events.push(syntheticEvent(rng, host, Math.round(START_MS + Math.min(position, total - 1) * step)));
    }
    const first = events[0] as WireEvent;
    const alerts: Line["alerts"] = [
      {
        id: `alert-${first.id}`,
        time: first.time,
        eventId: first.id,
        ruleId: `rule-${rng.int(40)}`,
        title: "Synthetic detection",
        level: rng.pick(["low", "medium", "high", "critical"] as const),
        tags: ["attack.execution"],
        techniques: ["T1059"],
        tactics: ["execution"],
        groupKey: `g-${rng.int(20)}`,
      },
    ];
    written += count;
    const line: Line = { host: hostIndex, events, alerts };
    if (!process.stdout.write(`${JSON.stringify(line)}\n`))
      await new Promise((drained) => process.stdout.once("drain", drained));
  }
  process.stdout.end();
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] as number;
}

const fmt = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 1 });
const mib = (bytes: number): string => `${fmt(bytes / 1024 / 1024)} MiB`;

async function waitForIndex(store: SqliteStore): Promise<void> {
  for (;;) {
    const stats = await store.stats();
    if (stats.indexProblem !== undefined) throw new Error(stats.indexProblem);
    if (stats.indexLag === 0) return;
    await new Promise((tick) => setTimeout(tick, 50));
  }
}

/**
 * The lines of `file`, read a chunk at a time as they are consumed. readline over the file read ahead of the
 * store as fast as the disk went, and its buffer counted in the peak RSS (763 instead of 575 MiB at 1,000,000
 * events).
 */
async function* readLines(file: string): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 })) {
    const lines = (rest + (chunk as string)).split("\n");
    rest = lines.pop() ?? "";
    yield* lines;
  }
  if (rest !== "") yield rest;
}

/** Runs the generator child into `file`; resolves when the file is complete. */
async function generateInto(file: string, total: number): Promise<void> {
  const fd = openSync(file, "w");
  try {
    const child = spawn(process.execPath, [import.meta.filename, "--generate", "--events", String(total)], {
      stdio: ["ignore", fd, "inherit"],
    });
    const code = await new Promise<number | null>((exited, failed) => {
      child.once("error", failed);
      child.once("exit", exited);
    });
    if (code !== 0) throw new Error(`the generator exited with ${code}`);
  } finally {
    closeSync(fd);
  }
}

async function ingest(
  store: SqliteStore,
  total: number,
  hostIds: readonly string[],
  file: string,
): Promise<{ ms: number; latencies: number[]; cpuMicros: number; mainMicros: number; parseMs: number }> {
  const lines = readLines(file);
  const latencies: number[] = [];
  let stored = 0;
  let batchNo = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const mainStart = process.threadCpuUsage();
  let lastReport = start;
  let parseMs = 0;
  for await (const text of lines) {
    const parseStart = performance.now();
    const line = JSON.parse(text) as Line;
    parseMs += performance.now() - parseStart;
    const hostId = hostIds[line.host] as string;
    const t0 = performance.now();
    const result = await store.ingestBatch({
      hostId,
      batchId: `bench-batch-${++batchNo}`,
      receivedAt: new Date(START_MS + WEEK_MS).toISOString(),
      events: line.events,
      alerts: line.alerts,
    });
    latencies.push(performance.now() - t0);
    stored += result.events;
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      const seconds = (lastReport - start) / 1000;
      process.stderr.write(
        `  ${fmt(stored)} events, ${fmt(stored / seconds)}/s, rss ${mib(process.memoryUsage().rss)}, index lag ${fmt((await store.stats()).indexLag ?? 0)}\n`,
      );
    }
  }
  await waitForIndex(store);
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const main = process.threadCpuUsage(mainStart);
  if (stored !== total) throw new Error(`stored ${stored} of ${total} events`);
  return { ms, latencies, cpuMicros: cpu.user + cpu.system, mainMicros: main.user + main.system, parseMs };
}

type SearchKind = { name: string; queries: EventSearch[] };

/** Search workloads built from what the store holds, so rare needles are real values. */
async function searchKinds(store: SqliteStore, hostIds: readonly string[], rng: Rng): Promise<SearchKind[]> {
  const hour = 3_600_000;
  const range = (): { from: string; to: string } => {
    const from = START_MS + rng.int(WEEK_MS - hour);
    return { from: new Date(from).toISOString(), to: new Date(from + hour).toISOString() };
  };
  // Rare command-line tokens: the one-off hex tokens of events actually stored.
  const rare: string[] = [];
  for (let i = 0; rare.length < 20 && i < 200; i += 1) {
    const page = await store.searchEvents({
      hostId: rng.pick(hostIds),
      logsource: { category: "process_creation" },
      ...range(),
      limit: 20,
    });
    for (const event of page.items) {
      const commandLine = event.fields["CommandLine"];
      const token = typeof commandLine === "string" ? /[0-9a-f]{12,16}/.exec(commandLine)?.[0] : undefined;
      if (token !== undefined && rare.length < 20) rare.push(token);
    }
  }
  const n = 20;
  const times = <T>(make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));
  return [
    { name: "host + 1 h time range", queries: times(() => ({ hostId: rng.pick(hostIds), ...range(), limit: 100 })) },
    { name: "host, newest", queries: times(() => ({ hostId: rng.pick(hostIds), limit: 100 })) },
    {
      name: "Image endswith",
      queries: times((i) => ({
        filters: [
          {
            field: "Image",
            op: "endswith",
            value: ["\\powershell.exe", "/curl", "\\certutil.exe", "/nc", "\\mshta.exe"][i % 5] as string,
          },
        ],
        limit: 100,
      })),
    },
    {
      name: "Image contains",
      queries: times((i) => ({
        filters: [
          {
            field: "Image",
            op: "contains",
            value: ["python", "system32\\wbem", "docker", "office16"][i % 4] as string,
          },
        ],
        limit: 100,
      })),
    },
    {
      name: "CommandLine contains (common)",
      queries: times((i) => ({
        filters: [
          {
            field: "CommandLine",
            op: "contains",
            value: ["whoami", "-encodedcommand", "deploy.sh", "urlcache", "vacuum analyze"][i % 5] as string,
          },
        ],
        limit: 100,
      })),
    },
    {
      name: "CommandLine contains (rare token)",
      queries: rare.map((token) => ({
        filters: [{ field: "CommandLine", op: "contains" as const, value: token }],
        limit: 100,
      })),
    },
    {
      name: "logsource",
      queries: times((i) => ({
        logsource: [
          { product: "windows", category: "registry_set" },
          { product: "linux", service: "auditd" },
          { category: "dns_query" },
          { product: "linux", category: "file_delete" },
        ][i % 4],
        limit: 100,
      })),
    },
    {
      name: "logsource + 1 h + CommandLine contains",
      queries: times(() => ({
        logsource: { category: "process_creation" },
        ...range(),
        filters: [{ field: "CommandLine", op: "contains", value: "python" }],
        limit: 100,
      })),
    },
  ];
}

async function main(): Promise<void> {
  if (process.argv.includes("--generate")) {
    await generate(argument("--events", 10_000_000));
    return;
  }
  const total = argument("--events", 10_000_000);
  const dir = mkdtempSync(join(tmpdir(), "ring3-bench-ingest-"));
  const path = join(dir, "ring3.db");
  try {
    const store = await openSqliteStore({ path });
    const fleet = makeFleet(HOSTS);
    const hostIds: string[] = [];
    for (const [i, host] of fleet.entries()) {
      const created = await store.createHost({
        hostname: host.name,
        machineId: `machine-${i}`,
        os: host.os,
        agentVersion: "0.1.0",
        credentialHash: `credential-${i}`,
        enrolledAt: new Date(START_MS).toISOString(),
      });
      hostIds.push(created.id);
    }
    const file = join(dir, "batches.jsonl");
    process.stderr.write(`generating ${fmt(total)} events into ${file}\n`);
    const generateStart = performance.now();
    await generateInto(file, total);
    const generated = `${fmt((performance.now() - generateStart) / 1000)} s, ${mib(statSync(file).size)}`;
    process.stderr.write(`ingesting ${fmt(total)} events (${HOSTS} hosts, batches of ${BATCH}) into ${path}\n`);
    const loadBefore = loadavg()[0] as number;
    const { ms, latencies, cpuMicros, mainMicros, parseMs } = await ingest(store, total, hostIds, file);
    rmSync(file);
    const loadAfter = loadavg()[0] as number;
    const stats = await store.stats();
    latencies.sort((a, b) => a - b);

    process.stderr.write("searching\n");
    const rng = new Rng(7);
    const kinds = await searchKinds(store, hostIds, rng);
    const all: number[] = [];
    const rows: string[] = [];
    for (const kind of kinds) {
      const times: number[] = [];
      let returned = 0;
      let short = 0;
      for (const query of kind.queries) {
        const t0 = performance.now();
        const page = await store.searchEvents(query);
        times.push(performance.now() - t0);
        returned += page.items.length;
        if (page.items.length < (query.limit ?? 100) && page.nextCursor !== undefined) short += 1;
      }
      times.sort((a, b) => a - b);
      all.push(...times);
      rows.push(
        `  ${kind.name.padEnd(40)} p50 ${fmt(percentile(times, 0.5)).padStart(7)} ms  p95 ${fmt(percentile(times, 0.95)).padStart(7)} ms  ` +
          `(${kind.queries.length} queries, ${fmt(returned / Math.max(1, kind.queries.length))} events/page${short > 0 ? `, ${short} pages cut by the scan budget` : ""})`,
      );
    }
    all.sort((a, b) => a - b);
    await store.close();

    const maxRss = process.resourceUsage().maxRSS * 1024;
    console.log(`ring3 store ingest benchmark (SQLite, node ${process.version})`);
    console.log(`  batches generated          before the timed part, into a file (${generated})`);
    console.log(
      `  events stored              ${fmt(stats.events)} in ${fmt(ms / 1000)} s (store: ${mib(stats.bytes)})`,
    );
    console.log(
      `  sustained ingest           ${fmt(total / (ms / 1000))} events/s (index caught up)   target >= 50,000`,
    );
    console.log(
      `  batch latency (1000 ev)    p50 ${fmt(percentile(latencies, 0.5))} ms  p99 ${fmt(percentile(latencies, 0.99))} ms`,
    );
    // The main thread parses each batch as the server would and ingests it; the index worker is the rest.
    console.log(
      `  CPU per event              ${fmt(mainMicros / total)} µs main thread (${fmt((parseMs * 1000) / total)} µs of it parsing ` +
        `the batches' JSON), ${fmt((cpuMicros - mainMicros) / total)} µs index worker; ` +
        `${availableParallelism()} CPUs, 1-min load average ${fmt(loadBefore)} before and ${fmt(loadAfter)} after ingest`,
    );
    console.log(`search over ${fmt(stats.events)} events:`);
    for (const row of rows) console.log(row);
    console.log(`  all searches               p95 ${fmt(percentile(all, 0.95))} ms   target < 500 ms`);
    console.log(`peak RSS (process, both threads) ${mib(maxRss)}   target < 1024 MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
