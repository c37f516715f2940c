import { readFile } from "node:fs/promises";
import { load } from "js-yaml";

/**
 * `--placeholders <file>`: values for `|expand` placeholders, a YAML mapping of name → list of values,
 * e.g. `Administrators: ['adm_*', 'Administrator']`. Names are written without the percent signs.
 */
export async function readPlaceholders(path: string | undefined): Promise<Record<string, string[]>> {
  if (path === undefined) return {};
  const data: unknown = load(await readFile(path, "utf8"));
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`${path}: placeholders must be a mapping of name → list of values`);
  }
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(data as Record<string, unknown>)) {
    const list = Array.isArray(value) ? (value as unknown[]) : [value];
    out[name.replace(/^%|%$/g, "")] = list.map((v) => String(v));
  }
  return out;
}
