/**
 * What the Linux agent costs and what it loses under load: `npm run bench:agent` (as root, addon built).
 *
 * Each storm (exec, file, connect, and exec + file together) runs for a fixed time with the agent off, then
 * with `ring3 agent --stdout` running as a child whose stdout this process only counts. Workloads run in their
 * own child processes (this file with `--workload <kind>`; the execs from a small Perl spawner, see
 * EXEC_SPAWNER) so the counter does not slow them down. Latency probes are execs whose command line carries
 * the wall-clock time in ms (performance.timeOrigin + now() here, Time::HiRes::time in the spawner: the same
 * clock in every process) at which the workload started them; a rule in a temporary rules dir alerts on them.
 * Event→alert latency runs to the alert's `detectedAt` (the agent's clock when its engine matched); the time
 * until this process read the line is shown beside it: this reader, at nice 0 on a host the storms saturate,
 * added up to ~150 ms at p99 of its own.
 * RING3_BENCH_SECONDS changes the storm length (default 10); RING3_BENCH_STORMS=exec,connect runs only those
 * storms. The agent runs with the nice value and node flags of ring3-agent.service, as deployed.
 */
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const wallMs = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

const STORM_MS = Number(process.env.RING3_BENCH_SECONDS ?? 10) * 1000;
const EXEC_RATE = 500;
const FILE_OPS_RATE = 5000;
/** Every file is four operations: create, write, rename, delete. */
const FILE_OPS_PER_FILE = 4;
const CONNECT_RATE = 500;
const PROBE_EVERY = 25;
const LATENCY_TAG = "ring3-bench-latency:";
const TICK_MS = 10;

// ---- workloads (child processes) ------------------------------------------------------------------------------

type WorkloadResult = { readonly done: number; readonly ms: number; readonly extra?: Record<string, unknown> };

/** Runs `step` at `rate` per second for `ms`, TICK_MS at a time, never ahead of the clock (a slow system falls behind). */
async function paced(rate: number, ms: number, step: (n: number) => Promise<void> | void): Promise<number> {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    const pending: Promise<void>[] = [];
    while (n < due) {
      const running = step(n++);
      if (running instanceof Promise) pending.push(running);
    }
    await Promise.all(pending);
    await sleep(TICK_MS);
  }
  return n;
}

/**
 * The exec storm's spawner, in Perl (part of every Debian install: perl-base is Essential). A Node spawner
 * forks a process with a large heap: each exec then cost it ~2 ms of CPU, so at 500 exec/s beside the file
 * storm the two cores were saturated by the workload itself and it delivered 230–375 exec/s, whatever the agent
 * did. A small process forks cheaply and delivers the target rate. Paced like `paced` (TICK_MS ticks, never
 * ahead of the clock), with at most 64 children in flight; a latency probe's time is the wall clock in ms, the
 * clock `wallMs` reads. Prints `done ms generated` (completed in the window, its length, completed in all).
 */
const EXEC_SPAWNER = `
use strict; use warnings; use POSIX (); use Time::HiRes ();
my ($ms, $rate, $every, $tick) = @ARGV;
my ($marker, $tag) = @ENV{"RING3_BENCH_MARKER", "RING3_BENCH_TAG"};
my $start = Time::HiRes::time(); my ($n, $inFlight, $done) = (0, 0, 0);
my $elapsed = sub { (Time::HiRes::time() - $start) * 1000 };
while ($elapsed->() < $ms) {
  my $due = int($elapsed->() / 1000 * $rate);
  while ($n < $due) {
    while ($inFlight >= 64) { if (waitpid(-1, 0) > 0) { $inFlight--; $done++; } }
    my @args = ("$marker-$n");
    push @args, sprintf("%s%.3f", $tag, Time::HiRes::time() * 1000) if $n % $every == 0;
    my $pid = fork(); die "fork: $!" unless defined $pid;
    if ($pid == 0) { exec { "/bin/true" } "/bin/true", @args or POSIX::_exit(127); }
    $inFlight++; $n++;
  }
  while (waitpid(-1, POSIX::WNOHANG()) > 0) { $inFlight--; $done++; }
  Time::HiRes::sleep($tick / 1000);
}
my ($windowDone, $windowMs) = ($done, $elapsed->());
while ($inFlight > 0) { if (waitpid(-1, 0) > 0) { $inFlight--; $done++; } }
print "$windowDone $windowMs $done\n";
`;

async function execWorkload(marker: string, ms: number): Promise<WorkloadResult> {
  // The marker and the tag go in the environment: on the spawner's command line, its own process_creation
  // would count as a storm exec or a latency probe.
  const args = [ms, EXEC_RATE, PROBE_EVERY, TICK_MS].map(String);
  // The script comes on stdin (`perl -`): as `-e` it would be the command line, 1 KB, that every exec's
  // process_creation carries as ParentCommandLine, where a real parent's is a few dozen bytes.
  const child = spawn("perl", ["-", ...args], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, RING3_BENCH_MARKER: marker, RING3_BENCH_TAG: LATENCY_TAG },
  });
  child.stdin.end(EXEC_SPAWNER);
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  const [done, windowMs, generated] = out.trim().split(" ").map(Number);
  if (code !== 0 || done === undefined || windowMs === undefined || generated === undefined)
    throw new Error(`exec spawner exited with ${code}: ${out}`);
  // Throughput counts what finished inside the window; the stragglers still count as generated events.
  return { done, ms: windowMs, extra: { generated } };
}

async function fileWorkload(dir: string, ms: number): Promise<WorkloadResult> {
  const start = performance.now();
  const files = await paced(FILE_OPS_RATE / FILE_OPS_PER_FILE, ms, (n) => {
    const a = join(dir, `a-${n}`);
    const b = join(dir, `b-${n}`);
    writeFileSync(a, "ring3 bench\n");
    renameSync(a, b);
    unlinkSync(b);
  });
  return { done: files * FILE_OPS_PER_FILE, ms: performance.now() - start, extra: { files } };
}

async function connectWorkload(ms: number): Promise<WorkloadResult> {
  let accepted = 0;
  const server = createServer((socket) => {
    accepted += 1;
    socket.destroy();
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  process.stdout.write(JSON.stringify({ port }) + "\n");
  const start = performance.now();
  let failed = 0;
  const localPorts: number[] = [];
  const connects = await paced(
    CONNECT_RATE,
    ms,
    () =>
      new Promise<void>((done) => {
        const socket = createConnection({ host: "127.0.0.1", port });
        socket.once("connect", () => {
          localPorts.push(socket.localPort ?? 0);
          socket.destroy();
        });
        socket.once("error", () => (failed += 1));
        socket.once("close", () => done());
      }),
  );
  await new Promise<void>((done) => server.close(() => done()));
  return { done: connects - failed, ms: performance.now() - start, extra: { port, failed, accepted, localPorts } };
}

async function workloadMain(kind: string, arg: string, ms: number): Promise<void> {
  const result =
    kind === "exec"
      ? await execWorkload(arg, ms)
      : kind === "file"
        ? await fileWorkload(arg, ms)
        : await connectWorkload(ms);
  process.stdout.write(JSON.stringify({ result }) + "\n");
}

// ---- the agent and its output ---------------------------------------------------------------------------------

type Counts = {
  execSeen: Set<number>;
  fileCreate: number;
  fileRename: number;
  fileDelete: number;
  /** Outbound network_connection events to the storm's server … */
  connect: number;
  /** … of which with the client's local end (SourcePort, Protocol). */
  connectLocal: number;
  /** The SourcePort of each outbound event (to compare with the client's own local ports). */
  connectPorts: number[];
  /** The server's accepted connections (inbound network_connection). */
  accept: number;
  /** ConnectionClosed events of the client's connections. */
  closed: number;
  lines: number;
};

type Health = Record<string, Record<string, unknown> | undefined>;

const LOSS_COUNTERS: Readonly<Record<string, readonly string[]>> = {
  "process-connector": ["sequenceLost", "enobufs", "ringDrops"],
  audit: ["serialLost", "kernelLost", "enobufs", "ringDrops"],
  fanotify: ["overflows", "ringDrops", "unresolved"],
  "sock-diag": ["enobufs", "ringDrops"],
  connections: ["closesLost"],
};

/** Every loss counter of a health line, as "sensor.counter" → total. */
function lossCounters(health: Health | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const [sensor, counters] of Object.entries(LOSS_COUNTERS))
    for (const counter of counters) {
      const value = health?.[sensor]?.[counter];
      if (typeof value === "number") out.set(`${sensor}.${counter}`, value);
    }
  return out;
}

/** Counters that went up between two health lines, e.g. "sock-diag.enobufs +3". */
function lossIncrease(before: Map<string, number>, after: Map<string, number>): { total: number; which: string } {
  let total = 0;
  const which: string[] = [];
  for (const [key, value] of after) {
    const increase = value - (before.get(key) ?? 0);
    if (increase <= 0) continue;
    total += increase;
    which.push(`${key} +${increase}`);
  }
  return { total, which: which.join(", ") };
}

class AgentUnderTest {
  readonly child: ChildProcess;
  readonly counts: Counts = {
    execSeen: new Set(),
    fileCreate: 0,
    fileRename: 0,
    fileDelete: 0,
    connect: 0,
    connectLocal: 0,
    connectPorts: [],
    accept: 0,
    closed: 0,
    lines: 0,
  };
  /** Probe start → the alert's detectedAt, and → this process reading the alert line (ms). */
  latencies: number[] = [];
  readLatencies: number[] = [];
  health: Health | undefined;
  healthLines = 0;
  lossAlerts = 0;
  private readonly execMarker: string;
  private readonly execSeq: RegExp;
  private readonly fileDir: string;
  private readonly probeRuleId: string;
  private readonly running: Promise<void>;
  private readonly exited: Promise<number | null>;

  constructor(
    repo: string,
    launch: ServiceLaunch,
    config: string,
    rules: string,
    execMarker: string,
    fileDir: string,
    probeRuleId: string,
  ) {
    this.execMarker = execMarker;
    this.execSeq = new RegExp(`${execMarker}-(\\d+)`);
    this.fileDir = fileDir;
    this.probeRuleId = probeRuleId;
    const cli = join(repo, "packages", "cli", "bin", "ring3.js");
    // nice(1) execs node in its own process: the pid, and so /proc/<pid>, is the agent's.
    this.child = spawn(
      "nice",
      [
        "-n",
        String(launch.nice),
        process.execPath,
        ...launch.nodeFlags,
        cli,
        "agent",
        "--stdout",
        "--config",
        config,
        "--rules",
        rules,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.exited = new Promise((done) => this.child.once("exit", (code) => done(code)));
    let stderr = "";
    this.running = new Promise((done, fail) => {
      this.child.stderr!.setEncoding("utf8");
      this.child.stderr!.on("data", (chunk: string) => {
        stderr += chunk;
        if (stderr.includes("ring3 agent: running")) done();
      });
      void this.exited.then((code) => fail(new Error(`agent exited (${code}) before running:\n${stderr}`)));
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => this.onLine(line));
  }

  get pid(): number {
    return this.child.pid!;
  }

  async started(): Promise<void> {
    await Promise.race([
      this.running,
      sleep(30_000).then(() => Promise.reject(new Error("agent not running after 30 s"))),
    ]);
  }

  /** A cheap look at each line: only health lines, alerts and lines naming a storm's marker are parsed. */
  private onLine(line: string): void {
    this.counts.lines += 1;
    if (line.startsWith('{"health"')) {
      this.health = (JSON.parse(line) as { health: { sensors: Health } }).health.sensors;
      this.healthLines += 1;
      return;
    }
    if (line.startsWith('{"alert":true')) {
      const now = wallMs();
      const alert = JSON.parse(line) as {
        health?: boolean;
        rule?: { id: string };
        detectedAt?: string;
        event: { fields: { CommandLine?: string } };
      };
      if (alert.health === true) this.lossAlerts += 1;
      else if (alert.rule?.id === this.probeRuleId) {
        const sent = Number(alert.event.fields.CommandLine?.split(LATENCY_TAG)[1]);
        const detected = Date.parse(alert.detectedAt ?? "");
        if (Number.isFinite(sent) && Number.isFinite(detected)) {
          this.latencies.push(detected - sent);
          this.readLatencies.push(now - sent);
        }
      }
      return;
    }
    if (line.includes(this.execMarker)) {
      if (!line.includes('"category":"process_creation"')) return;
      const seq = this.execSeq.exec(line)?.[1];
      if (seq !== undefined) this.counts.execSeen.add(Number(seq));
    } else if (line.includes(this.fileDir)) {
      if (line.includes('"category":"file_rename"')) this.counts.fileRename += 1;
      else if (line.includes('"category":"file_delete"')) this.counts.fileDelete += 1;
      else if (line.includes('"category":"file_event"')) this.counts.fileCreate += 1;
    } else if (this.port !== 0 && line.includes(`"DestinationPort":${this.port},`)) {
      // Outbound: the client → 127.0.0.1:port; inbound: the server's side (Initiated false) of the same.
      const outbound = line.includes('"Initiated":"true"') && line.includes('"DestinationIp":"127.0.0.1"');
      if (line.includes('"category":"network_connection"')) {
        if (outbound) {
          this.counts.connect += 1;
          if (line.includes('"Protocol":"tcp"') && line.includes('"SourcePort":')) this.counts.connectLocal += 1;
          const sourcePort = /"SourcePort":(\d+)/.exec(line)?.[1];
          if (sourcePort !== undefined) this.counts.connectPorts.push(Number(sourcePort));
        } else if (line.includes('"Initiated":"false"')) this.counts.accept += 1;
      } else if (outbound && line.includes('"EventType":"ConnectionClosed"')) this.counts.closed += 1;
    }
  }

  port = 0;

  /** utime + stime in ms (clock ticks of 10 ms). */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  }

  /**
   * Resident and peak resident set in MB, and the resident set's parts: anonymous memory (the V8 heap, malloc,
   * the native rings) and file pages (mostly the node binary's own code, shared with every Node process).
   */
  memory(): { rss: number; hwm: number; anon: number; file: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024, anon: kb("RssAnon") / 1024, file: kb("RssFile") / 1024 };
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const code = await Promise.race([this.exited, sleep(15_000).then(() => "timeout" as const)]);
    if (code !== "timeout") return code;
    this.child.kill("SIGKILL");
    return this.exited;
  }
}

// ---- the bench ------------------------------------------------------------------------------------------------

const ALL_STORMS = ["exec", "file", "connect", "exec+file"] as const;
type Storm = (typeof ALL_STORMS)[number];
type StormRun = {
  readonly throughput: Record<string, number>;
  readonly generated?: Record<string, number>;
  readonly seen?: Record<string, number>;
  /** Events complete in some respect, of those generated: [what, complete, generated]. */
  readonly resolved?: readonly (readonly [string, number, number])[];
  readonly lost?: { readonly total: number; readonly which: string };
  readonly cpuPct?: number;
  readonly rssMb?: number;
};

const workloads: ChildProcess[] = [];

function runWorkload(
  kind: "exec" | "file" | "connect",
  arg: string,
  onPort?: (port: number) => void,
): Promise<WorkloadResult> {
  const child = spawn(process.execPath, [import.meta.filename, "--workload", kind, arg, String(STORM_MS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  workloads.push(child);
  return new Promise((done, fail) => {
    let result: WorkloadResult | undefined;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as { port?: number; result?: WorkloadResult };
      if (message.port !== undefined) onPort?.(message.port);
      if (message.result !== undefined) result = message.result;
    });
    child.once("exit", (code) => {
      workloads.splice(workloads.indexOf(child), 1);
      if (result !== undefined) done(result);
      else fail(new Error(`${kind} workload exited with ${code}`));
    });
  });
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("bench:agent skipped: needs root (the agent's sensors)");
    return;
  }
  const repo = resolve(import.meta.dirname, "..", "..", "..");
  const temp = mkdtempSync(join(tmpdir(), "ring3-agent-bench-"));
  const fileDir = join(temp, "files");
  const rulesDir = join(temp, "rules");
  const run = Math.random().toString(36).slice(2, 8);
  const execMarker = `ring3-bench-${run}`;
  const probeRuleId = "0f6d1c2e-5a4b-4c3d-9e8f-7a6b5c4d3e2f";
  writeFileSync(join(temp, "agent.yaml"), "healthIntervalMs: 1000\n");
  for (const dir of [fileDir, rulesDir]) mkdirSync(dir);
  let agent: AgentUnderTest | undefined;
  const interrupted = (): void => {
    for (const child of workloads) child.kill("SIGKILL");
    void (agent?.stop() ?? Promise.resolve(null)).finally(() => {
      rmSync(temp, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    await bench(repo, temp, fileDir, rulesDir, execMarker, probeRuleId, (a) => (agent = a));
  } finally {
    for (const child of workloads) child.kill("SIGKILL");
    await agent?.stop();
    rmSync(temp, { recursive: true, force: true });
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
  }
}

async function bench(
  repo: string,
  temp: string,
  fileDir: string,
  rulesDir: string,
  execMarker: string,
  probeRuleId: string,
  setAgent: (agent: AgentUnderTest) => void,
): Promise<void> {
  writeFileSync(
    join(rulesDir, "bench_probe.yml"),
    [
      "title: ring3 bench latency probe",
      `id: ${probeRuleId}`,
      "status: experimental",
      "logsource: { product: linux, category: process_creation }",
      `detection: { selection: { CommandLine|contains: '${LATENCY_TAG}' }, condition: selection }`,
      "level: low",
      "",
    ].join("\n"),
  );
  // RING3_BENCH_STORMS=connect,exec runs a subset (while working on one sensor); the default runs them all.
  const storms: readonly Storm[] = ALL_STORMS.filter((storm) =>
    (process.env.RING3_BENCH_STORMS ?? ALL_STORMS.join(",")).split(",").includes(storm),
  );
  const off = new Map<Storm, StormRun>();
  const on = new Map<Storm, StormRun>();
  const stormOnce = async (storm: Storm, onPort?: (port: number) => void): Promise<Record<string, WorkloadResult>> => {
    const out: Record<string, WorkloadResult> = {};
    const jobs: Promise<void>[] = [];
    if (storm === "exec" || storm === "exec+file")
      jobs.push(runWorkload("exec", execMarker, onPort).then((r) => void (out.exec = r)));
    if (storm === "file" || storm === "exec+file")
      jobs.push(runWorkload("file", fileDir).then((r) => void (out.file = r)));
    if (storm === "connect") jobs.push(runWorkload("connect", "", onPort).then((r) => void (out.connect = r)));
    await Promise.all(jobs);
    return out;
  };
  const rates = (results: Record<string, WorkloadResult>): Record<string, number> =>
    Object.fromEntries(Object.entries(results).map(([kind, r]) => [kind, r.done / (r.ms / 1000)]));

  console.log(
    `ring3 agent bench: ${STORM_MS / 1000} s per storm, targets ${EXEC_RATE} exec/s, ${FILE_OPS_RATE} file ops/s, ${CONNECT_RATE} connects/s`,
  );
  for (const storm of storms) {
    off.set(storm, { throughput: rates(await stormOnce(storm)) });
    console.log(`agent off  ${storm.padEnd(10)} ${fmtRates(off.get(storm)!.throughput)}`);
  }

  const launch = serviceLaunch(repo);
  // As the unit's ExecStartPre does: the agent then starts on a warm compile cache, on a fresh clone as later.
  warmCompileCache(repo, launch);
  const agent = new AgentUnderTest(repo, launch, join(temp, "agent.yaml"), rulesDir, execMarker, fileDir, probeRuleId);
  setAgent(agent);
  await agent.started();
  await sleep(3000);
  const idleCpu0 = agent.cpuMs();
  const idleLines0 = agent.counts.lines;
  const idleHealth0 = agent.healthLines;
  await sleep(STORM_MS);
  const idlePct = ((agent.cpuMs() - idleCpu0) / STORM_MS) * 100;
  // The agent watches the whole host: what other processes did meanwhile is part of "idle".
  const idleEvents = agent.counts.lines - idleLines0 - (agent.healthLines - idleHealth0);
  console.log(
    `agent on   idle       ${idlePct.toFixed(2)} % CPU over ${STORM_MS / 1000} s (nice ${launch.nice}, node ${launch.nodeFlags.join(" ")}), while the host's other processes made ${idleEvents} events`,
  );

  let peakRss = 0;
  let largest = agent.memory();
  const sampler = setInterval(() => {
    const sample = agent.memory();
    peakRss = Math.max(peakRss, sample.rss);
    if (sample.rss > largest.rss) largest = sample;
  }, 200);
  const stormLatencies: number[] = [];
  const stormReadLatencies: number[] = [];
  try {
    for (const storm of storms) {
      const before = {
        exec: agent.counts.execSeen.size,
        fileCreate: agent.counts.fileCreate,
        fileRename: agent.counts.fileRename,
        fileDelete: agent.counts.fileDelete,
        connect: agent.counts.connect,
        connectLocal: agent.counts.connectLocal,
        connectPorts: agent.counts.connectPorts.length,
        accept: agent.counts.accept,
        closed: agent.counts.closed,
        loss: lossCounters(agent.health),
        cpu: agent.cpuMs(),
        lines: agent.counts.lines,
      };
      agent.counts.execSeen.clear();
      agent.latencies = [];
      agent.readLatencies = [];
      const rssBefore = peakRss;
      peakRss = 0;
      const results = await stormOnce(storm, (port) => (agent.port = port));
      // Drain: until no line arrived for 1 s (bounded at 10 s), then one more health line for the counters.
      for (let i = 0, last = -1; i < 20 && agent.counts.lines !== last; i++) {
        last = agent.counts.lines;
        await sleep(1000);
      }
      const healthBefore = agent.healthLines;
      for (let i = 0; i < 30 && agent.healthLines === healthBefore; i++) await sleep(100);
      const cpuPct = ((agent.cpuMs() - before.cpu) / STORM_MS) * 100;
      const generated: Record<string, number> = {};
      const seen: Record<string, number> = {};
      if (results.exec !== undefined) {
        generated.process_creation = Number(results.exec.extra?.generated ?? 0);
        seen.process_creation = agent.counts.execSeen.size;
      }
      if (results.file !== undefined) {
        const files = Number(results.file.extra?.files ?? 0);
        generated.file_event = files;
        generated.file_rename = files;
        generated.file_delete = files;
        seen.file_event = agent.counts.fileCreate - before.fileCreate;
        seen.file_rename = agent.counts.fileRename - before.fileRename;
        seen.file_delete = agent.counts.fileDelete - before.fileDelete;
      }
      const resolved: [string, number, number][] = [];
      if (results.connect !== undefined) {
        const done = results.connect.done;
        generated.network_connection = done;
        seen.network_connection = agent.counts.connect - before.connect;
        // The server's side exists only for connections it accepted before it closed.
        generated["network_connection (inbound)"] = Number(results.connect.extra?.accepted ?? done);
        seen["network_connection (inbound)"] = agent.counts.accept - before.accept;
        generated.ConnectionClosed = done;
        seen.ConnectionClosed = agent.counts.closed - before.closed;
        resolved.push([
          "network_connection with SourcePort, Protocol",
          agent.counts.connectLocal - before.connectLocal,
          done,
        ]);
        // A connection given another's socket (its fd reused before audit was read) carries that one's port:
        // each of the client's ports should be reported once.
        const own = new Set(results.connect.extra?.localPorts as number[] | undefined);
        const reported = new Set(agent.counts.connectPorts.slice(before.connectPorts).filter((p) => own.has(p)));
        resolved.push(["network_connection with its own SourcePort (distinct)", reported.size, own.size]);
        agent.port = 0;
      }
      on.set(storm, {
        throughput: rates(results),
        generated,
        seen,
        resolved,
        lost: lossIncrease(before.loss, lossCounters(agent.health)),
        cpuPct,
        rssMb: Math.max(peakRss, agent.memory().rss),
      });
      peakRss = Math.max(peakRss, rssBefore);
      stormLatencies.push(...agent.latencies);
      stormReadLatencies.push(...agent.readLatencies);
      console.log(
        `agent on   ${storm.padEnd(10)} ${fmtRates(on.get(storm)!.throughput)}, agent ${cpuPct.toFixed(1)} % CPU`,
      );
    }
  } finally {
    clearInterval(sampler);
  }

  // Quiet latency: probes at 10/s with nothing else running.
  agent.latencies = [];
  agent.readLatencies = [];
  for (let i = 0; i < 50; i++) {
    spawn("/bin/true", [`${execMarker}-quiet-${i}`, `${LATENCY_TAG}${wallMs().toFixed(3)}`], { stdio: "ignore" });
    await sleep(100);
  }
  await sleep(1000);
  const quietLatencies = agent.latencies;
  const quietReadLatencies = agent.readLatencies;
  const peak = agent.memory().hwm;
  const exitCode = await agent.stop();

  // ---- report ----
  console.log("");
  const verdicts: boolean[] = [];
  const row = (what: string, result: string, target: string, pass: boolean | undefined): void => {
    if (pass !== undefined) verdicts.push(pass);
    console.log(
      `${what.padEnd(44)} ${result.padEnd(44)} ${target.padEnd(18)} ${pass === undefined ? "" : pass ? "PASS" : "MISS"}`,
    );
  };
  row("measure", "result", "target", undefined);
  for (const storm of storms) {
    const a = off.get(storm)!;
    const b = on.get(storm)!;
    for (const kind of Object.keys(a.throughput)) {
      const ratio = b.throughput[kind]! / a.throughput[kind]!;
      row(
        `${storm}: ${kind} throughput on/off`,
        `${Math.round(b.throughput[kind]!)}/${Math.round(a.throughput[kind]!)} per s = ${(ratio * 100).toFixed(1)} % (slowdown ${((1 - ratio) * 100).toFixed(1)} %)`,
        "slowdown < 10 %",
        1 - ratio < 0.1,
      );
    }
    for (const [category, generated] of Object.entries(b.generated ?? {})) {
      const seen = b.seen?.[category] ?? 0;
      row(`${storm}: ${category} seen/generated`, `${seen}/${generated} (missing ${generated - seen})`, "", undefined);
    }
    for (const [what, complete, generated] of b.resolved ?? [])
      row(
        `${storm}: ${what}`,
        `${complete}/${generated} (${((100 * complete) / Math.max(1, generated)).toFixed(1)} %)`,
        "",
        undefined,
      );
    const missing = Object.entries(b.generated ?? {}).reduce(
      (sum, [k, g]) => sum + Math.max(0, g - (b.seen?.[k] ?? 0)),
      0,
    );
    const lost = b.lost ?? { total: 0, which: "" };
    const unaccounted = Math.max(0, missing - lost.total);
    row(
      `${storm}: loss`,
      `missing ${missing}, unaccounted ${unaccounted}; loss counters +${lost.total}${lost.which === "" ? "" : ` (${lost.which})`}`,
      "unaccounted 0",
      unaccounted === 0,
    );
    const heavy = storm === "exec+file";
    // The CPU target holds at the target rates: when the host could not deliver them, the scaled line below
    // decides instead.
    const judged = heavy && atTargetRates(b.throughput);
    row(
      `${storm}: agent CPU (one core)`,
      `${b.cpuPct!.toFixed(1)} %${heavy && !judged ? " (below the target rates)" : ""}`,
      judged ? "< 30 %" : "",
      judged ? b.cpuPct! < 30 : undefined,
    );
    row(
      `${storm}: agent RSS peak during storm`,
      `${b.rssMb!.toFixed(1)} MB`,
      heavy ? "< 150 MB" : "",
      heavy ? b.rssMb! < 150 : undefined,
    );
  }
  // A cross-check of the exec+file storm: the CPU per exec and per file op of the single storms (the exec storm
  // is the agent's first, so it also pays for compiling the exec path), scaled to the target rates. It is the
  // verdict only when the exec+file storm fell short of them (a loaded host).
  const perOp = (storm: Storm, category: string, ops: number): number | undefined => {
    const run = on.get(storm);
    const generated = run?.generated?.[category];
    return run?.cpuPct === undefined || generated === undefined || generated === 0
      ? undefined
      : ((run.cpuPct / 100) * STORM_MS) / (generated * ops);
  };
  const execMs = perOp("exec", "process_creation", 1);
  const fileOpMs = perOp("file", "file_event", FILE_OPS_PER_FILE);
  if (execMs !== undefined && fileOpMs !== undefined) {
    const scaled = ((execMs * EXEC_RATE + fileOpMs * FILE_OPS_RATE) / 1000) * 100;
    const combined = on.get("exec+file");
    const decides = combined === undefined || !atTargetRates(combined.throughput);
    row(
      `exec+file scaled to ${EXEC_RATE} exec/s + ${FILE_OPS_RATE} ops/s`,
      `${scaled.toFixed(1)} % (${execMs.toFixed(3)} ms/exec, ${(fileOpMs * 1000).toFixed(1)} µs/file op)`,
      decides ? "< 30 %" : "",
      decides ? scaled < 30 : undefined,
    );
  }
  row("agent peak RSS (VmHWM, whole run)", `${peak.toFixed(1)} MB`, "< 150 MB", peak < 150);
  row(
    "  of it at the largest sample (200 ms)",
    `${largest.rss.toFixed(1)} MB: ${largest.anon.toFixed(1)} MB anonymous + ${largest.file.toFixed(1)} MB file pages (node's code)`,
    "",
    undefined,
  );
  row("idle agent CPU", `${idlePct.toFixed(2)} %`, "< 1 %", idlePct < 1);
  for (const [label, values, read] of [
    ["latency, quiet (50 probes)", quietLatencies, quietReadLatencies],
    ["latency, during storms", stormLatencies, stormReadLatencies],
  ] as const) {
    const p99 = percentile(values, 99);
    row(
      `${label}: p50 / p99`,
      `${percentile(values, 50).toFixed(1)} / ${p99.toFixed(1)} ms (${values.length} alerts)`,
      "p99 < 100 ms",
      p99 < 100,
    );
    row(
      "  until this bench read the alert",
      `${percentile(read, 50).toFixed(1)} / ${percentile(read, 99).toFixed(1)} ms`,
      "",
      undefined,
    );
  }
  row("SensorLoss alerts", String(agent.lossAlerts), "", undefined);
  row("agent exit code", String(exitCode), "0", exitCode === 0);
  const misses = verdicts.filter((v) => !v).length;
  console.log(`\n${verdicts.length - misses} PASS, ${misses} MISS`);
}

type ServiceLaunch = { readonly nice: number; readonly nodeFlags: readonly string[] };

/**
 * How ring3-agent.service starts the agent: its `Nice=` (a storm that saturates the host must not starve the
 * sensor: detection latency is measured under it) and the node flags of `ExecStart=…/node <flags> …/ring3.js agent …`.
 */
function serviceLaunch(repo: string): ServiceLaunch {
  const unit = readFileSync(join(repo, "packages", "agent", "ring3-agent.service"), "utf8");
  const flags = /^ExecStart=\S+\/node((?: --\S+)*) \S+ring3\.js agent/m.exec(unit)?.[1] ?? "";
  const nice = Number(/^Nice=(-?\d+)$/m.exec(unit)?.[1] ?? 0);
  return { nice, nodeFlags: flags.split(" ").filter((flag) => flag !== "") };
}

/** `ring3 help` with the agent's node flags: loads every module the agent runs, filling the compile cache. */
function warmCompileCache(repo: string, launch: ServiceLaunch): void {
  const cli = join(repo, "packages", "cli", "bin", "ring3.js");
  const warm = spawnSync(process.execPath, [...launch.nodeFlags, cli, "help"], { stdio: "ignore" });
  if (warm.status !== 0) throw new Error(`ring3 help exited with ${warm.status ?? warm.signal}`);
}

/** Whether a storm ran at 95 % of the target rates or more (exec and file ops; the others have no target). */
function atTargetRates(throughput: Record<string, number>): boolean {
  return (throughput.exec ?? 0) >= 0.95 * EXEC_RATE && (throughput.file ?? 0) >= 0.95 * FILE_OPS_RATE;
}

function fmtRates(rates: Record<string, number>): string {
  return Object.entries(rates)
    .map(([kind, rate]) => `${kind} ${Math.round(rate)}/s`)
    .join(", ");
}

if (process.argv[2] === "--workload") await workloadMain(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else await main();
