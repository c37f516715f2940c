/**
 * `evtx_dump -o json` prints records as JSON objects one after another, not as an array (13 of the SigmaHQ
 * regression samples hold 2–7 of them), and JSONL files hold one per line. This splits any such stream into
 * values by tracking brace depth outside strings, so both shapes read the same way.
 */
export function parseConcatenatedJson(text: string): { values: unknown[]; errors: string[] } {
  const values: unknown[] = [];
  const errors: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (depth === 0) start = i;
      depth += 1;
    } else if (c === 0x7d || c === 0x5d) {
      depth -= 1;
      if (depth === 0 && start >= 0) {
        const chunk = text.slice(start, i + 1);
        try {
          const value: unknown = JSON.parse(chunk);
          if (Array.isArray(value)) values.push(...(value as unknown[]));
          else values.push(value);
        } catch (error) {
          errors.push(`offset ${start}: ${error instanceof Error ? error.message : String(error)}`);
        }
        start = -1;
      } else if (depth < 0) {
        errors.push(`offset ${i}: unbalanced '${text[i] ?? ""}'`);
        depth = 0;
      }
    }
  }
  if (depth > 0) errors.push(`offset ${start}: truncated JSON value`);
  return { values, errors };
}
