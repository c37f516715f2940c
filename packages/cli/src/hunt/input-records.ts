import type { WindowsLogsourceMap } from "@ring3/detection";
import { windowsRecordToEvent } from "@ring3/detection";
import { EvtxReader, formatEvtxDiagnostic } from "@ring3/evtx";
import type { Event, EventFields } from "@ring3/schema";
import type { InputFile } from "./input-files.ts";
import { readJsonStream } from "../json-stream.ts";

/** Where an event came from: the input file as named, and its EVTX record id or its JSON line. */
export type EventSource = { readonly file: string; readonly record: number | null; readonly line: number | null };

export type HuntRecord = {
  readonly event: Event;
  readonly source: EventSource;
  /**
   * The System channel of a Windows record (evtx or evtx_dump JSON); undefined for ring3 events, which carry
   * their logsource already and so are never "unmapped".
   */
  readonly channel: string | undefined;
};

export type RecordProblems = {
  /** A damaged EVTX part (file, chunk, offset, reason), or a JSON value that does not parse: one line for stderr. */
  onDamage(message: string): void;
  /** A JSON value that is neither an evtx_dump record nor a ring3 event. */
  onUnrecognised(): void;
};

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** `Event.System.Channel` as evtx_dump writes it (plain, or `{"#text": …}`). */
function systemChannel(record: unknown): string | undefined {
  const root = asObject(record);
  const system = asObject(asObject(root?.["Event"])?.["System"] ?? root?.["System"]);
  const channel = system?.["Channel"];
  const text = asObject(channel)?.["#text"] ?? channel;
  return typeof text === "string" ? text : undefined;
}

function isWindowsRecord(value: Record<string, unknown>): boolean {
  return asObject(value["Event"]) !== undefined || asObject(value["System"]) !== undefined;
}

/** ring3's own events: anything with a logsource and fields is passed through, missing envelope parts filled. */
function asRing3Event(value: Record<string, unknown>, source: EventSource): Event | undefined {
  const logsource = asObject(value["logsource"]);
  const fields = asObject(value["fields"]);
  if (logsource === undefined || fields === undefined) return undefined;
  const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  // Only string parts: a number or object where Sigma expects a name would never match a rule's logsource.
  const parts: Record<string, string> = {};
  for (const key of ["product", "category", "service"] as const) {
    const part = text(logsource[key]);
    if (part !== undefined) parts[key] = part;
  }
  return {
    id: text(value["id"]) ?? `${source.file}:${source.line ?? 0}`,
    time: text(value["time"]) ?? "",
    host: text(value["host"]) ?? "",
    logsource: parts,
    fields: fields as EventFields,
  };
}

/** The records of one EVTX file. Damage is reported, never thrown; an unreadable path throws EvtxReadError. */
async function* evtxRecords(
  file: InputFile,
  map: WindowsLogsourceMap,
  problems: RecordProblems,
): AsyncGenerator<HuntRecord> {
  const reader = new EvtxReader(file.path, {
    // Name the file as the user did, not by its resolved path.
    onDiagnostic: (d) => problems.onDamage(formatEvtxDiagnostic({ ...d, file: file.name })),
  });
  for await (const record of reader) {
    const event = windowsRecordToEvent(record.event, map, { idPrefix: file.name });
    yield {
      // The record header's time stands in when System/TimeCreated is missing.
      event: event.time === "" ? { ...event, time: record.timestamp } : event,
      source: { file: file.name, record: record.recordId, line: null },
      channel: systemChannel(record.event) ?? "",
    };
  }
}

async function* jsonRecords(
  file: InputFile,
  map: WindowsLogsourceMap,
  problems: RecordProblems,
): AsyncGenerator<HuntRecord> {
  const values = readJsonStream(file.path, (line, message) => problems.onDamage(`${file.name}:${line}: ${message}`));
  for await (const { value, line } of values) {
    const object = asObject(value);
    if (object !== undefined && isWindowsRecord(object)) {
      const event = windowsRecordToEvent(object, map, { idPrefix: file.name });
      const recordId = event.fields["EventRecordID"];
      yield {
        event,
        source: { file: file.name, record: typeof recordId === "number" ? recordId : null, line },
        channel: systemChannel(object) ?? "",
      };
      continue;
    }
    const source: EventSource = { file: file.name, record: null, line };
    const event = object === undefined ? undefined : asRing3Event(object, source);
    if (event === undefined) problems.onUnrecognised();
    else yield { event, source, channel: undefined };
  }
}

export function readRecords(
  file: InputFile,
  map: WindowsLogsourceMap,
  problems: RecordProblems,
): AsyncGenerator<HuntRecord> {
  return file.kind === "evtx" ? evtxRecords(file, map, problems) : jsonRecords(file, map, problems);
}
