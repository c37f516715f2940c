import type { Event, EventFields, FieldValue } from "./event.ts";

/**
 * Elastic Common Schema export of a ring3 event, for shipping to Elasticsearch/OpenSearch or any ECS consumer.
 * Fields are written as nested objects (`{"process":{"pid":1}}`), the form ECS documents use. Sigma/Sysmon
 * fields that ECS has no place for go, under their original names, to `ring3.fields`: nothing is dropped.
 * Windows event-log metadata goes to `winlog.*`, the names Winlogbeat uses for it alongside ECS.
 */
export const ECS_VERSION = "8.11.0";

type Doc = Record<string, unknown>;
type Context = { readonly doc: Doc; readonly category: string | undefined; readonly fields: EventFields };
/** Writes the field into the document; false keeps it (also) under `ring3.fields`. */
type Mapper = (value: FieldValue, context: Context) => boolean;

/** ECS `event.category` / `event.type` per Sigma category (ECS allowed values). */
const EVENT_KIND_BY_CATEGORY: Readonly<Record<string, readonly [readonly string[], readonly string[]]>> = {
  process_creation: [["process"], ["start"]],
  process_termination: [["process"], ["end"]],
  process_access: [["process"], ["access"]],
  create_remote_thread: [["process"], ["change"]],
  process_tampering: [["process"], ["change"]],
  network_connection: [["network"], ["connection", "start"]],
  dns_query: [["network"], ["protocol"]],
  file_event: [["file"], ["creation"]],
  file_change: [["file"], ["change"]],
  file_rename: [["file"], ["change"]],
  file_access: [["file"], ["access"]],
  file_delete: [["file"], ["deletion"]],
  file_delete_detected: [["file"], ["deletion"]],
  file_executable_detected: [["file"], ["creation"]],
  file_block_executable: [["file"], ["creation", "denied"]],
  file_block_shredding: [["file"], ["deletion", "denied"]],
  create_stream_hash: [["file"], ["creation"]],
  pipe_created: [["file"], ["creation"]],
  raw_access_thread: [["file"], ["access"]],
  image_load: [["library"], ["start"]],
  driver_load: [["driver"], ["start"]],
  registry_add: [["registry"], ["creation"]],
  registry_delete: [["registry"], ["deletion"]],
  registry_set: [["registry"], ["change"]],
  registry_rename: [["registry"], ["change"]],
  registry_event: [["registry"], ["change"]],
  wmi_event: [["configuration"], ["change"]],
  ps_script: [["process"], ["info"]],
  ps_module: [["process"], ["info"]],
  ps_classic_start: [["process"], ["info"]],
  ps_classic_provider_start: [["process"], ["info"]],
  ps_classic_script: [["process"], ["info"]],
  sysmon_status: [["configuration"], ["info"]],
  sysmon_error: [["host"], ["error"]],
  clipboard_capture: [["host"], ["info"]],
  antivirus: [["malware"], ["info"]],
};

/** Which ECS object a category's `Hashes` describe: the new process, the loaded DLL, or a file. */
const HASH_OWNER: Readonly<Record<string, string>> = {
  process_creation: "process",
  image_load: "dll",
  driver_load: "file",
  file_delete: "file",
  file_delete_detected: "file",
  file_executable_detected: "file",
  file_block_executable: "file",
  file_block_shredding: "file",
  create_stream_hash: "file",
};

/** Whose version resource (`OriginalFileName`, `Company`…) and signature a category reports. */
const PE_OWNER: Readonly<Record<string, string>> = { process_creation: "process", image_load: "dll" };
const SIGNATURE_OWNER: Readonly<Record<string, string>> = { image_load: "dll", driver_load: "file" };

/** Windows `Level` values (winmeta.xml: win:Critical = 1 … win:Verbose = 5; 0 is LogAlways, shown as Information). */
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  0: "information",
  1: "critical",
  2: "error",
  3: "warning",
  4: "information",
  5: "verbose",
};

/** Sysmon hash algorithm names (`SHA1=…,MD5=…,SHA256=…,IMPHASH=…`) and their ECS leaf under `<owner>.`. */
const HASH_FIELDS: Readonly<Record<string, string>> = {
  MD5: "hash.md5",
  SHA1: "hash.sha1",
  SHA256: "hash.sha256",
  SHA384: "hash.sha384",
  SHA512: "hash.sha512",
  IMPHASH: "pe.imphash",
};

const MAPPERS: Readonly<Record<string, Mapper>> = {
  // Windows System section.
  EventID: to("event.code", asString),
  Provider_Name: to("event.provider", asString),
  Provider_Guid: to("winlog.provider_guid", asString),
  Channel: to("winlog.channel", asString),
  Computer: to("winlog.computer_name", asString),
  EventRecordID: to("winlog.record_id", asString),
  Version: to("winlog.version", asNumber),
  Level: (v, c) => put(c.doc, "log.level", LEVEL_NAMES[asNumber(v) ?? -1]),
  Task: to("winlog.task", asString),
  Opcode: to("winlog.opcode", asString),
  Keywords: (v, c) => put(c.doc, "winlog.keywords", asString(v) === undefined ? undefined : [asString(v)]),
  TimeCreated: to("winlog.time_created", asString),
  ProcessID: to("winlog.process.pid", asNumber),
  ThreadID: to("winlog.process.thread.id", asNumber),
  UserID: to("winlog.user.identifier", asString),
  Security_UserID: to("winlog.user.identifier", asString),
  ActivityID: to("winlog.activity_id", asString),
  RelatedActivityID: to("winlog.related_activity_id", asString),
  RuleName: to("rule.name", asString),
  EventType: to("event.action", asString),

  // The acting process.
  Image: executable("process"),
  CommandLine: to("process.command_line", asString),
  ProcessId: to("process.pid", asNumber),
  ProcessGuid: to("process.entity_id", asString),
  CurrentDirectory: to("process.working_directory", asString),
  User: user("user"),
  LogonId: to("winlog.logon.id", asString),
  ParentImage: executable("process.parent"),
  ParentCommandLine: to("process.parent.command_line", asString),
  ParentProcessId: to("process.parent.pid", asNumber),
  ParentProcessGuid: to("process.parent.entity_id", asString),
  ParentUser: user("process.parent.user"),
  // process_access / create_remote_thread: the source is the actor; the target stays under ring3.fields.
  SourceImage: executable("process"),
  SourceProcessId: to("process.pid", asNumber),
  SourceProcessGuid: to("process.entity_id", asString),
  SourceProcessGUID: to("process.entity_id", asString),
  SourceThreadId: to("process.thread.id", asNumber),
  SourceUser: user("user"),
  SourceCommandLine: to("process.command_line", asString),
  SourceParentImage: executable("process.parent"),
  SourceParentProcessId: to("process.parent.pid", asNumber),
  SourceParentCommandLine: to("process.parent.command_line", asString),

  // Image metadata, owned by the process or the DLL depending on the category.
  Hashes: (v, c) => hashes(v, c, HASH_OWNER[c.category ?? ""]),
  Hash: (v, c) => hashes(v, c, HASH_OWNER[c.category ?? ""]),
  md5: (v, c) => c.category === "process_creation" && put(c.doc, "process.hash.md5", lowerHex(v)),
  sha1: (v, c) => c.category === "process_creation" && put(c.doc, "process.hash.sha1", lowerHex(v)),
  sha256: (v, c) => c.category === "process_creation" && put(c.doc, "process.hash.sha256", lowerHex(v)),
  imphash: (v, c) => c.category === "process_creation" && put(c.doc, "process.pe.imphash", lowerHex(v)),
  OriginalFileName: owned(PE_OWNER, "pe.original_file_name"),
  Description: owned(PE_OWNER, "pe.description"),
  Product: owned(PE_OWNER, "pe.product"),
  Company: owned(PE_OWNER, "pe.company"),
  FileVersion: owned(PE_OWNER, "pe.file_version"),
  Signed: (v, c) => {
    const owner = SIGNATURE_OWNER[c.category ?? ""];
    return owner !== undefined && put(c.doc, `${owner}.code_signature.exists`, asBool(v));
  },
  Signature: owned(SIGNATURE_OWNER, "code_signature.subject_name"),
  SignatureStatus: owned(SIGNATURE_OWNER, "code_signature.status"),
  ImageLoaded: (v, c) =>
    c.category === "image_load" ? executable("dll", "path")(v, c) : executable("file", "path")(v, c),

  // Files.
  TargetFilename: filePath,
  FileName: filePath,
  PipeName: to("file.name", asString),

  // Network.
  SourceIp: to("source.ip", asIp),
  SourcePort: to("source.port", asNumber),
  SourceHostname: to("source.domain", asString),
  DestinationIp: to("destination.ip", asIp),
  DestinationPort: to("destination.port", asNumber),
  DestinationHostname: to("destination.domain", asString),
  DestinationPortName: to("network.protocol", asString),
  Protocol: (v, c) => put(c.doc, "network.transport", asString(v)?.toLowerCase()),
  // Sysmon 3: `Initiated: true` means the local process connected out.
  Initiated: (v, c) => put(c.doc, "network.direction", directionOf(asBool(v))),
  SourceIsIpv6: (v, c) => put(c.doc, "network.type", ipTypeOf(asBool(v))),
  DestinationIsIpv6: (v, c) => put(c.doc, "network.type", ipTypeOf(asBool(v))),
  QueryName: to("dns.question.name", asString),
  // Sysmon 22: `QueryResults: "type: 5 example.net;::ffff:93.184.215.14;"`. The raw list is kept too.
  QueryResults: (v, c) => {
    put(c.doc, "dns.resolved_ip", resolvedIps(v));
    return false;
  },

  // Registry.
  TargetObject: registryPath,
  Details: (v, c) => put(c.doc, "registry.data.strings", asString(v) === undefined ? undefined : [asString(v)]),

  // PowerShell (Winlogbeat's `powershell.*` names).
  ScriptBlockText: to("powershell.file.script_block_text", asString),
  ScriptBlockId: to("powershell.file.script_block_id", asString),
  MessageNumber: to("powershell.sequence", asNumber),
  MessageTotal: to("powershell.total", asNumber),
  Path: (v, c) => c.category === "ps_script" && put(c.doc, "file.path", asString(v)),
};

/** The event as an ECS document. Pure: the same event always gives the same document. */
export function toEcs(event: Event): Record<string, unknown> {
  const { product, category, service } = event.logsource;
  const doc: Doc = {};
  put(doc, "@timestamp", event.time);
  put(doc, "ecs.version", ECS_VERSION);
  put(doc, "event.id", event.id);
  put(doc, "event.kind", "event");
  const kinds = category === undefined ? undefined : EVENT_KIND_BY_CATEGORY[category];
  if (kinds !== undefined) {
    put(doc, "event.category", [...kinds[0]]);
    put(doc, "event.type", [...kinds[1]]);
  }
  put(doc, "event.module", product);
  const dataset = category ?? service;
  put(doc, "event.dataset", product === undefined || dataset === undefined ? dataset : `${product}.${dataset}`);
  put(doc, "host.name", event.host === "" ? undefined : event.host);
  if (product === "windows" || product === "linux" || product === "macos") put(doc, "host.os.type", product);
  put(doc, "ring3.logsource", { ...event.logsource });

  const context: Context = { doc, category, fields: event.fields };
  const unmapped: Doc = {};
  for (const [name, value] of Object.entries(event.fields)) {
    if (value === null) continue;
    const mapper = Object.hasOwn(MAPPERS, name) ? MAPPERS[name] : undefined;
    if (mapper !== undefined && mapper(value, context)) continue;
    // `UserData.LogFileCleared.Channel` nests like every other ECS key; a clash keeps the flat name.
    if (!put(unmapped, name, value)) unmapped[name] = value;
  }
  if (Object.keys(unmapped).length > 0) put(doc, "ring3.fields", unmapped);
  return doc;
}

/** Sets `doc.a.b.c`; false (and nothing written) when the value is undefined or a parent is not an object. */
function put(doc: Doc, path: string, value: unknown): boolean {
  if (value === undefined) return false;
  const keys = path.split(".");
  const last = keys.pop() as string;
  let node = doc;
  for (const key of keys) {
    const next = node[key];
    if (next === undefined) {
      const created: Doc = {};
      node[key] = created;
      node = created;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      return false;
    }
  }
  const existing = node[last];
  if (isPlainObject(existing) && isPlainObject(value)) Object.assign(existing, value);
  else node[last] = value;
  return true;
}

function isPlainObject(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function to(path: string, convert: (v: FieldValue) => unknown): Mapper {
  return (value, context) => put(context.doc, path, convert(value));
}

function owned(owners: Readonly<Record<string, string>>, leaf: string): Mapper {
  return (value, context) => {
    const owner = owners[context.category ?? ""];
    return owner !== undefined && put(context.doc, `${owner}.${leaf}`, asString(value));
  };
}

/** `C:\Windows\System32\cmd.exe` → `<prefix>.executable` (or `.path`) and `<prefix>.name` = `cmd.exe`. */
function executable(prefix: string, leaf = "executable"): Mapper {
  return (value, context) => {
    const path = asString(value);
    if (path === undefined || !put(context.doc, `${prefix}.${leaf}`, path)) return false;
    put(context.doc, `${prefix}.name`, basename(path));
    return true;
  };
}

/** `NT AUTHORITY\SYSTEM` → `<prefix>.domain` = `NT AUTHORITY`, `<prefix>.name` = `SYSTEM`. */
function user(prefix: string): Mapper {
  return (value, context) => {
    const text = asString(value);
    if (text === undefined) return false;
    const slash = text.indexOf("\\");
    if (slash < 0) return put(context.doc, `${prefix}.name`, text);
    put(context.doc, `${prefix}.domain`, text.slice(0, slash));
    return put(context.doc, `${prefix}.name`, text.slice(slash + 1));
  };
}

function filePath(value: FieldValue, context: Context): boolean {
  const path = asString(value);
  if (path === undefined || !put(context.doc, "file.path", path)) return false;
  const name = basename(path);
  put(context.doc, "file.name", name);
  const dot = name.lastIndexOf(".");
  if (dot > 0 && dot < name.length - 1) put(context.doc, "file.extension", name.slice(dot + 1).toLowerCase());
  return true;
}

/**
 * Sysmon `Hashes`: `MD5=1736263E…,SHA256=1F9FFC22…,IMPHASH=68A9FF9C…` → `<owner>.hash.md5`, `<owner>.hash.sha256`,
 * `<owner>.pe.imphash`, lower-cased as ECS examples write digests. An unknown algorithm or a category without an
 * owner keeps the raw text under `ring3.fields`.
 */
function hashes(value: FieldValue, context: Context, owner: string | undefined): boolean {
  const text = asString(value);
  if (owner === undefined || text === undefined) return false;
  const parsed: [string, string][] = [];
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    const leaf = eq < 0 ? undefined : HASH_FIELDS[part.slice(0, eq).trim().toUpperCase()];
    if (leaf === undefined) return false;
    parsed.push([
      `${owner}.${leaf}`,
      part
        .slice(eq + 1)
        .trim()
        .toLowerCase(),
    ]);
  }
  for (const [path, digest] of parsed) put(context.doc, path, digest);
  return parsed.length > 0;
}

/**
 * `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\Updater` with `EventType: SetValue` →
 * `registry.hive` = `HKLM`, `registry.key` = `SOFTWARE\…\Run`, `registry.value` = `Updater`. Key events
 * (`CreateKey`, `DeleteKey`, `RenameKey`) name a key, so the whole remainder is the key.
 */
function registryPath(value: FieldValue, context: Context): boolean {
  const path = asString(value);
  if (path === undefined || !put(context.doc, "registry.path", path)) return false;
  const slash = path.indexOf("\\");
  if (slash < 0) return put(context.doc, "registry.hive", path);
  put(context.doc, "registry.hive", path.slice(0, slash));
  const rest = path.slice(slash + 1);
  const eventType = asString(context.fields["EventType"] ?? null);
  const namesValue = eventType === "SetValue" || eventType === "DeleteValue" || context.category === "registry_set";
  const last = rest.lastIndexOf("\\");
  if (namesValue && last >= 0) {
    put(context.doc, "registry.key", rest.slice(0, last));
    put(context.doc, "registry.value", rest.slice(last + 1));
  } else {
    put(context.doc, "registry.key", rest);
  }
  return true;
}

function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("\\"), path.lastIndexOf("/")) + 1);
}

function asString(value: FieldValue): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/** Numbers as evtx_dump writes them (`4`), as text (`"4"`), or hex as Security events write ids (`"0x1a4"`). */
function asNumber(value: FieldValue): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text.slice(2), 16);
  if (/^-?\d+$/.test(text)) return Number(text);
  return undefined;
}

/** Sysmon writes booleans as `true` / `"true"` depending on the reader. */
function asBool(value: FieldValue): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value !== "string") return undefined;
  const text = value.trim().toLowerCase();
  return text === "true" ? true : text === "false" ? false : undefined;
}

function asIp(value: FieldValue): string | undefined {
  const text = asString(value)?.trim();
  return text !== undefined && isIp(text) ? text : undefined;
}

function isIp(text: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return text.split(".").every((octet) => Number(octet) <= 255);
  return text.includes(":") && /^[0-9a-f:.]+(%\w+)?$/i.test(text);
}

function lowerHex(value: FieldValue): string | undefined {
  return asString(value)?.trim().toLowerCase();
}

function directionOf(initiated: boolean | undefined): string | undefined {
  return initiated === undefined ? undefined : initiated ? "egress" : "ingress";
}

function ipTypeOf(isIpv6: boolean | undefined): string | undefined {
  return isIpv6 === undefined ? undefined : isIpv6 ? "ipv6" : "ipv4";
}

function resolvedIps(value: FieldValue): string[] | undefined {
  const text = asString(value);
  if (text === undefined) return undefined;
  const ips = text
    .split(";")
    .map((part) => part.trim().replace(/^::ffff:/i, ""))
    .filter(isIp);
  return ips.length === 0 ? undefined : ips;
}
