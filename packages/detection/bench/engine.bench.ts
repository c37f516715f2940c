// npm run bench:engine — compile time and memory for the SigmaHQ corpus, then events/s on one core for the
// whole Windows ruleset over (1) a replay of the regression events and (2) a 10× larger synthetic benign stream.
// Targets (issue 2): compile < 3 s, ≥ 200,000 events/s, memory < 300 MB.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "@ring3/schema";
import { loadRules, parseWindowsLogsourceMap, Ruleset, windowsRecordToEvent } from "../src/index.ts";
import { REPO_ROOT, SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";

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

// 1. Compile the whole corpus.
const ruleDirs = ["rules", "rules-threat-hunting", "rules-emerging-threats", "rules-compliance", "rules-placeholder"];
const files = ruleDirs.flatMap((d) => walk(join(sigma, d), /\.ya?ml$/));
const sources = files.map((path) => ({ path, text: readFileSync(path, "utf8") }));
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const t0 = performance.now();
const loaded = loadRules(sources);
const compileMs = performance.now() - t0;
globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
console.log(`corpus: ${loaded.stats.files} files, ${loaded.stats.rules} rules, ${loaded.stats.compiled} compiled`);
console.log(`compile: ${compileMs.toFixed(0)} ms, heap +${mb(heapAfter - heapBefore)}`);

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

/** A deterministic benign variant of an event: same shape, values a quiet workstation would produce. */
function benign(event: Event, n: number): Event {
  let seed = n * 2654435761;
  const rand = (k: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % k;
  };
  const vendors = ["Contoso", "Fabrikam", "Northwind", "Litware", "Tailspin"];
  const words = [
    "--update",
    "/quiet",
    "-config",
    "sync",
    "report.xlsx",
    "--profile=default",
    "C:\\Users\\alice\\Documents",
  ];
  const app = `C:\\Program Files\\${vendors[rand(vendors.length)] ?? "Contoso"}\\app${rand(500)}\\tool${rand(50)}.exe`;
  const fields: Record<string, Event["fields"][string]> = { ...event.fields };
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    if (typeof v !== "string") continue;
    if (/image$|^image|filename|path|targetobject|details|commandline/i.test(key)) {
      fields[key] = /commandline/i.test(key)
        ? `"${app}" ${words[rand(words.length)] ?? ""} ${words[rand(words.length)] ?? ""} --job ${n}`
        : /targetobject/i.test(key)
          ? `HKLM\\SOFTWARE\\${vendors[rand(vendors.length)] ?? ""}\\Settings\\Value${rand(100)}`
          : app;
    }
  }
  return { ...event, id: `${event.id}:${n}`, fields };
}

function run(label: string, events: readonly Event[], minMs = 3000): void {
  const ruleset = new Ruleset(windowsRules);
  for (const e of events.slice(0, 300)) ruleset.match(e); // warm-up: builds the logsource buckets and the prefilter
  let processed = 0;
  let matches = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (const e of events) matches += ruleset.match(e).length;
    processed += events.length;
    elapsed = performance.now() - start;
  }
  const stats = ruleset.stats();
  console.log(
    `${label}: ${fmt((processed / elapsed) * 1000)} events/s (${fmt(processed)} events in ${(elapsed / 1000).toFixed(1)} s, ` +
      `${fmt(matches)} matches, ${stats.buckets} logsource buckets, ${stats.unindexedRules} rule slots without literals, ` +
      `prefilter ${fmt(stats.prefilterStates)} states, ${((100 * stats.prefilterScans) / Math.max(1, stats.prefilterLookups)).toFixed(0)}% of field values scanned, ` +
      `the rest memoised), rss ${mb(process.memoryUsage().rss)}`,
  );
}

run("replay of regression events", replay);
const synthetic: Event[] = [];
for (let i = 0; i < replay.length * 10; i += 1) synthetic.push(benign(replay[i % replay.length] as Event, i));
run("synthetic benign stream (10x)", synthetic);
console.log(`memory: rss ${mb(process.memoryUsage().rss)}, heap ${mb(process.memoryUsage().heapUsed)}`);
