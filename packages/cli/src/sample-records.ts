import { readFile } from "node:fs/promises";
import { EvtxReader, formatEvtxDiagnostic } from "@ring3/evtx";
import { parseConcatenatedJson } from "./json-records.ts";

/**
 * Records of one sample file as `evtx_dump -o json`-shaped objects, with any problem reading them: the EVTX
 * file itself (the default, as upstream's harness does) or its JSON twin.
 */
export async function readSampleRecords(
  path: string,
  kind: "evtx" | "json",
): Promise<{ records: unknown[]; problems: string[] }> {
  const problems: string[] = [];
  try {
    if (kind === "evtx") {
      const records: unknown[] = [];
      const reader = new EvtxReader(path, { onDiagnostic: (d) => problems.push(formatEvtxDiagnostic(d)) });
      for await (const record of reader) records.push(record.event);
      return { records, problems };
    }
    const parsed = parseConcatenatedJson(await readFile(path, "utf8"));
    return { records: parsed.values, problems: parsed.errors.map((e) => `${path}: ${e}`) };
  } catch (error) {
    return {
      records: [],
      problems: [`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`],
    };
  }
}
