import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  LINUX_TAXONOMY,
  VALUE_KINDS,
  WINDOWS_SYSTEM_FIELDS,
  WINDOWS_TAXONOMY,
  categoryFields,
  isKnownField,
} from "../src/index.ts";
import type { CategorySpec, NetworkConnectionFields, ProcessCreationFields } from "../src/index.ts";

const SHARED_DATA = process.env["RING3_SHARED_DATA"] ?? join(import.meta.dirname, "../../../../shared/data");
const LOGSOURCE_JSON = join(SHARED_DATA, "sigma/tests-data/logsource.json");

type FieldLists = { readonly category: Readonly<Record<string, readonly string[]>> };
type LogsourceJson = {
  readonly legit: { readonly windows: FieldLists & { readonly common: readonly string[] }; readonly linux: FieldLists };
  readonly addon: { readonly windows: FieldLists };
};

/**
 * Categories of logsource.json that ring3's taxonomy deliberately does not declare, each with the reason.
 * Everything else in the file must be covered field by field.
 */
const NOT_DECLARED: Readonly<Record<string, string>> = {
  raw_access_read:
    "old name of raw_access_thread (Sysmon 9); the taxonomy appendix and SigmaHQ rules use raw_access_thread only",
  file_block:
    "logsource.json's single name for Sysmon 27 and 28, which the taxonomy appendix splits into " +
    "file_block_executable and file_block_shredding (both declared, with the same fields)",
};

/** The Windows categories ring3 produces or reads (the brief's list); each must be declared. */
const REQUIRED_WINDOWS = [
  "process_creation",
  "process_termination",
  "network_connection",
  "dns_query",
  "file_event",
  "file_change",
  "file_delete",
  "file_rename",
  "file_access",
  "image_load",
  "driver_load",
  "registry_add",
  "registry_delete",
  "registry_set",
  "registry_rename",
  "registry_event",
  "process_access",
  "create_remote_thread",
  "raw_access_thread",
  "pipe_created",
  "wmi_event",
  "ps_script",
  "ps_module",
  "ps_classic_start",
  "create_stream_hash",
  "sysmon_error",
  "sysmon_status",
  "clipboard_capture",
  "process_tampering",
] as const;

function readLogsourceJson(): LogsourceJson | undefined {
  return existsSync(LOGSOURCE_JSON) ? (JSON.parse(readFileSync(LOGSOURCE_JSON, "utf8")) as LogsourceJson) : undefined;
}

void test("declares every Windows category ring3 produces or reads", () => {
  for (const category of REQUIRED_WINDOWS) assert.ok(categoryFields(category), `missing ${category}`);
});

void test("every field has a value kind and a one-line meaning", () => {
  const specs: [string, CategorySpec][] = [
    ["windows system", WINDOWS_SYSTEM_FIELDS],
    ...Object.entries(WINDOWS_TAXONOMY).map(([c, s]): [string, CategorySpec] => [`windows ${c}`, s]),
    ...Object.entries(LINUX_TAXONOMY).map(([c, s]): [string, CategorySpec] => [`linux ${c}`, s]),
  ];
  for (const [where, spec] of specs) {
    for (const [name, field] of Object.entries(spec)) {
      assert.ok(VALUE_KINDS.includes(field.kind), `${where} ${name}: kind ${field.kind}`);
      assert.match(field.meaning, /^\S[^\n]*$/, `${where} ${name}: meaning must be one line`);
      assert.match(name, /^[A-Za-z_][A-Za-z0-9_]*$/, `${where} ${name}: not a Sigma field name`);
    }
  }
});

void test("covers every Windows field SigmaHQ's logsource.json lists (legit and addon)", (t) => {
  const json = readLogsourceJson();
  if (json === undefined) {
    t.skip(`SigmaHQ logsource.json not found at ${LOGSOURCE_JSON} (set RING3_SHARED_DATA)`);
    return;
  }
  for (const name of json.legit.windows.common) assert.ok(isKnownField("process_creation", name), `common ${name}`);
  const lists = [json.legit.windows.category, json.addon.windows.category];
  let checked = 0;
  for (const list of lists) {
    for (const [category, fields] of Object.entries(list)) {
      if (Object.hasOwn(NOT_DECLARED, category)) {
        assert.equal(categoryFields(category), undefined, `${category} is listed as not declared`);
        continue;
      }
      assert.ok(categoryFields(category), `logsource.json category ${category} is neither declared nor excepted`);
      const missing = fields.filter((field) => !isKnownField(category, field));
      assert.deepEqual(missing, [], `${category} lacks fields`);
      checked += fields.length;
    }
  }
  assert.ok(checked > 250, `only ${checked} fields checked`);
  // The split of `file_block` keeps its fields.
  for (const field of json.legit.windows.category["file_block"] ?? []) {
    assert.ok(isKnownField("file_block_executable", field), field);
    assert.ok(isKnownField("file_block_shredding", field), field);
  }
});

void test("covers every Linux field SigmaHQ's logsource.json lists", (t) => {
  const json = readLogsourceJson();
  if (json === undefined) {
    t.skip(`SigmaHQ logsource.json not found at ${LOGSOURCE_JSON} (set RING3_SHARED_DATA)`);
    return;
  }
  for (const [category, fields] of Object.entries(json.legit.linux.category)) {
    const missing = fields.filter((field) => !isKnownField(category, field, "linux"));
    assert.deepEqual(missing, [], `linux ${category} lacks fields`);
  }
});

void test("categoryFields and isKnownField", () => {
  assert.equal(categoryFields("process_creation")?.["CommandLine"]?.kind, "string");
  assert.equal(categoryFields("network_connection")?.["DestinationIp"]?.kind, "ip");
  assert.equal(categoryFields("process_creation", "linux")?.["GrandParentImage"], undefined);
  assert.equal(categoryFields("no_such_category"), undefined);
  assert.equal(categoryFields("toString"), undefined);
  assert.ok(isKnownField("registry_set", "TargetObject"));
  assert.ok(isKnownField("registry_set", "EventID"), "System fields are known in every Windows category");
  assert.ok(!isKnownField("registry_set", "CommandLine"));
  assert.ok(!isKnownField("process_creation", "EventID", "linux"));
  assert.ok(!isKnownField("no_such_category", "Image"));
});

void test("field types are derived from the data", () => {
  const process: ProcessCreationFields = { Image: "C:\\Windows\\System32\\cmd.exe", ProcessId: 4242 };
  const connection: NetworkConnectionFields = { DestinationIp: "10.0.0.1", DestinationPort: 443, Initiated: true };
  // @ts-expect-error ProcessId is a number in the taxonomy
  const wrong: ProcessCreationFields = { ProcessId: "4242" };
  // @ts-expect-error not a process_creation field
  const unknown: ProcessCreationFields = { TargetObject: "HKLM\\x" };
  assert.equal(process.ProcessId, 4242);
  assert.equal(connection.DestinationPort, 443);
  assert.ok(wrong && unknown);
});
