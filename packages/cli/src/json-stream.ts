import { createReadStream } from "node:fs";

/** One top-level JSON value of a stream, with the 1-based line it starts on. */
export type JsonItem = { readonly value: unknown; readonly line: number };

/**
 * The values of a JSON stream as `evtx_dump -o json` (objects one after another), JSONL (one per line) or a
 * top-level array (each element) write them, read incrementally: an export of millions of events is never held
 * whole. Values are split by brace depth outside strings; array elements and line numbers
 * come along. A value that does not parse is reported to `onError` and skipped; the ones after it still come.
 */
export async function* readJsonStream(
  path: string,
  onError: (line: number, message: string) => void,
): AsyncGenerator<JsonItem> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  /** Depth at which values start: 1 inside a top-level array, whose elements are the values. */
  let base = 0;
  let pieces: string[] = [];
  let start = -1;
  let startLine = 0;
  let line = 1;
  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<string>) {
    const out: JsonItem[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
        else if (c === 0x0a) line++;
        continue;
      }
      if (c === 0x0a) line++;
      else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) {
        if (depth === 0 && c === 0x5b) base = 1;
        else if (depth === base) {
          start = i;
          startLine = line;
        }
        depth++;
      } else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth < 0) {
          onError(line, `unbalanced '${String.fromCharCode(c)}'`);
          depth = 0;
          base = 0;
        } else if (depth === base && start >= 0) {
          pieces.push(chunk.slice(start, i + 1));
          const text = pieces.join("");
          pieces = [];
          start = -1;
          try {
            out.push({ value: JSON.parse(text), line: startLine });
          } catch (error) {
            onError(startLine, error instanceof Error ? error.message : String(error));
          }
        } else if (depth === 0) {
          base = 0;
        }
      }
    }
    if (start >= 0) {
      pieces.push(chunk.slice(start));
      start = 0;
    }
    yield* out;
  }
  if (depth > 0) onError(startLine, "truncated JSON value");
}
