/**
 * `ring3 hunt` throughput: the 30 EVTX attack samples (3,830 events) against the full SigmaHQ windows ruleset,
 * reading, converting and matching included. The first pass builds the engine's per-logsource indexes as it
 * meets each logsource, as a real hunt does; later passes reuse them (the steady state of a long hunt). Run with
 * `npm run bench:hunt`.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { categoryParents, createDetector, serviceAliases } from "@ring3/detection";
import type { Detector } from "@ring3/detection";
import { sharedDataDir, SHARED_DATA_MISSING } from "@ring3/testkit";
import { defaultAttackCatalogPath, loadAttackCatalog, TAGS_ONLY_CATALOG } from "../src/attack.ts";
import { hunt } from "../src/hunt/hunter.ts";
import type { InputFile } from "../src/hunt/input-files.ts";
import { discoverInputs } from "../src/hunt/input-files.ts";
import { loadHuntRules } from "../src/hunt/rule-loading.ts";
import { loadWindowsLogsourceMap } from "../src/windows-logsources.ts";

const PASSES = 5;

const data = sharedDataDir();
if (data === undefined) {
  console.log(`bench:hunt skipped: ${SHARED_DATA_MISSING}`);
  process.exit(0);
}

const loadStarted = performance.now();
const rules = await loadHuntRules([join(data, "sigma", "rules", "windows")], false, undefined);
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

const line = (label: string, r: { events: number; seconds: number; detections: number }): string =>
  `${label.padEnd(24)} ${r.events} events in ${r.seconds.toFixed(3)} s: ${Math.round(r.events / r.seconds)} events/s ` +
  `(${r.detections} detections)`;

console.log(
  `${files.length} files; ${rules.stats.compiled} of ${rules.stats.rules} SigmaHQ windows rules compiled in ` +
    `${loadSeconds.toFixed(2)} s; ${availableParallelism()} cores`,
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
