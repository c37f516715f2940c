import type { Writable } from "node:stream";
import type { HuntProgress } from "./hunter.ts";

/** `clear` removes the line: before any other stderr message, and at the end. */
export type ProgressLine = { update(progress: HuntProgress): void; clear(): void };

const INTERVAL_MS = 200;

/**
 * One self-rewriting line on a terminal (files done/total, events, events/s). Only for people watching: a pipe
 * or a file gets nothing, so logs and captured stderr carry only what matters.
 */
export function progressLine(stream: Writable & { isTTY?: boolean }, enabled: boolean): ProgressLine {
  if (!enabled || stream.isTTY !== true) return { update: () => undefined, clear: () => undefined };
  const started = performance.now();
  let last = 0;
  let shown = false;
  return {
    update({ filesDone, filesTotal, events }) {
      const now = performance.now();
      if (now - last < INTERVAL_MS && filesDone < filesTotal) return;
      last = now;
      const rate = Math.round(events / Math.max((now - started) / 1000, 1e-3));
      stream.write(`\r\u001b[Khunting: ${filesDone}/${filesTotal} files, ${events} events, ${rate} events/s`);
      shown = true;
    },
    clear() {
      if (shown) stream.write("\r\u001b[K");
      shown = false;
    },
  };
}
