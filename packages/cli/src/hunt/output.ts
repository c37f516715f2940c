import type { Writable } from "node:stream";
import { csvHeader, csvRow } from "./csv-format.ts";
import type { Detection } from "./detection.ts";
import { jsonlLine } from "./jsonl-format.ts";
import { timelineLines } from "./table-format.ts";
import { OutputSink } from "../output-sink.ts";

export const FORMATS = ["table", "jsonl", "csv"] as const;
export type Format = (typeof FORMATS)[number];

/** table: the timeline, then the summary. jsonl and csv: only the detections (the summary goes to stderr). */
export async function writeDetections(
  stream: Writable,
  format: Format,
  detections: readonly Detection[],
  summary: readonly string[],
): Promise<void> {
  const sink = new OutputSink(stream);
  if (format === "table") {
    const lines = detections.length === 0 ? ["No detections."] : timelineLines(detections);
    for (const line of [...lines, "", ...summary]) await sink.write(`${line}\n`);
    return;
  }
  if (format === "csv") await sink.write(csvHeader());
  for (const d of detections) await sink.write(format === "csv" ? csvRow(d) : jsonlLine(d));
}
