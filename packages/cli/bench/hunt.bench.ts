/**
 * `ring3 hunt` throughput: the 30 EVTX attack samples (3,830 events, 9.4 MB) against the whole SigmaHQ corpus,
 * reading, converting and matching included, in events/s and MB/s, with the process's peak memory. The first pass builds the engine's per-logsource indexes as it
 * meets each logsource, as a real hunt does; later passes reuse them (the steady state of a long hunt). Run with
 * `npm run bench:hunt`.
 */
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { categoryParents, createDetector, serviceAliases } from "@ring3/detection";
import type { Detector } from "@ring3/detection";
import { sharedDataDir, SHARED_DATA_MISSING } from "@ring3/testkit";
import { defaultAttackCatalogPath, loadAttackCatalog, TAGS_ONLY_CATALOG } from "../src/attack.ts";
import { hunt } from "../src/hunt/hunter.ts";
import type { InputFile } from "../src/hunt/input-files.ts";
import { discoverInputs } from "../src/hunt/input-files.ts";
import { loadRuleFiles } from "../src/rule-loading.ts";
import { loadWindowsLogsourceMap } from "../src/windows-logsources.ts";

const PASSES = 5;

const data = sharedDataDir();
if (data === undefined) {
  console.log(`bench:hunt skipped: ${SHARED_DATA_MISSING}`);
  process.exit(0);
}

const loadStarted = performance.now();
const CORPUS = ["rules", "rules-threat-hunting", "rules-emerging-threats", "rules-compliance", "rules-placeholder"];
const rules = await loadRuleFiles(
  CORPUS.map((d) => join(data, "sigma", d)),
  false,
  undefined,
);
if (typeof rules === "string") throw new Error(rules);
const loadSeconds = (performance.now() - loadStarted) / 1000;
const logsources = await loadWindowsLogsourceMap(undefined);
if (logsources.map === undefined) throw new Error("the shipped logsource map does not load");
const map = logsources.map;
const catalogPath = defaultAttackCatalogPath();
const catalog = catalogPath === undefined ? TAGS_ONLY_CATALOG : await loadAttackCatalog(catalogPath);
const { files } = await discoverInputs([join(data, "evtx-samples", "evtx-attack-samples-subset")], process.cwd());

async function pass(inputs: readonly InputFile[], engine: Detector) {
  const { detections, stats } = await hunt(inputs, {
    map,
    detector: engine,
    catalog,
    range: { since: undefined, until: undefined },
    minLevel: 0,
    report: (message) => console.error(message),
  });
  return { events: stats.events, seconds: stats.seconds, detections: detections.length };
}

const bytes = files.reduce((sum, f) => sum + statSync(f.path).size, 0);
const line = (label: string, r: { events: number; seconds: number; detections: number }): string =>
  `${label.padEnd(24)} ${r.events} events in ${r.seconds.toFixed(3)} s: ${Math.round(r.events / r.seconds)} events/s, ` +
  `${(bytes / 1e6 / r.seconds).toFixed(1)} MB/s (${r.detections} detections)`;

console.log(
  `${files.length} files; ${rules.stats.compiled} of ${rules.stats.rules} SigmaHQ rules (whole corpus) compiled in ` +
    `${loadSeconds.toFixed(2)} s; ${(bytes / 1e6).toFixed(1)} MB of EVTX; ${availableParallelism()} cores`,
);
const { detector: engine } = createDetector(rules, {
  ruleset: { categoryParents: categoryParents(map), serviceAliases: serviceAliases(map) },
});
console.log(line("first pass (cold)", await pass(files, engine)));
let best = { events: 0, seconds: Infinity, detections: 0 };
for (let i = 0; i < PASSES; i++) {
  const result = await pass(files, engine);
  if (result.seconds < best.seconds) best = result;
}
console.log(line(`best of ${PASSES} warm passes`, best));
// Targets (issue 3): a full hunt ≥ 20 MB/s on this 2-core machine, peak memory < 500 MB.
console.log(`peak memory (max RSS): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
