import type { Detection } from "./detection.ts";

/** One detection per line. Key order is Detection's, fixed where it is built; event fields keep the record's order. */
export function jsonlLine(detection: Detection): string {
  return `${JSON.stringify(detection)}\n`;
}
