import { readFile } from "node:fs/promises";
import { parseConcatenatedJson } from "./json-records.ts";

/** Records of one sample file as `evtx_dump -o json`-shaped objects, with any problem reading them. */
export async function readSampleRecords(
  path: string,
  kind: "evtx" | "json",
): Promise<{ records: unknown[]; problems: string[] }> {
  if (kind === "evtx") return { records: [], problems: [`${path}: the EVTX reader is not available yet`] };
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return { records: [], problems: [`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const parsed = parseConcatenatedJson(text);
  return { records: parsed.values, problems: parsed.errors.map((e) => `${path}: ${e}`) };
}
