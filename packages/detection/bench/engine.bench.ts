// npm run bench:engine — compile time and memory for the SigmaHQ corpus, then events/s on one core for the
// whole Windows ruleset over (1) a replay of the regression events and (2) a 10× larger synthetic benign stream.
// Targets (issue 2): compile < 3 s, ≥ 200,000 events/s, memory < 300 MB.
//
// The machine may be shared: every figure is given by wall time and by this process's CPU time
// (`process.cpuUsage`), and the throughput is the median of several timed rounds after a warm-up.
//
// Memory is the peak RSS while matching: the kernel's high-water mark, reset when matching starts (Linux,
// `/proc/self/clear_refs`), else the largest RSS seen after each pass. The process's peak over the whole run,
// compile included, is given too. The process runs with Node's compile cache, as the `ring3` bin does (see
// engine-bench.js, which `npm run bench:engine` starts).
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Event, FieldValue } from "@ring3/schema";
import { loadRules, parseWindowsLogsourceMap, Ruleset, windowsRecordToEvent } from "../src/index.ts";
import { REPO_ROOT, SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";

// engine-bench.js (the npm script) first runs this file only to fill Node's compile cache: the imports above
// are then compiled, and there is nothing more to do.
if (process.env.RING3_BENCH_WARM_ONLY === "1") process.exit(0);

const shared = sharedDataDir();
if (shared === undefined) {
  console.log(`bench:engine skipped: ${SHARED_DATA_MISSING}`);
  process.exit(0);
}
const sigma = join(shared, "sigma");

function walk(dir: string, ext: RegExp, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, ext, out);
    else if (ext.test(name)) out.push(path);
  }
  return out;
}

const mb = (n: number): string => `${(n / 1e6).toFixed(0)} MB`;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Peak RSS from `resetPeak()` on: the kernel's high-water mark where it can be reset, else sampled. */
let sampledPeak = 0;
let kernelPeak = true;
function resetPeak(): void {
  sampledPeak = process.memoryUsage.rss();
  try {
    // "5": reset the peak resident set size to the current one (proc(5), /proc/pid/clear_refs).
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    kernelPeak = false;
  }
}
function samplePeak(): void {
  sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
}
function peakSinceReset(): number {
  if (kernelPeak) {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm !== null) return Math.max(sampledPeak, Number(hwm[1]) * 1024);
  }
  return sampledPeak;
}

// 1. Compile the whole corpus.
const ruleDirs = ["rules", "rules-threat-hunting", "rules-emerging-threats", "rules-compliance", "rules-placeholder"];
const files = ruleDirs.flatMap((d) => walk(join(sigma, d), /\.ya?ml$/));
const sources = files.map((path) => ({ path, text: readFileSync(path, "utf8") }));
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const t0 = performance.now();
const c0 = cpuMs();
const loaded = loadRules(sources);
const compileCpu = cpuMs() - c0;
const compileMs = performance.now() - t0;
globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
console.log(`corpus: ${loaded.stats.files} files, ${loaded.stats.rules} rules, ${loaded.stats.compiled} compiled`);
console.log(
  `compile: ${compileMs.toFixed(0)} ms wall, ${compileCpu.toFixed(0)} ms CPU, heap +${mb(heapAfter - heapBefore)}, ` +
    `rss ${mb(process.memoryUsage().rss)}`,
);

// 2. Events: the regression samples, mapped as the hunt and the agent map them.
const mapText = readFileSync(join(REPO_ROOT, "content", "logsources", "windows.yaml"), "utf8");
const map = parseWindowsLogsourceMap(mapText, "windows.yaml").map;
const replay: Event[] = [];
for (const path of walk(join(sigma, "regression_data"), /\.json$/)) {
  const text = readFileSync(path, "utf8");
  // Concatenated objects: split at top-level `}{` boundaries.
  for (const chunk of text.replace(/}\s*{/g, "}\u0000{").split("\u0000")) {
    if (chunk.trim() === "") continue;
    replay.push(windowsRecordToEvent(JSON.parse(chunk) as unknown, map));
  }
}

const windowsRules = loaded.rules.filter((r) => r.rule.logsource.product === "windows");
console.log(`windows ruleset: ${windowsRules.length} rules; replay: ${replay.length} events`);

// 3. The benign stream: each replayed event's shape (logsource, field names, structural fields such as EventID
// and Channel) with the values a quiet workstation produces — a few dozen signed programs from Program Files
// started by Explorer, their documents and caches, their settings in the registry. Programs, users, hashes and
// most documents repeat, as real telemetry does; one event in four names a new document or cache file, so
// each pass brings command lines and file names the prefilter has never seen and must scan.
const KEEP = new Set(
  [
    "Provider_Name",
    "Provider_Guid",
    "EventID",
    "Version",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "EventRecordID",
    "Channel",
    "Computer",
    "TimeCreated",
    "ProcessID",
    "ThreadID",
    "UtcTime",
    "CreationUtcTime",
    "ProcessGuid",
    "ProcessId",
    "ParentProcessGuid",
    "ParentProcessId",
    "LogonGuid",
    "LogonId",
    "TerminalSessionId",
    "EventType",
    "ActivityID",
  ].map((k) => k.toLowerCase()),
);
const VENDORS = ["Contoso", "Fabrikam", "Northwind", "Litware", "Tailspin", "Adatum", "Wingtip", "Proseware"];
const PRODUCTS = ["Sync", "Notes", "Viewer", "Updater", "Mail", "Chat", "Studio", "Backup"];
const ARGS = ["--background", "/quiet", "--profile=default", "--minimized", "-sync", "--check-updates", "/autorun"];
const DOCS = ["Quarterly report", "Budget 2025", "meeting-notes", "invoice", "photo", "presentation", "todo"];
const EXTS = [".docx", ".xlsx", ".pdf", ".png", ".txt", ".pptx"];

type Program = { image: string; name: string; vendor: string; product: string; hash: string };
const programs: Program[] = [];
for (let i = 0; i < 40; i += 1) {
  const vendor = VENDORS[i % VENDORS.length] as string;
  const product = `${vendor} ${PRODUCTS[(i * 5) % PRODUCTS.length] as string}`;
  const name = `${product.replace(" ", "")}.exe`;
  const image = `C:\\Program Files\\${vendor}\\${product}\\${name}`;
  let h = i * 2654435761;
  let hash = "";
  for (let k = 0; k < 8; k += 1) {
    h = (Math.imul(h, 1103515245) + 12345) >>> 0;
    hash += h.toString(16).padStart(8, "0").toUpperCase();
  }
  programs.push({ image, name, vendor, product, hash });
}

/**
 * Strings that recur are taken from a pool rather than made anew, so that a pass allocates only its new
 * values: the bench's own garbage would otherwise be promoted while the engine runs and count as its memory.
 */
const pool = new Map<string, string>();
const pooled = (s: string): string => {
  const known = pool.get(s);
  if (known !== undefined) return known;
  pool.set(s, s);
  return s;
};

/**
 * Writes into `fields` the benign variant number `n` of `event`'s fields. A quiet workstation repeats a few
 * hundred activities (which program, with which arguments, on which document); one event in four is new.
 */
function benign(event: Event, n: number, fields: Record<string, FieldValue>): void {
  const fresh = n % 4 === 0;
  let seed = ((fresh ? n : n % 600) + 1) * 2654435761;
  const rand = (k: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % k;
  };
  const pick = <T>(list: readonly T[]): T => list[rand(list.length)] as T;
  const program = pick(programs);
  const other = pick(programs);
  const user = pick(["alice", "bob", "carol"]);
  const name = (s: string): string => (fresh ? s : pooled(s));
  const document = name(`C:\\Users\\${user}\\Documents\\${pick(DOCS)} ${fresh ? n : rand(30)}${pick(EXTS)}`);
  for (const [key, value] of Object.entries(event.fields)) {
    const k = key.toLowerCase();
    if (typeof value !== "string" || KEEP.has(k)) {
      fields[key] = value;
      continue;
    }
    if (k === "parentimage") fields[key] = "C:\\Windows\\explorer.exe";
    else if (k === "parentcommandline") fields[key] = "C:\\Windows\\Explorer.EXE";
    else if (k.endsWith("commandline")) fields[key] = name(`"${program.image}" ${pick(ARGS)} "${document}"`);
    else if (/image|processname|application/.test(k))
      fields[key] = k.startsWith("target") ? other.image : program.image;
    else if (k === "originalfilename") fields[key] = program.name;
    else if (k === "hashes") fields[key] = pooled(`SHA256=${program.hash}`);
    else if (k === "company" || k === "signature") fields[key] = pooled(`${program.vendor} Ltd.`);
    else if (k === "description" || k === "product") fields[key] = program.product;
    else if (k === "fileversion") fields[key] = pooled(`${program.hash.length % 7}.${program.name.length}.1.0`);
    else if (k === "currentdirectory") fields[key] = pooled(`C:\\Users\\${user}\\`);
    else if (k.endsWith("user") || k.endsWith("username")) fields[key] = pooled(`CONTOSO\\${user}`);
    else if (k.endsWith("userid") || k.endsWith("usersid")) {
      fields[key] = pooled(`S-1-5-21-1004336348-1177238915-682003330-${1001 + rand(3)}`);
    } else if (k === "integritylevel") fields[key] = "Medium";
    else if (k === "targetfilename" || k.endsWith("path")) {
      const cache = name(`C:\\Users\\${user}\\AppData\\Local\\${program.vendor}\\cache\\${fresh ? n : rand(30)}.tmp`);
      fields[key] = rand(2) === 0 ? document : cache;
    } else if (k === "targetobject") {
      const hive = "HKU\\S-1-5-21-1004336348-1177238915-682003330-1001\\Software";
      fields[key] = pooled(`${hive}\\${program.vendor}\\${program.product}\\Settings\\Option${rand(50)}`);
    } else if (k === "details") fields[key] = pooled(`DWORD (0x0000000${rand(10)})`);
    else if (k === "rulename") fields[key] = "-";
    else fields[key] = pooled(`${key.replace(/\W/g, "")}-${rand(100)}`);
  }
}

type Round = { readonly events: number; readonly wallMs: number; readonly cpuMs: number };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

/**
 * `stream(pass)` gives the events of one pass; it runs outside the timed part. Passes are timed one by one
 * and summed into rounds of about `roundMs`; the figure is the median round.
 */
function run(label: string, stream: (pass: number) => readonly Event[], rounds = 5, roundMs = 700): void {
  // The previous scenario's ruleset is garbage: collected here, so that memory shows one ruleset at a time.
  globalThis.gc?.();
  resetPeak();
  const ruleset = new Ruleset(windowsRules);
  // One pass counts the matches; then a second of warm-up so V8 has optimised the hot path.
  const first = stream(0);
  let matches = 0;
  for (const e of first) matches += ruleset.match(e).length;
  let pass = 1;
  const warm = performance.now();
  while (performance.now() - warm < 1000) {
    for (const e of stream(pass++)) ruleset.match(e);
    samplePeak();
  }
  const before = ruleset.stats();
  const results: Round[] = [];
  for (let r = 0; r < rounds; r += 1) {
    const round = { events: 0, wallMs: 0, cpuMs: 0 };
    while (round.wallMs < roundMs) {
      const events = stream(pass++);
      const start = performance.now();
      const cpu = cpuMs();
      for (const e of events) ruleset.match(e);
      round.cpuMs += cpuMs() - cpu;
      round.wallMs += performance.now() - start;
      round.events += events.length;
      samplePeak();
    }
    results.push(round);
  }
  const after = ruleset.stats();
  const byWall = median(results.map((r) => (r.events / r.wallMs) * 1000));
  const byCpu = median(results.map((r) => (r.events / r.cpuMs) * 1000));
  const evaluated = after.evaluatedRules - before.evaluatedRules;
  const seen = after.events - before.events;
  const lookups = after.prefilterLookups - before.prefilterLookups;
  const scans = after.prefilterScans - before.prefilterScans;
  console.log(
    `${label}: ${fmt(byWall)} events/s by wall, ${fmt(byCpu)} by CPU (median of ${rounds} rounds, ` +
      `${fmt(seen)} events); ${fmt(matches)} matches in ${fmt(first.length)} events; ` +
      `${(evaluated / Math.max(1, seen)).toFixed(2)} rules evaluated/event; ` +
      `prefilter: ${after.buckets} buckets, ${after.unindexedRules} rule slots without literals, ` +
      `${fmt(after.prefilterStates)} states, ${((100 * scans) / Math.max(1, lookups)).toFixed(0)}% of values scanned; ` +
      `rss ${mb(process.memoryUsage().rss)}, peak while matching ${mb(peakSinceReset())}`,
  );
}

run("replay of regression events", () => replay);
const replayPeak = peakSinceReset();
// The stream's events are refilled in place for each pass: the bench then makes next to no garbage of its own,
// and the memory figures are the engine's.
const size = replay.length * 10;
const synthetic = Array.from({ length: size }, (_, i): Event & { fields: Record<string, FieldValue> } => {
  const shape = replay[i % replay.length] as Event;
  return { ...shape, fields: {} };
});
run("synthetic benign stream (10x)", (pass) => {
  synthetic.forEach((e, i) => benign(replay[i % replay.length] as Event, pass * size + i, e.fields));
  return synthetic;
});
const matchingPeak = peakSinceReset();
globalThis.gc?.();
const mem = process.memoryUsage();
console.log(
  `memory: rss ${mb(mem.rss)}, heap ${mb(mem.heapUsed)}; peak while matching ${mb(Math.max(matchingPeak, replayPeak))}` +
    ` (${kernelPeak ? "kernel high-water mark" : "sampled after each pass"}), ` +
    `peak of the whole run, compile included ${mb(process.resourceUsage().maxRSS * 1024)}`,
);
