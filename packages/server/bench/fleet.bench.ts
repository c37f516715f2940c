/**
 * `npm run bench:fleet`: how many agents one server holds with a heartbeat p99 under one second.
 *
 * One server process (`startServer`: SQLite in a temp data dir, HTTPS with its own CA, as `ring3 up` runs it)
 * and a few client processes that simulate agents over real sockets on loopback, each agent with its own
 * keep-alive connection pinned to the CA (and a second one while the first is busy, as the agent's link
 * does: a heartbeat never waits behind a batch; see `KeepAliveClient`, which writes the requests by hand so
 * that the simulation takes less of the machine than the server it measures). Every agent enrolls, then sends a heartbeat every
 * `--heartbeat` seconds (default 30, the server's default interval) and produces one event per second,
 * shipped gzip-compressed every `--batch-every` seconds (default 10: ten events per batch). Agents join in
 * steps; each step settles for one heartbeat interval, then heartbeat latency (request written → response
 * read, on the client) is measured over `--window` seconds with the server's CPU and resident memory.
 * The run stops at the first step over the target or with errors, and prints the largest fleet held.
 *
 *   npm run bench:fleet -- [--agents 10000] [--steps 1000,2500,5000,7500,10000] [--heartbeat 30]
 *                          [--batch-every 10] [--window 60] [--clients 2] [--plain-http]
 *
 * Each agent holds one kept-alive connection to the server (a second while a heartbeat and a batch overlap),
 * so the server's open descriptors ("server fds") track the fleet: about 10,050 at 10,000 agents, under
 * this machine's limit of 20,000 per process, printed at the start. Not simulated: the command long-poll
 * (one more connection per agent, held open and idle while no command is queued).
 */
import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { ROUTES } from "@ring3/protocol";
import type { DescriptorUsage } from "../src/process-descriptors.ts";
import { descriptorUsage } from "../src/process-descriptors.ts";
import type { RawResponse, ServerAddress } from "./keep-alive-client.ts";
import { KeepAliveClient } from "./keep-alive-client.ts";

type ServerReady = { type: "ready"; url: string; caPem: string | undefined; token: string };
type Usage = { type: "usage"; cpuMs: number; rssBytes: number; heapBytes: number; fds: DescriptorUsage | undefined };
type ClientStats = {
  type: "stats";
  heartbeats: number[];
  heartbeatErrors: number;
  batches: number;
  batchErrors: number;
  /** Batches the server deferred (503 + Retry-After); resent later, counted in `events` once stored. */
  busy: number;
  events: number;
  batchMs: number[];
  cpuMs: number;
  errorSamples: string[];
};
type ToClient =
  | { type: "start"; url: string; caPem: string | undefined; token: string; heartbeat: number; batchEvery: number }
  | { type: "add"; from: number; count: number }
  | { type: "collect" }
  | { type: "stop" };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- server process --------------------------------------------------------------------------------------------

async function runServer(dataDir: string, plainHttp: boolean, heartbeat: number): Promise<void> {
  const { startServer } = await import("../src/start-server.ts");
  const { hashSecret, newSecret } = await import("../src/auth/secrets.ts");
  const server = await startServer({
    dataDir,
    host: "127.0.0.1",
    port: 0,
    plainHttp,
    heartbeatIntervalSeconds: heartbeat,
  });
  const token = newSecret("enrollment");
  const now = new Date();
  await server.store.createEnrollmentToken({
    createdBy: "bench",
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 86_400_000).toISOString(),
    secretHash: hashSecret(token),
  });
  process.on("message", (message: { type: string }) => {
    if (message.type === "usage") {
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      void descriptorUsage().then((fds) =>
        process.send!({
          type: "usage",
          cpuMs: (cpu.user + cpu.system) / 1000,
          rssBytes: memory.rss,
          heapBytes: memory.heapUsed,
          fds,
        } satisfies Usage),
      );
    } else if (message.type === "stop") {
      void server.close().then(() => process.exit(0));
    }
  });
  process.send!({
    type: "ready",
    url: server.url,
    caPem: server.ca === undefined ? undefined : await readCa(server.ca.certPath),
    token,
  } satisfies ServerReady);
}

async function readCa(path: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  return readFile(path, "utf8");
}

// ---- client process (simulated agents) -------------------------------------------------------------------------

type SimAgent = { id: string; credential: string; client: KeepAliveClient; seq: number; pid: number };

function runClient(): void {
  let config: Extract<ToClient, { type: "start" }> | undefined;
  const agents: SimAgent[] = [];
  const timers: NodeJS.Timeout[] = [];
  let stats = emptyStats();
  let cpuMark = process.cpuUsage();

  let server: ServerAddress | undefined;

  const call = (
    client: KeepAliveClient,
    method: string,
    path: string,
    body: Buffer,
    headers: Record<string, string>,
    credential?: string,
  ): Promise<RawResponse> =>
    client.request(
      method,
      path,
      credential === undefined ? headers : { ...headers, authorization: `Bearer ${credential}` },
      body,
      30_000,
    );

  const json = { "content-type": "application/json" };
  const heartbeat = async (a: SimAgent): Promise<void> => {
    const body = Buffer.from(
      JSON.stringify({
        time: new Date().toISOString(),
        agentVersion: "0.1.0",
        contentVersion: "bench",
        sensors: { connector: { state: "started" }, audit: { state: "started" } },
        queueDepth: 0,
        dropped: {},
        isolated: false,
      }),
    );
    const started = performance.now();
    try {
      const res = await call(a.client, "POST", ROUTES.heartbeat.path, body, json, a.credential);
      if (res.status !== 200) throw new Error(`heartbeat ${res.status}: ${res.text.slice(0, 200)}`);
      stats.heartbeats.push(performance.now() - started);
    } catch (error) {
      stats.heartbeatErrors += 1;
      if (stats.errorSamples.length < 5) stats.errorSamples.push(String(error));
    }
  };
  const ship = async (a: SimAgent, count: number): Promise<void> => {
    const now = Date.now();
    const events = Array.from({ length: count }, (_, i) => {
      a.pid += 1;
      return {
        id: `${a.id}-${a.seq}-${i}`,
        time: new Date(now - (count - i) * 1000).toISOString(),
        host: a.id,
        logsource: { product: "linux", category: "process_creation" },
        fields: {
          ProcessId: a.pid,
          ParentProcessId: 1,
          Image: "/usr/bin/bash",
          CommandLine: `bash -c 'step ${a.seq}'`,
          User: "bench",
          CurrentDirectory: "/home/bench",
        },
      };
    });
    a.seq += 1;
    await send(a, gzipSync(JSON.stringify({ batchId: `${a.id}-batch-${a.seq}`, events, alerts: [] })), count);
  };
  /** One batch, resent (same batchId) after Retry-After while the server answers 503, as the agent's spool does. */
  const send = async (a: SimAgent, body: Buffer, count: number): Promise<void> => {
    const started = performance.now();
    try {
      const res = await call(
        a.client,
        "POST",
        ROUTES.ingest.path,
        body,
        { ...json, "content-encoding": "gzip" },
        a.credential,
      );
      if (res.status === 503) {
        stats.busy += 1;
        const retryAfter = Number(res.headers["retry-after"] ?? 10);
        setTimeout(() => void send(a, body, count), retryAfter * 1000).unref();
        return;
      }
      if (res.status !== 200) throw new Error(`ingest ${res.status}: ${res.text.slice(0, 200)}`);
      stats.batches += 1;
      stats.events += count;
      stats.batchMs.push(performance.now() - started);
    } catch (error) {
      stats.batchErrors += 1;
      if (stats.errorSamples.length < 5) stats.errorSamples.push(String(error));
    }
  };

  const add = async (from: number, count: number): Promise<void> => {
    const c = config!;
    const fresh: SimAgent[] = [];
    let next = from;
    const enrollOne = async (): Promise<void> => {
      while (next < from + count) {
        const i = next++;
        // Two sockets at most, one kept when idle: about one descriptor per agent on the server.
        const client = new KeepAliveClient(server!);
        const body = Buffer.from(
          JSON.stringify({
            token: c.token,
            hostname: `bench-${i}`,
            machineId: `bench-machine-${i}`,
            os: "linux",
            agentVersion: "0.1.0",
          }),
        );
        // A real agent retries enrollment until it succeeds; five tries with backoff, then the run fails.
        let res: { status: number; text: string } | undefined;
        for (let attempt = 1; res?.status !== 200; attempt++) {
          try {
            res = await call(client, "POST", ROUTES.enroll.path, body, json);
          } catch (error) {
            if (attempt >= 5) throw error;
          }
          if (res !== undefined && res.status !== 200 && attempt >= 5) {
            throw new Error(`enroll ${res.status}: ${res.text.slice(0, 200)}`);
          }
          if (res?.status !== 200) await sleep(attempt * 2000);
        }
        const enrolled = JSON.parse(res.text) as { agentId: string; credential: string };
        fresh.push({ id: `bench-${i}`, credential: enrolled.credential, client, seq: 0, pid: 1000 });
      }
    };
    await Promise.all(Array.from({ length: 32 }, enrollOne));
    for (const a of fresh) {
      agents.push(a);
      // Spread over the interval, as a fleet that did not all boot in the same second.
      const hbOffset = Math.random() * c.heartbeat * 1000;
      const batchOffset = Math.random() * c.batchEvery * 1000;
      timers.push(
        setTimeout(() => {
          void heartbeat(a);
          timers.push(setInterval(() => void heartbeat(a), c.heartbeat * 1000));
        }, hbOffset),
        setTimeout(() => {
          void ship(a, c.batchEvery);
          timers.push(setInterval(() => void ship(a, c.batchEvery), c.batchEvery * 1000));
        }, batchOffset),
      );
    }
  };

  process.on("message", (message: ToClient) => {
    if (message.type === "start") {
      config = message;
      const url = new URL(message.url);
      server = {
        host: url.hostname,
        port: Number(url.port),
        tls: url.protocol === "https:" ? createSecureContext({ ca: message.caPem }) : undefined,
      };
      process.send!({ type: "started" });
    } else if (message.type === "add") {
      add(message.from, message.count).then(
        () => process.send!({ type: "added", count: message.count }),
        (error: unknown) => process.send!({ type: "failed", error: String(error) }),
      );
    } else if (message.type === "collect") {
      const cpu = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      process.send!({ ...stats, cpuMs: (cpu.user + cpu.system) / 1000 } satisfies ClientStats);
      stats = emptyStats();
    } else {
      for (const t of timers) clearTimeout(t);
      for (const a of agents) a.client.destroy();
      process.exit(0);
    }
  });
}

function emptyStats(): ClientStats {
  return {
    type: "stats",
    heartbeats: [],
    heartbeatErrors: 0,
    batches: 0,
    batchErrors: 0,
    busy: 0,
    events: 0,
    batchMs: [],
    cpuMs: 0,
    errorSamples: [],
  };
}

// ---- coordinator -----------------------------------------------------------------------------------------------

function once<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string; error?: string }): void => {
      if (message.type === type) {
        child.off("message", onMessage);
        resolve(message as T);
      } else if (message.type === "failed") {
        child.off("message", onMessage);
        reject(new Error(message.error));
      }
    };
    child.on("message", onMessage);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function coordinate(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      agents: { type: "string", default: "10000" },
      steps: { type: "string" },
      heartbeat: { type: "string", default: "30" },
      "batch-every": { type: "string", default: "10" },
      window: { type: "string", default: "60" },
      clients: { type: "string", default: "2" },
      "plain-http": { type: "boolean", default: false },
    },
  });
  const target = Number(values.agents);
  const steps = (values.steps ?? [0.1, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * target)).join(","))
    .split(",")
    .map(Number)
    .filter((n) => n > 0);
  const heartbeat = Number(values.heartbeat);
  const batchEvery = Number(values["batch-every"]);
  const windowSeconds = Number(values.window);
  const clientCount = Number(values.clients);
  const plainHttp = values["plain-http"];

  const dataDir = mkdtempSync(join(tmpdir(), "ring3-fleet-bench-"));
  const self = import.meta.filename;
  const server = fork(self, ["--role=server", dataDir, String(plainHttp), String(heartbeat)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const clients: ChildProcess[] = [];
  const cleanup = (): void => {
    for (const c of clients) c.kill("SIGKILL");
    server.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const ready = await once<ServerReady>(server, "ready");
    console.log(
      `ring3 fleet bench: server ${ready.url} (${plainHttp ? "plain HTTP" : "HTTPS, CA pinned"}), SQLite in ${dataDir}`,
    );
    console.log(
      `agents: heartbeat every ${heartbeat} s, 1 event/s shipped every ${batchEvery} s (${batchEvery} events per gzip batch), keep-alive connections; ${clientCount} client processes; window ${windowSeconds} s per step`,
    );
    for (let i = 0; i < clientCount; i++) {
      const child = fork(self, ["--role=client"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      clients.push(child);
      child.send({
        type: "start",
        url: ready.url,
        caPem: ready.caPem,
        token: ready.token,
        heartbeat,
        batchEvery,
      } satisfies ToClient);
      await once(child, "started");
    }
    const usage = async (): Promise<Usage> => {
      server.send({ type: "usage" });
      return once<Usage>(server, "usage");
    };
    const collect = async (): Promise<ClientStats[]> =>
      Promise.all(
        clients.map((c) => {
          c.send({ type: "collect" } satisfies ToClient);
          return once<ClientStats>(c, "stats");
        }),
      );

    const limit = (await usage()).fds?.max;
    console.log(`server descriptors: limit ${limit ?? "unknown"}`);
    console.log(
      "\nagents  heartbeats  hb p50 ms  hb p99 ms  hb max ms  errors  batches/s  deferred/s  events/s stored  batch p99 ms  server CPU  server RSS  server heap  server fds  clients CPU",
    );
    let held = 0;
    let enrolled = 0;
    for (const step of steps) {
      const adding = step - enrolled;
      const enrollStarted = performance.now();
      await Promise.all(
        clients.map((c, i) => {
          const share = Math.floor(adding / clientCount) + (i < adding % clientCount ? 1 : 0);
          const from =
            enrolled +
            clients
              .slice(0, i)
              .reduce((sum, _c, j) => sum + Math.floor(adding / clientCount) + (j < adding % clientCount ? 1 : 0), 0);
          c.send({ type: "add", from, count: share } satisfies ToClient);
          return once(c, "added");
        }),
      );
      enrolled = step;
      const enrollSeconds = (performance.now() - enrollStarted) / 1000;
      // Settle: every new agent has sent its first heartbeat and batch before the window opens.
      await sleep(Math.max(heartbeat, batchEvery) * 1000);
      await collect();
      const before = await usage();
      const started = performance.now();
      await sleep(windowSeconds * 1000);
      const stats = await collect();
      const after = await usage();
      const seconds = (performance.now() - started) / 1000;
      const latencies = stats.flatMap((s) => s.heartbeats).sort((a, b) => a - b);
      const batchLatencies = stats.flatMap((s) => s.batchMs).sort((a, b) => a - b);
      const errors = stats.reduce((n, s) => n + s.heartbeatErrors + s.batchErrors, 0);
      const p99 = percentile(latencies, 99);
      const stored = stats.reduce((n, s) => n + s.events, 0) / seconds;
      const row = [
        String(step).padStart(6),
        String(latencies.length).padStart(10),
        percentile(latencies, 50).toFixed(1).padStart(9),
        p99.toFixed(1).padStart(9),
        (latencies[latencies.length - 1] ?? NaN).toFixed(0).padStart(9),
        String(errors).padStart(6),
        (stats.reduce((n, s) => n + s.batches, 0) / seconds).toFixed(0).padStart(9),
        (stats.reduce((n, s) => n + s.busy, 0) / seconds).toFixed(1).padStart(10),
        `${stored.toFixed(0)} of ${step}`.padStart(15),
        percentile(batchLatencies, 99).toFixed(1).padStart(12),
        `${(((after.cpuMs - before.cpuMs) / 1000 / seconds) * 100).toFixed(0)}%`.padStart(10),
        `${(after.rssBytes / 1048576).toFixed(0)} MB`.padStart(10),
        `${(after.heapBytes / 1048576).toFixed(0)} MB`.padStart(11),
        String(after.fds?.open ?? "?").padStart(10),
        `${((stats.reduce((n, s) => n + s.cpuMs, 0) / 1000 / seconds) * 100).toFixed(0)}%`.padStart(11),
      ];
      // Other work on the machine takes CPU from the server: the load average says how much there was.
      console.log(
        `${row.join("  ")}   (enrolled in ${enrollSeconds.toFixed(1)} s; load average ${loadavg()[0]!.toFixed(1)})`,
      );
      for (const sample of stats.flatMap((s) => s.errorSamples).slice(0, 3)) console.log(`  error: ${sample}`);
      // Held: heartbeats answered in time, no failures, and the events stored as fast as the fleet makes them.
      if (!(p99 < 1000) || errors > 0 || stored < 0.95 * step) break;
      held = step;
    }
    console.log(`\nheld ${held} agents with heartbeat p99 < 1 s and every event stored (target ${target})`);
    // The server closes its connections and its store before the data dir goes (and, run with --cpu-prof,
    // writes its profile on the way out); a kill is the last resort.
    server.send({ type: "stop" });
    for (const c of clients) c.send({ type: "stop" } satisfies ToClient);
    await Promise.race([Promise.all([server, ...clients].map(exited)), sleep(30_000)]);
  } finally {
    cleanup();
  }
}

const role = process.argv.find((a) => a.startsWith("--role="))?.slice("--role=".length);
if (role === "server") {
  const [dataDir, plain, heartbeat] = process.argv.slice(3);
  await runServer(dataDir!, plain === "true", Number(heartbeat));
} else if (role === "client") {
  runClient();
} else {
  await coordinate();
}
