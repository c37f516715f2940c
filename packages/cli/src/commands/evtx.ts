import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { EvtxReadError, EvtxReader, formatEvtxDiagnostic, renderRecordXml, stringifyEvent } from "@ring3/evtx";
import type { EvtxRecord } from "@ring3/evtx";
import type { CliCommand, CliIo } from "../cli-io.ts";
import { ExitCode } from "../cli-io.ts";
import { OutputSink } from "../output-sink.ts";

const USAGE = `Usage:
  ring3 evtx <file>... [--format jsonl|xml]
      Dump the records of EVTX files: one evtx_dump-shaped JSON object per line (jsonl, the default) or the XML of
      each record (xml). Damaged parts are reported on stderr and skipped; the rest of the file is still read.
`;

const FORMATS = ["jsonl", "xml"] as const;
type Format = (typeof FORMATS)[number];

function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

function render(record: EvtxRecord, format: Format): string {
  if (format === "jsonl" || record.tree === undefined) return `${stringifyEvent(record.event)}\n`;
  // evtx_dump heads each XML record with its identifier.
  return `Record ${record.recordId}\n${renderRecordXml({ tree: record.tree })}`;
}

/** Dumps one file; false when the path could not be read at all. */
async function dump(file: string, format: Format, io: CliIo, out: OutputSink): Promise<boolean> {
  const reader = new EvtxReader(resolve(io.cwd, file), {
    keepTree: format === "xml",
    // Name the file as the user wrote it, not the resolved path.
    onDiagnostic: (diagnostic) => io.stderr.write(`${formatEvtxDiagnostic({ ...diagnostic, file })}\n`),
  });
  try {
    for await (const record of reader) {
      await out.write(render(record, format));
      // The reader went away (`ring3 evtx … | head`): stop reading instead of parsing into a closed pipe.
      if (out.closed) break;
    }
    return true;
  } catch (error) {
    if (!(error instanceof EvtxReadError)) throw error;
    io.stderr.write(`ring3 evtx: cannot read ${file}: ${error.code ?? error.message}\n`);
    return false;
  }
}

export const evtxCommand: CliCommand = {
  name: "evtx",
  summary: "Dump EVTX records as JSON lines or XML",
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...args],
        allowPositionals: true,
        options: { format: { type: "string", default: "jsonl" }, help: { type: "boolean", short: "h" } },
      });
    } catch (error) {
      io.stderr.write(`ring3 evtx: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
      return ExitCode.usage;
    }
    const { values, positionals } = parsed;
    if (values.help === true) {
      io.stdout.write(USAGE);
      return ExitCode.ok;
    }
    const format = values.format;
    if (!isFormat(format)) {
      io.stderr.write(`ring3 evtx: unknown format '${format}' (jsonl or xml)\n${USAGE}`);
      return ExitCode.usage;
    }
    if (positionals.length === 0) {
      io.stderr.write(`ring3 evtx: no file given\n${USAGE}`);
      return ExitCode.usage;
    }
    let exit: number = ExitCode.ok;
    const out = new OutputSink(io.stdout);
    for (const file of positionals) {
      if (!(await dump(file, format, io, out))) exit = ExitCode.input;
      if (out.closed) break;
    }
    return exit;
  },
};
