import type { Alert, Detector, WindowsLogsourceMap } from "@ring3/detection";
import { isMapped } from "@ring3/detection";
import { EvtxReadError } from "@ring3/evtx";
import type { Event } from "@ring3/schema";
import type { AttackCatalog } from "../attack.ts";
import type { Detection } from "./detection.ts";
import { compareDetections, levelRank, toDetection } from "./detection.ts";
import type { InputFile, InputProblem } from "./input-files.ts";
import type { EventSource } from "./input-records.ts";
import { readRecords } from "./input-records.ts";
import type { TimeRange } from "./time-range.ts";
import { inRange } from "./time-range.ts";

export type HuntProgress = { readonly filesDone: number; readonly filesTotal: number; readonly events: number };

export type HuntOptions = {
  readonly map: WindowsLogsourceMap;
  readonly detector: Detector;
  readonly catalog: AttackCatalog;
  readonly range: TimeRange;
  /** Alerts below this rank in RULE_LEVELS are counted but not kept. */
  readonly minLevel: number;
  /** A damaged part or an unreadable file, as one line for stderr. */
  readonly report: (message: string) => void;
  readonly onProgress?: (progress: HuntProgress) => void;
};

export type HuntStats = {
  files: number;
  evtxFiles: number;
  jsonFiles: number;
  /** Files that could not be read once found (a permission, a file removed meanwhile). */
  unreadable: InputProblem[];
  /** Every record read, JSON values of an unknown shape included. */
  records: number;
  /** Records whose event went through the rules (the rest were outside --since/--until). */
  events: number;
  outsideRange: number;
  /** Damaged EVTX parts and JSON values that did not parse. */
  damaged: number;
  /** JSON values that are neither evtx_dump records nor ring3 events. */
  unrecognised: number;
  /** Windows records whose channel the logsource map does not know, by channel: only `product: windows` rules see them. */
  unmapped: Map<string, number>;
  /** Alerts raised, whatever their level, and those below --min-level. */
  alerts: number;
  belowMinLevel: number;
  seconds: number;
};

/** Progress is offered every this many events, and after each file. */
const PROGRESS_EVERY = 2048;

/**
 * Reads every input in order and runs its events through the detector. Nothing is dropped without a count:
 * unmapped channels, events outside the time range, unrecognised JSON values and damaged parts all end up in
 * the stats. Detections come back in timeline order.
 */
export async function hunt(
  files: readonly InputFile[],
  options: HuntOptions,
): Promise<{ detections: Detection[]; stats: HuntStats }> {
  const stats: HuntStats = {
    files: files.length,
    evtxFiles: files.filter((f) => f.kind === "evtx").length,
    jsonFiles: files.filter((f) => f.kind === "json").length,
    unreadable: [],
    records: 0,
    events: 0,
    outsideRange: 0,
    damaged: 0,
    unrecognised: 0,
    unmapped: new Map(),
    alerts: 0,
    belowMinLevel: 0,
    seconds: 0,
  };
  const started = performance.now();
  const sources = new WeakMap<Event, EventSource>();
  const detections: Detection[] = [];
  const keep = (alerts: readonly Alert[]): void => {
    for (const alert of alerts) {
      stats.alerts++;
      if (levelRank(alert.match.level) < options.minLevel) stats.belowMinLevel++;
      else detections.push(toDetection(alert, options.catalog, (event) => sources.get(event)));
    }
  };
  const problems = {
    onDamage: (message: string): void => {
      stats.damaged++;
      options.report(message);
    },
    onUnrecognised: (): void => {
      stats.records++;
      stats.unrecognised++;
    },
  };
  const progress = (filesDone: number): void =>
    options.onProgress?.({ filesDone, filesTotal: files.length, events: stats.events });

  for (const [index, file] of files.entries()) {
    try {
      for await (const record of readRecords(file, options.map, problems)) {
        stats.records++;
        if (!inRange(options.range, record.event.time)) {
          stats.outsideRange++;
          continue;
        }
        stats.events++;
        if (record.channel !== undefined && !isMapped(record.event)) {
          stats.unmapped.set(record.channel, (stats.unmapped.get(record.channel) ?? 0) + 1);
        }
        sources.set(record.event, record.source);
        keep(options.detector.detect(record.event).alerts);
        if (stats.events % PROGRESS_EVERY === 0) progress(index);
      }
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (!(error instanceof EvtxReadError) && typeof code !== "string") throw error;
      const reason = error instanceof EvtxReadError ? (error.code ?? error.message) : String(code);
      stats.unreadable.push({ name: file.name, reason });
      options.report(`cannot read ${file.name}: ${reason}`);
    }
    progress(index + 1);
  }
  keep(options.detector.flush().alerts);
  stats.seconds = (performance.now() - started) / 1000;
  detections.sort(compareDetections);
  return { detections, stats };
}
