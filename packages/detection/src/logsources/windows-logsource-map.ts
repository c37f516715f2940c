import type { Event, EventFields, FieldValue } from "@ring3/schema";
import { WINDOWS_TAXONOMY } from "@ring3/schema";
import { DiagnosticSink } from "../diagnostics.ts";
import type { Diagnostic, SourcePosition } from "../diagnostics.ts";
import { readYamlDocuments } from "../yaml-tree.ts";
import type { YMap, YNode, YScalar } from "../yaml-tree.ts";

/**
 * Windows event logs → Sigma logsources, read from data (`content/logsources/windows.yaml`, whose header
 * documents the format) rather than written in code, so that a user file can extend it. Also turns one
 * `evtx_dump -o json` record into a ring3 Event with Sigma field names.
 */

export type SourceRef = { readonly file: string; readonly line: number; readonly col: number };

/** Copy `from` to the alias target, optionally as a number (`0x2bc` → 700) or through a value table. */
export type FieldAlias = {
  readonly from: string;
  readonly as?: "number";
  readonly values?: Readonly<Record<string, string>>;
};

/** One channel (or provider) → service pair; a YAML entry listing several channels becomes several of these. */
export type ServiceEntry = {
  readonly service: string;
  readonly channel?: string;
  readonly provider?: string;
  readonly source: SourceRef;
};

/** One channel + event ID (or any event of the channel) → category and aliases. */
export type EventEntry = {
  readonly channel: string;
  readonly eventId?: number;
  readonly provider?: string;
  /** Field → accepted values, compared case-insensitively as text. */
  readonly when: Readonly<Record<string, readonly string[]>>;
  readonly category?: string;
  readonly aliases: Readonly<Record<string, FieldAlias>>;
  readonly source: SourceRef;
};

export type WindowsLogsourceMap = {
  /** In precedence order: on a tie, the earlier entry wins (a merged user file's entries come first). */
  readonly services: readonly ServiceEntry[];
  readonly events: readonly EventEntry[];
  /** Child category → parent categories whose rules also see the child's events. */
  readonly categoryParents: Readonly<Record<string, readonly string[]>>;
  /** Service name some rules use → the service events carry. */
  readonly serviceAliases: Readonly<Record<string, string>>;
};

export type WindowsRecordOptions = {
  /** Event id prefix, e.g. the EVTX file: the id becomes `<idPrefix>:<EventRecordID>`. */
  readonly idPrefix?: string;
};

const TOP_LEVEL_KEYS = ["version", "services", "events", "categoryParents", "serviceAliases"] as const;
const SERVICE_KEYS = ["service", "channel", "provider"] as const;
const EVENT_KEYS = ["channel", "eventId", "provider", "when", "category", "aliases"] as const;
const ALIAS_KEYS = ["from", "as", "values"] as const;
/** Sigma service names: lower-case words joined by `-`, `_` or `.` (`dns-server-analytic`, `ldap_debug`). */
const SERVICE_NAME = /^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/;

export const EMPTY_WINDOWS_LOGSOURCE_MAP: WindowsLogsourceMap = {
  services: [],
  events: [],
  categoryParents: {},
  serviceAliases: {},
};

/**
 * Reads a logsource map file. Never throws: every problem is a diagnostic (`R3_LOGSOURCE_*`) with file, line
 * and column, and the entries that are sound are kept.
 */
export function parseWindowsLogsourceMap(
  text: string,
  file: string,
): { map: WindowsLogsourceMap; diagnostics: Diagnostic[] } {
  const sink = new DiagnosticSink(file);
  const yamlSink = new DiagnosticSink(file);
  const docs = readYamlDocuments(text, yamlSink);
  for (const d of yamlSink.items) {
    sink.add(d.code.replace(/^R3_YAML_/, "R3_LOGSOURCE_YAML_"), d.severity, d.message, d);
  }
  if (docs.length > 1) {
    sink.warning("R3_LOGSOURCE_EXTRA_DOCUMENT", "only the first YAML document is read", docs[1]?.pos);
  }
  const root = docs[0]?.root;
  if (root === undefined) {
    if (!yamlSink.hasErrors) sink.warning("R3_LOGSOURCE_EMPTY", "the file has no mapping", { line: 1, col: 1 });
    return { map: EMPTY_WINDOWS_LOGSOURCE_MAP, diagnostics: sink.items };
  }
  if (root.kind !== "map") {
    sink.error("R3_LOGSOURCE_SHAPE", "the file must be a mapping (version, services, events…)", root.pos);
    return { map: EMPTY_WINDOWS_LOGSOURCE_MAP, diagnostics: sink.items };
  }
  const reader = new MapReader(sink, file);
  reader.unknownKeys(root, TOP_LEVEL_KEYS, "top level");
  const map: WindowsLogsourceMap = {
    services: reader.services(root),
    events: reader.events(root),
    categoryParents: reader.categoryParents(root),
    serviceAliases: reader.serviceAliases(root),
  };
  reader.version(root);
  return { map, diagnostics: sink.items };
}

/**
 * The shipped map extended by a user's: the user's entries take precedence, and replace shipped entries with
 * the same key (services: channel + provider; events: channel + event ID + provider + conditions).
 */
export function mergeWindowsLogsourceMaps(
  base: WindowsLogsourceMap,
  extension: WindowsLogsourceMap,
): WindowsLogsourceMap {
  const serviceKeys = new Set(extension.services.map(serviceKey));
  const eventKeys = new Set(extension.events.map(eventKey));
  return {
    services: [...extension.services, ...base.services.filter((e) => !serviceKeys.has(serviceKey(e)))],
    events: [...extension.events, ...base.events.filter((e) => !eventKeys.has(eventKey(e)))],
    categoryParents: { ...base.categoryParents, ...extension.categoryParents },
    serviceAliases: { ...base.serviceAliases, ...extension.serviceAliases },
  };
}

/**
 * Child category → every category whose rules also see its events (transitively), in the shape the engine's
 * `RulesetOptions.categoryParents` takes: `registry_set` → `["registry_event"]`.
 */
export function categoryParents(map: WindowsLogsourceMap): Readonly<Record<string, readonly string[]>> {
  const out: Record<string, readonly string[]> = {};
  for (const child of Object.keys(map.categoryParents)) {
    const seen = new Set<string>();
    const queue = [...(map.categoryParents[child] ?? [])];
    for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
      if (parent === child || seen.has(parent)) continue;
      seen.add(parent);
      queue.push(...(Object.hasOwn(map.categoryParents, parent) ? (map.categoryParents[parent] ?? []) : []));
    }
    out[child] = [...seen];
  }
  return out;
}

/** Service names rules may use → the service events carry (`servicebus-client` → `microsoft-servicebus-client`). */
export function serviceAliases(map: WindowsLogsourceMap): Readonly<Record<string, string>> {
  return map.serviceAliases;
}

/** Whether the event's channel is in the map (false: its logsource has only `product: windows`). */
export function isMapped(event: Event): boolean {
  return event.logsource.service !== undefined;
}

/**
 * One `evtx_dump -o json` record (`{"Event":{"#attributes":…,"System":{…},"EventData":{…}}}`) as a ring3 Event:
 * System, EventData and UserData flattened to the field names Sigma rules use, the logsource looked up in the
 * map, then the matching entries' aliases applied. Never throws; a record missing parts gives an event with
 * what it has.
 */
export function windowsRecordToEvent(
  record: unknown,
  map: WindowsLogsourceMap,
  options: WindowsRecordOptions = {},
): Event {
  const root = asObject(record);
  const xmlEvent = asObject(root?.["Event"]) ?? root;
  const fields: Record<string, FieldValue> = {};
  const system = flattenSystem(asObject(xmlEvent?.["System"]), fields);
  flattenEventData(xmlEvent?.["EventData"], fields);
  flattenUserData(asObject(xmlEvent?.["UserData"]), fields);

  const index = indexOf(map);
  const service = lookupService(index, system.channel, system.provider);
  const matches = lookupEvents(index, system, fields);
  const category = matches.find((e) => e.category !== undefined)?.category;
  applyAliases(matches, fields);

  const recordId = stringOf(system.recordId) ?? "";
  const id =
    options.idPrefix === undefined
      ? `${system.computer ?? ""}:${system.channel ?? ""}:${recordId}`
      : `${options.idPrefix}:${recordId}`;
  const logsource = {
    product: "windows",
    ...(service === undefined ? {} : { service }),
    ...(category === undefined ? {} : { category }),
  };
  return { id, time: isoTime(system.time), host: system.computer ?? "", logsource, fields, raw: record };
}

// ---- Reading the YAML -----------------------------------------------------------------------------------------

class MapReader {
  private readonly sink: DiagnosticSink;
  private readonly file: string;

  constructor(sink: DiagnosticSink, file: string) {
    this.sink = sink;
    this.file = file;
  }

  version(root: YMap): void {
    const entry = root.entries.find((e) => e.key === "version");
    if (entry === undefined) return;
    if (entry.value.kind !== "scalar" || entry.value.value !== 1) {
      this.sink.error("R3_LOGSOURCE_VERSION", "this ring3 reads logsource map `version: 1`", entry.value.pos);
    }
  }

  services(root: YMap): ServiceEntry[] {
    const out: ServiceEntry[] = [];
    const seen = new Map<string, SourcePosition>();
    for (const item of this.list(root, "services")) {
      if (item.kind !== "map") {
        this.sink.error("R3_LOGSOURCE_SHAPE", "a services entry must be a mapping", item.pos);
        continue;
      }
      this.unknownKeys(item, SERVICE_KEYS, "a services entry");
      const service = this.string(item, "service", true);
      const channels = this.names(item, "channel");
      const providers = this.names(item, "provider");
      if (service === undefined || channels === null || providers === null) continue;
      if (!SERVICE_NAME.test(service)) {
        this.sink.warning("R3_LOGSOURCE_SERVICE_NAME", `service "${service}" is not a Sigma service name`, item.pos);
      }
      if (channels.length === 0 && providers.length === 0) {
        this.sink.error("R3_LOGSOURCE_MISSING", "a services entry needs `channel`, `provider` or both", item.pos);
        continue;
      }
      for (const channel of channels.length === 0 ? [undefined] : channels) {
        for (const provider of providers.length === 0 ? [undefined] : providers) {
          const entry: ServiceEntry = {
            service,
            ...(channel === undefined ? {} : { channel }),
            ...(provider === undefined ? {} : { provider }),
            source: this.ref(item.pos),
          };
          this.duplicate(seen, serviceKey(entry), item.pos);
          out.push(entry);
        }
      }
    }
    return out;
  }

  events(root: YMap): EventEntry[] {
    const out: EventEntry[] = [];
    const seen = new Map<string, SourcePosition>();
    for (const item of this.list(root, "events")) {
      if (item.kind !== "map") {
        this.sink.error("R3_LOGSOURCE_SHAPE", "an events entry must be a mapping", item.pos);
        continue;
      }
      this.unknownKeys(item, EVENT_KEYS, "an events entry");
      const channels = this.names(item, "channel");
      const providers = this.names(item, "provider");
      const eventIds = this.eventIds(item);
      const when = this.when(item);
      const category = this.string(item, "category", false);
      const aliases = this.aliases(item);
      if (channels === null || providers === null || eventIds === null || when === null || aliases === null) continue;
      if (channels.length === 0) {
        this.sink.error("R3_LOGSOURCE_MISSING", "an events entry needs `channel`", item.pos);
        continue;
      }
      if (category === undefined && Object.keys(aliases).length === 0) {
        this.sink.warning(
          "R3_LOGSOURCE_EMPTY_ENTRY",
          "an events entry without `category` or `aliases` does nothing",
          item.pos,
        );
      }
      for (const channel of channels) {
        for (const eventId of eventIds.length === 0 ? [undefined] : eventIds) {
          for (const provider of providers.length === 0 ? [undefined] : providers) {
            const entry: EventEntry = {
              channel,
              ...(eventId === undefined ? {} : { eventId }),
              ...(provider === undefined ? {} : { provider }),
              when,
              ...(category === undefined ? {} : { category }),
              aliases,
              source: this.ref(item.pos),
            };
            this.duplicate(seen, eventKey(entry), item.pos);
            out.push(entry);
          }
        }
      }
    }
    return out;
  }

  categoryParents(root: YMap): Record<string, readonly string[]> {
    const out: Record<string, readonly string[]> = {};
    const node = this.mapping(root, "categoryParents");
    for (const entry of node?.entries ?? []) {
      const parents = this.scalarList(entry.value, `categoryParents.${entry.key}`);
      if (parents === null) continue;
      this.knownCategory(entry.key, entry.keyPos);
      for (const parent of parents) this.knownCategory(parent, entry.value.pos);
      out[entry.key] = parents;
    }
    return out;
  }

  serviceAliases(root: YMap): Record<string, string> {
    const out: Record<string, string> = {};
    const node = this.mapping(root, "serviceAliases");
    for (const entry of node?.entries ?? []) {
      if (entry.value.kind !== "scalar" || typeof entry.value.value !== "string") {
        this.sink.error("R3_LOGSOURCE_SHAPE", `serviceAliases.${entry.key} must be a service name`, entry.value.pos);
        continue;
      }
      out[entry.key] = entry.value.value;
    }
    return out;
  }

  unknownKeys(map: YMap, known: readonly string[], where: string): void {
    for (const entry of map.entries) {
      if (!known.includes(entry.key)) {
        this.sink.warning(
          "R3_LOGSOURCE_UNKNOWN_KEY",
          `unknown key \`${entry.key}\` in ${where} (expected ${known.join(", ")})`,
          entry.keyPos,
        );
      }
    }
  }

  private list(root: YMap, key: string): readonly YNode[] {
    const entry = root.entries.find((e) => e.key === key);
    if (entry === undefined || (entry.value.kind === "scalar" && entry.value.value === null)) return [];
    if (entry.value.kind !== "seq") {
      this.sink.error("R3_LOGSOURCE_SHAPE", `\`${key}\` must be a list`, entry.value.pos);
      return [];
    }
    return entry.value.items;
  }

  private mapping(root: YMap, key: string): YMap | undefined {
    const entry = root.entries.find((e) => e.key === key);
    if (entry === undefined || (entry.value.kind === "scalar" && entry.value.value === null)) return undefined;
    if (entry.value.kind !== "map") {
      this.sink.error("R3_LOGSOURCE_SHAPE", `\`${key}\` must be a mapping`, entry.value.pos);
      return undefined;
    }
    return entry.value;
  }

  private string(map: YMap, key: string, required: boolean): string | undefined {
    const entry = map.entries.find((e) => e.key === key);
    if (entry === undefined) {
      if (required) this.sink.error("R3_LOGSOURCE_MISSING", `\`${key}\` is required`, map.pos);
      return undefined;
    }
    if (entry.value.kind !== "scalar" || typeof entry.value.value !== "string" || entry.value.value === "") {
      this.sink.error("R3_LOGSOURCE_SHAPE", `\`${key}\` must be a non-empty string`, entry.value.pos);
      return undefined;
    }
    if (key === "category") this.knownCategory(entry.value.value, entry.value.pos);
    return entry.value.value;
  }

  /** A name or a list of names; [] when absent, null when malformed (already reported). */
  private names(map: YMap, key: string): string[] | null {
    const entry = map.entries.find((e) => e.key === key);
    return entry === undefined ? [] : this.scalarList(entry.value, `\`${key}\``);
  }

  private scalarList(node: YNode, what: string): string[] | null {
    const items = node.kind === "seq" ? node.items : [node];
    const out: string[] = [];
    for (const item of items) {
      if (item.kind !== "scalar" || item.value === null || item.text === "") {
        this.sink.error("R3_LOGSOURCE_SHAPE", `${what} must be a name or a list of names`, item.pos);
        return null;
      }
      out.push(item.text);
    }
    return out;
  }

  private eventIds(map: YMap): number[] | null {
    const entry = map.entries.find((e) => e.key === "eventId");
    if (entry === undefined) return [];
    const items = entry.value.kind === "seq" ? entry.value.items : [entry.value];
    const out: number[] = [];
    for (const item of items) {
      // EventID is a 16-bit field of the System section.
      if (
        item.kind !== "scalar" ||
        !Number.isInteger(item.value) ||
        (item.value as number) < 0 ||
        (item.value as number) > 0xffff
      ) {
        this.sink.error("R3_LOGSOURCE_EVENT_ID", "`eventId` must be an integer 0–65535 or a list of them", item.pos);
        return null;
      }
      out.push(item.value as number);
    }
    return out;
  }

  private when(map: YMap): Record<string, readonly string[]> | null {
    const entry = map.entries.find((e) => e.key === "when");
    if (entry === undefined) return {};
    if (entry.value.kind !== "map") {
      this.sink.error("R3_LOGSOURCE_SHAPE", "`when` must map field names to values", entry.value.pos);
      return null;
    }
    const out: Record<string, readonly string[]> = {};
    for (const condition of entry.value.entries) {
      const values = this.scalarList(condition.value, `when.${condition.key}`);
      if (values === null) return null;
      out[condition.key] = values;
    }
    return out;
  }

  private aliases(map: YMap): Record<string, FieldAlias> | null {
    const entry = map.entries.find((e) => e.key === "aliases");
    if (entry === undefined) return {};
    if (entry.value.kind !== "map") {
      this.sink.error("R3_LOGSOURCE_SHAPE", "`aliases` must map Sigma field names to source fields", entry.value.pos);
      return null;
    }
    const out: Record<string, FieldAlias> = {};
    for (const alias of entry.value.entries) {
      const parsed = this.alias(alias.key, alias.value);
      if (parsed === undefined) return null;
      out[alias.key] = parsed;
    }
    return out;
  }

  private alias(target: string, node: YNode): FieldAlias | undefined {
    if (node.kind === "scalar" && typeof node.value === "string" && node.value !== "") return { from: node.value };
    if (node.kind !== "map") {
      this.sink.error("R3_LOGSOURCE_ALIAS", `alias \`${target}\` must name a field or be {from, as, values}`, node.pos);
      return undefined;
    }
    this.unknownKeys(node, ALIAS_KEYS, `alias \`${target}\``);
    const from = this.string(node, "from", true);
    if (from === undefined) return undefined;
    const asEntry = node.entries.find((e) => e.key === "as");
    if (asEntry !== undefined && !(asEntry.value.kind === "scalar" && asEntry.value.value === "number")) {
      this.sink.error("R3_LOGSOURCE_ALIAS", "`as` supports only `number`", asEntry.value.pos);
      return undefined;
    }
    const valuesEntry = node.entries.find((e) => e.key === "values");
    let values: Record<string, string> | undefined;
    if (valuesEntry !== undefined) {
      if (valuesEntry.value.kind !== "map" || !valuesEntry.value.entries.every((e) => e.value.kind === "scalar")) {
        this.sink.error("R3_LOGSOURCE_ALIAS", "`values` must map source values to Sigma values", valuesEntry.value.pos);
        return undefined;
      }
      values = Object.fromEntries(valuesEntry.value.entries.map((e) => [e.key, (e.value as YScalar).text]));
    }
    return {
      from,
      ...(asEntry === undefined ? {} : { as: "number" as const }),
      ...(values === undefined ? {} : { values }),
    };
  }

  private knownCategory(category: string, at: SourcePosition): void {
    if (!Object.hasOwn(WINDOWS_TAXONOMY, category)) {
      this.sink.warning("R3_LOGSOURCE_UNKNOWN_CATEGORY", `category "${category}" is not in ring3's Sigma taxonomy`, at);
    }
  }

  private duplicate(seen: Map<string, SourcePosition>, key: string, at: SourcePosition): void {
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, at);
      return;
    }
    this.sink.warning(
      "R3_LOGSOURCE_DUPLICATE",
      `same key as the entry at line ${first.line}, which takes precedence; this one is never used`,
      at,
    );
  }

  private ref(pos: SourcePosition): SourceRef {
    return { file: this.file, line: pos.line, col: pos.col };
  }
}

function serviceKey(entry: ServiceEntry): string {
  return `${entry.channel?.toLowerCase() ?? "*"}\u0000${entry.provider?.toLowerCase() ?? "*"}`;
}

function eventKey(entry: EventEntry): string {
  const when = Object.keys(entry.when)
    .map(
      (field) =>
        `${field.toLowerCase()}=${(entry.when[field] ?? [])
          .map((v) => v.toLowerCase())
          .sort()
          .join("|")}`,
    )
    .sort()
    .join("&");
  return [entry.channel.toLowerCase(), entry.eventId ?? "*", entry.provider?.toLowerCase() ?? "*", when].join("\u0000");
}

// ---- Looking up ------------------------------------------------------------------------------------------------

type Index = {
  readonly servicesByChannel: ReadonlyMap<string, readonly ServiceEntry[]>;
  readonly servicesByProvider: ReadonlyMap<string, readonly ServiceEntry[]>;
  readonly eventsByChannel: ReadonlyMap<string, readonly EventEntry[]>;
};

/** Built once per map object: a reader may convert millions of records with the same map. */
const indexes = new WeakMap<WindowsLogsourceMap, Index>();

function indexOf(map: WindowsLogsourceMap): Index {
  let index = indexes.get(map);
  if (index === undefined) {
    const servicesByChannel = new Map<string, ServiceEntry[]>();
    const servicesByProvider = new Map<string, ServiceEntry[]>();
    for (const entry of map.services) {
      if (entry.channel !== undefined) push(servicesByChannel, entry.channel.toLowerCase(), entry);
      else if (entry.provider !== undefined) push(servicesByProvider, entry.provider.toLowerCase(), entry);
    }
    const eventsByChannel = new Map<string, EventEntry[]>();
    for (const entry of map.events) push(eventsByChannel, entry.channel.toLowerCase(), entry);
    index = { servicesByChannel, servicesByProvider, eventsByChannel };
    indexes.set(map, index);
  }
  return index;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function lookupService(index: Index, channel: string | undefined, provider: string | undefined): string | undefined {
  const lowerProvider = provider?.toLowerCase();
  const byChannel = channel === undefined ? [] : (index.servicesByChannel.get(channel.toLowerCase()) ?? []);
  const specific = byChannel.find((e) => e.provider !== undefined && e.provider.toLowerCase() === lowerProvider);
  const general = byChannel.find((e) => e.provider === undefined);
  const byProvider = lowerProvider === undefined ? undefined : index.servicesByProvider.get(lowerProvider)?.[0];
  return (specific ?? general ?? byProvider)?.service;
}

/** Entries that match the record, most specific first (stable: equal ones keep the map's order). */
function lookupEvents(index: Index, system: SystemInfo, fields: EventFields): EventEntry[] {
  if (system.channel === undefined) return [];
  const lowerProvider = system.provider?.toLowerCase();
  const candidates = index.eventsByChannel.get(system.channel.toLowerCase()) ?? [];
  return candidates
    .filter(
      (e) =>
        (e.eventId === undefined || e.eventId === system.eventId) &&
        (e.provider === undefined || e.provider.toLowerCase() === lowerProvider) &&
        Object.entries(e.when).every(([field, values]) => conditionHolds(fields[field], values)),
    )
    .sort((a, b) => specificity(b) - specificity(a));
}

function specificity(entry: EventEntry): number {
  return (
    (entry.eventId === undefined ? 0 : 1000) + (entry.provider === undefined ? 0 : 100) + Object.keys(entry.when).length
  );
}

function conditionHolds(value: FieldValue | undefined, accepted: readonly string[]): boolean {
  const texts = value === undefined || value === null ? [] : Array.isArray(value) ? value.map(textOf) : [textOf(value)];
  return texts.some((text) => text !== undefined && accepted.some((a) => a.toLowerCase() === text.toLowerCase()));
}

/**
 * Aliases read a snapshot of the flattened fields, so 4688's `ProcessId` (the creator) reaches `ParentProcessId`
 * before `NewProcessId` overwrites `ProcessId`. Least specific entries first: the most specific wins a target.
 */
function applyAliases(matches: readonly EventEntry[], fields: Record<string, FieldValue>): void {
  const snapshot: EventFields = { ...fields };
  for (const entry of [...matches].reverse()) {
    for (const [target, alias] of Object.entries(entry.aliases)) {
      if (!Object.hasOwn(snapshot, alias.from)) continue;
      const value = aliasValue(snapshot[alias.from] ?? null, alias);
      if (value !== undefined) fields[target] = value;
    }
  }
}

function aliasValue(value: FieldValue, alias: FieldAlias): FieldValue | undefined {
  if (alias.values !== undefined) {
    const text = textOf(value);
    return text !== undefined && Object.hasOwn(alias.values, text) ? alias.values[text] : undefined;
  }
  if (alias.as === "number") return numberOf(value) ?? value;
  return value;
}

// ---- Flattening an evtx_dump record --------------------------------------------------------------------------

type SystemInfo = {
  readonly channel: string | undefined;
  readonly provider: string | undefined;
  readonly eventId: number | undefined;
  readonly computer: string | undefined;
  readonly recordId: FieldValue | undefined;
  readonly time: string | undefined;
};

/**
 * The System section, e.g.
 *   "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F-…"}},
 *   "EventID": 17, "Version": 1, "Level": 4, "Task": 17, "Opcode": 0, "Keywords": "0x8000000000000000",
 *   "TimeCreated": {"#attributes": {"SystemTime": "2026-04-17T05:24:53.088849Z"}}, "EventRecordID": 83237,
 *   "Execution": {"#attributes": {"ProcessID": 3208, "ThreadID": 1724}},
 *   "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "swachchhanda",
 *   "Security": {"#attributes": {"UserID": "S-1-5-18"}}
 * Classic events write `"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7036}`.
 */
function flattenSystem(
  system: Readonly<Record<string, unknown>> | undefined,
  fields: Record<string, FieldValue>,
): SystemInfo {
  const set = (name: string, value: unknown): void => {
    const converted = toFieldValue(value);
    if (converted !== undefined && converted !== null) fields[name] = converted;
  };
  if (system === undefined) {
    return {
      channel: undefined,
      provider: undefined,
      eventId: undefined,
      computer: undefined,
      recordId: undefined,
      time: undefined,
    };
  }
  const provider = attributesOf(system, "Provider");
  set("Provider_Name", provider?.["Name"]);
  set("Provider_Guid", provider?.["Guid"]);
  set("EventSourceName", provider?.["EventSourceName"]);
  const eventId = numberOf(toFieldValue(textContent(system["EventID"])) ?? null);
  set("EventID", eventId ?? textContent(system["EventID"]));
  for (const name of ["Version", "Level", "Task", "Opcode", "Keywords", "EventRecordID", "Channel", "Computer"]) {
    set(name, textContent(system[name]));
  }
  const time = attributesOf(system, "TimeCreated")?.["SystemTime"];
  set("TimeCreated", time);
  const execution = attributesOf(system, "Execution");
  set("ProcessID", execution?.["ProcessID"]);
  set("ThreadID", execution?.["ThreadID"]);
  const userId = attributesOf(system, "Security")?.["UserID"];
  set("UserID", userId);
  // SigmaHQ's logsource.json lists the same SID as `Security_UserID` among the common Windows fields.
  set("Security_UserID", userId);
  const correlation = attributesOf(system, "Correlation");
  set("ActivityID", correlation?.["ActivityID"]);
  set("RelatedActivityID", correlation?.["RelatedActivityID"]);
  return {
    channel: stringOf(fields["Channel"]),
    provider: stringOf(fields["Provider_Name"]),
    eventId,
    computer: stringOf(fields["Computer"]),
    recordId: fields["EventRecordID"],
    time: typeof time === "string" ? time : undefined,
  };
}

/**
 * EventData, in the shapes evtx_dump writes:
 *  - named data, flattened by name: `{"RuleName": "-", "ProcessId": 15596, "Image": "C:\\…\\RedSun.exe"}`;
 *  - unnamed data (classic events, PowerShell 400): `{"Data": {"#text": ["Available", "None", "\tNewEngineState=…"]}}`,
 *    or `{"Data": {"#text": "one"}}`, or in older versions `{"Data": ["a", "b"]}`;
 *  - items kept as elements: `{"Data": [{"#attributes": {"Name": "param1"}, "#text": "Windows Defender"}, …]}`.
 * Named items become fields; unnamed ones become the list `Data` (its only item when there is one), the field
 * SigmaHQ's classic-log rules search (`Data|contains: 'HostApplication='`). Other children (`Binary`) keep their
 * element name. Payload fields are set after System ones and win a clash, like UserData below.
 */
function flattenEventData(eventData: unknown, fields: Record<string, FieldValue>): void {
  if (eventData === undefined || eventData === null) return;
  const positional: FieldValue[] = [];
  const object = asObject(eventData);
  if (object === undefined) {
    addPositional(positional, eventData);
  } else {
    for (const [key, value] of Object.entries(object)) {
      if (key === "#attributes") continue;
      if (key === "Data" || key === "#text") {
        for (const item of Array.isArray(value) ? value : [value]) addDataItem(item, fields, positional);
        continue;
      }
      const converted = toFieldValue(value);
      if (converted !== undefined) fields[key] = converted;
    }
  }
  if (positional.length > 0) fields["Data"] = positional.length === 1 ? (positional[0] ?? null) : positional;
}

function addDataItem(item: unknown, fields: Record<string, FieldValue>, positional: FieldValue[]): void {
  const object = asObject(item);
  const name = asObject(object?.["#attributes"])?.["Name"];
  if (object !== undefined && typeof name === "string" && name !== "") {
    fields[name] = toFieldValue(object["#text"] ?? "") ?? "";
  } else if (object !== undefined && Object.hasOwn(object, "#text")) {
    addPositional(positional, object["#text"]);
  } else {
    addPositional(positional, item);
  }
}

function addPositional(positional: FieldValue[], value: unknown): void {
  for (const item of Array.isArray(value) ? value : [value]) {
    const converted = toFieldValue(item);
    if (converted !== undefined && converted !== null) positional.push(converted);
  }
}

/**
 * UserData has one root element named by the provider, e.g. WMI-Activity 5858:
 *   "UserData": {"Operation_ClientFailure": {"#attributes": {"xmlns": "…"}, "ClientProcessId": 25920, "Operation": "…"}}
 * Each child becomes `UserData.Operation_ClientFailure.Operation` and, as rules write it, plain `Operation`.
 * The plain names win over System ones: System 104 "log cleared" carries
 *   "UserData": {"LogFileCleared": {"SubjectUserName": "…", "Channel": "Security", "BackupPath": ""}}
 * and SigmaHQ's rule filters on that cleared `Channel` (`Channel: ['Security', 'System', …]`), not on System's.
 */
function flattenUserData(
  userData: Readonly<Record<string, unknown>> | undefined,
  fields: Record<string, FieldValue>,
): void {
  if (userData === undefined) return;
  for (const [root, value] of Object.entries(userData)) {
    if (root === "#attributes") continue;
    const object = asObject(value);
    if (object === undefined) {
      const converted = toFieldValue(value);
      if (converted !== undefined) fields[`UserData.${root}`] = converted;
      continue;
    }
    for (const [name, child] of Object.entries(object)) {
      if (name === "#attributes") continue;
      const converted = toFieldValue(child);
      if (converted === undefined) continue;
      fields[`UserData.${root}.${name}`] = converted;
      fields[name] = converted;
    }
  }
}

/** `{"#attributes": {...}}` as evtx_dump writes attributes, or `X_attributes` with `--separate-json-attributes`. */
function attributesOf(
  parent: Readonly<Record<string, unknown>>,
  key: string,
): Readonly<Record<string, unknown>> | undefined {
  return asObject(asObject(parent[key])?.["#attributes"]) ?? asObject(parent[`${key}_attributes`]);
}

/** An element with attributes and text is `{"#attributes": {…}, "#text": value}`; otherwise the value itself. */
function textContent(value: unknown): unknown {
  const object = asObject(value);
  return object !== undefined && Object.hasOwn(object, "#text") ? object["#text"] : value;
}

/** JSON → FieldValue: attributes dropped (the record stays in `raw`), text-only elements reduced to their text. */
function toFieldValue(value: unknown): FieldValue | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map((item) => toFieldValue(item) ?? null);
  const object = asObject(value);
  if (object === undefined) return undefined;
  const keys = Object.keys(object).filter((k) => k !== "#attributes");
  if (keys.length === 1 && keys[0] === "#text") return toFieldValue(object["#text"]);
  if (keys.length === 0) return "";
  const out: Record<string, FieldValue> = {};
  for (const key of keys) out[key] = toFieldValue(object[key]) ?? null;
  return out;
}

function asObject(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Readonly<Record<string, unknown>>)
    : undefined;
}

function stringOf(value: FieldValue | undefined): string | undefined {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
}

function textOf(value: FieldValue): string | undefined {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : undefined;
}

/** `4688`, `"4688"`, or Security's hex ids (`"0x2bc"`). */
function numberOf(value: FieldValue): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text.slice(2), 16);
  if (/^\d+$/.test(text)) return Number(text);
  return undefined;
}

/** SystemTime as evtx_dump writes it (`2026-04-17T05:24:53.088849Z`) is kept to the microsecond. */
function isoTime(time: string | undefined): string {
  if (time === undefined) return "";
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(time)) return time;
  const parsed = Date.parse(time);
  return Number.isNaN(parsed) ? time : new Date(parsed).toISOString();
}
