import { EvtxReader, formatEvtxDiagnostic } from "@ring3/evtx";
import { readJsonStream } from "./json-stream.ts";

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
    const records: unknown[] = [];
    for await (const item of readJsonStream(path, (line, message) => problems.push(`${path}:${line}: ${message}`))) {
      records.push(item.value);
    }
    return { records, problems };
  } catch (error) {
    return {
      records: [],
      problems: [`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`],
    };
  }
}
