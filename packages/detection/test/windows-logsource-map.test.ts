import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  categoryParents,
  isMapped,
  mergeWindowsLogsourceMaps,
  parseWindowsLogsourceMap,
  serviceAliases,
  windowsRecordToEvent,
} from "../src/logsources/windows-logsource-map.ts";
import type { WindowsLogsourceMap } from "../src/logsources/windows-logsource-map.ts";

const REPO = join(import.meta.dirname, "../../..");
const SHIPPED = join(REPO, "content/logsources/windows.yaml");
const SHARED_DATA = process.env["RING3_SHARED_DATA"] ?? join(REPO, "../shared/data");
const SIGMA = join(SHARED_DATA, "sigma");
const NO_DATA = `shared data not found at ${SHARED_DATA} (set RING3_SHARED_DATA)`;

function shippedMap(): WindowsLogsourceMap {
  const { map, diagnostics } = parseWindowsLogsourceMap(readFileSync(SHIPPED, "utf8"), SHIPPED);
  assert.deepEqual(diagnostics, []);
  return map;
}

/** A record shaped like `evtx_dump -o json` output. */
function record(system: Record<string, unknown>, payload: Record<string, unknown> = {}): unknown {
  return {
    Event: {
      "#attributes": { xmlns: "http://schemas.microsoft.com/win/2004/08/events/event" },
      System: {
        Provider: { "#attributes": { Name: "Microsoft-Windows-Sysmon", Guid: "5770385F-C22A-43E0-BF4C-06F5698FFBD9" } },
        EventID: 1,
        Level: 4,
        TimeCreated: { "#attributes": { SystemTime: "2026-04-17T05:24:53.088849Z" } },
        EventRecordID: 42,
        Execution: { "#attributes": { ProcessID: 3208, ThreadID: 1724 } },
        Channel: "Microsoft-Windows-Sysmon/Operational",
        Computer: "ws01",
        Security: { "#attributes": { UserID: "S-1-5-18" } },
        ...system,
      },
      ...payload,
    },
  };
}

/** The regression samples hold one JSON object per record, several of them concatenated in 13 files. */
function jsonObjects(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(suffix))
    .map((name) => join(dir, name));
}

type RuleLogsource = { readonly product?: string; readonly category?: string; readonly service?: string };

/** Logsource of every SigmaHQ rule, by rule id. */
function ruleLogsources(): Map<string, RuleLogsource> {
  const out = new Map<string, RuleLogsource>();
  for (const dir of readdirSync(SIGMA).filter((name) => name.startsWith("rules"))) {
    for (const file of filesUnder(join(SIGMA, dir), ".yml")) {
      const rule = parseYaml(readFileSync(file, "utf8")) as { id?: string; logsource?: RuleLogsource } | null;
      if (rule?.id !== undefined && rule.logsource !== undefined) out.set(rule.id, rule.logsource);
    }
  }
  return out;
}

function requireData(t: TestContext): boolean {
  if (existsSync(SIGMA)) return true;
  t.skip(NO_DATA);
  return false;
}

void test("the shipped map reads without diagnostics", () => {
  const map = shippedMap();
  assert.ok(map.services.length > 50);
  assert.deepEqual(categoryParents(map)["registry_set"], ["registry_event"]);
  assert.deepEqual(categoryParents(map)["file_delete_detected"], ["file_delete"]);
  assert.equal(serviceAliases(map)["servicebus-client"], "microsoft-servicebus-client");
});

void test("every SigmaHQ regression sample gets its rule's logsource", (t) => {
  if (!requireData(t)) return;
  const map = shippedMap();
  const parents = categoryParents(map);
  const logsources = ruleLogsources();
  const samples = filesUnder(join(SIGMA, "regression_data"), ".json");
  assert.equal(samples.length, 202);
  let records = 0;
  for (const sample of samples) {
    const info = parseYaml(readFileSync(join(dirname(sample), "info.yml"), "utf8")) as {
      rule_metadata: { id: string }[];
    };
    const ruleId = info.rule_metadata[0]?.id ?? "";
    const expected = logsources.get(ruleId);
    assert.ok(expected, `${sample}: rule ${ruleId} not found`);
    for (const raw of jsonObjects(readFileSync(sample, "utf8"))) {
      records++;
      const event = windowsRecordToEvent(raw, map);
      const where = `${sample} (${event.id})`;
      assert.ok(isMapped(event), `${where}: no service`);
      assert.equal(event.logsource.product, "windows");
      if (expected.service !== undefined) assert.equal(event.logsource.service, expected.service, where);
      if (expected.category !== undefined) {
        const category = event.logsource.category ?? "";
        const seen = [category, ...(parents[category] ?? [])];
        assert.ok(seen.includes(expected.category), `${where}: ${category} does not reach ${expected.category}`);
      }
      assert.equal(event.raw, raw);
    }
  }
  assert.ok(records >= 202, `${records} records`);
});

void test("every Windows service the SigmaHQ corpus uses has a channel", (t) => {
  if (!requireData(t)) return;
  const map = shippedMap();
  const produced = new Set([...map.services.map((e) => e.service), ...Object.keys(serviceAliases(map))]);
  const used = new Set<string>();
  for (const logsource of ruleLogsources().values()) {
    if (logsource.product === "windows" && logsource.service !== undefined) used.add(logsource.service);
  }
  assert.ok(used.size >= 37, `${used.size} services`);
  assert.deepEqual(
    [...used].filter((s) => !produced.has(s)),
    [],
  );
});

void test("every channel of the EVTX development samples is mapped", (t) => {
  const manifestPath = join(SHARED_DATA, "evtx-samples/manifest.json");
  if (!existsSync(manifestPath)) {
    t.skip(NO_DATA);
    return;
  }
  // Only records the manifest lists without a channel (parser edge cases) have nothing to map.
  const noSigmaService = new Set(["", "null"]);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { channels?: Record<string, number> }[];
  const map = shippedMap();
  const channels = new Set(manifest.flatMap((file) => Object.keys(file.channels ?? {})));
  for (const channel of channels) {
    const event = windowsRecordToEvent(record({ Channel: channel, Provider: null }), map);
    assert.equal(isMapped(event), !noSigmaService.has(channel), channel);
  }
});

void test("Security 4688: Sigma aliases next to the original fields", () => {
  const event = windowsRecordToEvent(
    record(
      {
        Provider: { "#attributes": { Name: "Microsoft-Windows-Security-Auditing" } },
        EventID: 4688,
        Channel: "Security",
        EventRecordID: 1234,
      },
      {
        EventData: {
          SubjectUserSid: "S-1-5-21-1377283216-344919071-3415362939-1104",
          SubjectUserName: "dadmin",
          SubjectDomainName: "CONTOSO",
          SubjectLogonId: "0x6e2ab",
          NewProcessId: "0x2bc",
          NewProcessName: "C:\\Windows\\System32\\rundll32.exe",
          TokenElevationType: "%%1938",
          ProcessId: "0xe74",
          CommandLine: "rundll32.exe shell32.dll,Control_RunDLL",
          TargetUserSid: "S-1-0-0",
          TargetUserName: "-",
          TargetDomainName: "-",
          TargetLogonId: "0x0",
          ParentProcessName: "C:\\Windows\\explorer.exe",
          MandatoryLabel: "S-1-16-8192",
        },
      },
    ),
    shippedMap(),
  );
  assert.deepEqual(event.logsource, { product: "windows", service: "security", category: "process_creation" });
  assert.equal(event.id, "ws01:Security:1234");
  const f = event.fields;
  assert.equal(f["Image"], "C:\\Windows\\System32\\rundll32.exe");
  assert.equal(f["ParentImage"], "C:\\Windows\\explorer.exe");
  assert.equal(f["ProcessId"], 0x2bc, "the new process, as a number");
  assert.equal(f["ParentProcessId"], 0xe74, "4688's ProcessId is the creator");
  assert.equal(f["IntegrityLevel"], "Medium");
  assert.equal(f["LogonId"], "0x6e2ab");
  assert.equal(f["CommandLine"], "rundll32.exe shell32.dll,Control_RunDLL");
  // The originals stay for `service: security` rules.
  assert.equal(f["NewProcessName"], "C:\\Windows\\System32\\rundll32.exe");
  assert.equal(f["NewProcessId"], "0x2bc");
  assert.equal(f["MandatoryLabel"], "S-1-16-8192");
  assert.equal(f["EventID"], 4688);
  assert.equal(f["Provider_Name"], "Microsoft-Windows-Security-Auditing");
});

void test("Sysmon 12 splits into registry_add / registry_delete by EventType", () => {
  const map = shippedMap();
  const sysmon12 = (eventType: string) =>
    windowsRecordToEvent(
      record(
        { EventID: 12 },
        {
          EventData: {
            RuleName: "-",
            EventType: eventType,
            UtcTime: "2026-04-17 05:24:53.079",
            ProcessGuid: "0197231E-C424-69E1-C922-000000000800",
            ProcessId: 15596,
            Image: "C:\\Windows\\regedit.exe",
            TargetObject: "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions",
            User: "ws01\\alice",
          },
        },
      ),
      map,
    ).logsource.category;
  assert.equal(sysmon12("DeleteKey"), "registry_delete");
  assert.equal(sysmon12("deletevalue"), "registry_delete", "conditions compare case-insensitively");
  assert.equal(sysmon12("CreateKey"), "registry_add");
  assert.equal(sysmon12("SomethingNew"), "registry_event");
  assert.deepEqual(categoryParents(map)["registry_delete"], ["registry_event"]);
});

void test("flattens System, the EventData shapes and UserData", () => {
  const map = shippedMap();
  // Classic event: EventID with Qualifiers, unnamed data, binary.
  const classic = windowsRecordToEvent(
    record(
      {
        Provider: { "#attributes": { Name: "PowerShell" } },
        EventID: { "#attributes": { Qualifiers: 0 }, "#text": 400 },
        Channel: "Windows PowerShell",
      },
      { EventData: { Data: { "#text": ["Available", "None", "\tHostApplication=powershell.exe -enc AAAA"] } } },
    ),
    map,
  );
  assert.equal(classic.fields["EventID"], 400);
  assert.deepEqual(classic.fields["Data"], ["Available", "None", "\tHostApplication=powershell.exe -enc AAAA"]);
  assert.deepEqual(classic.logsource, {
    product: "windows",
    service: "powershell-classic",
    category: "ps_classic_start",
  });

  // Data items kept as elements, named and unnamed.
  const elements = windowsRecordToEvent(
    record(
      { Provider: { "#attributes": { Name: "Service Control Manager" } }, EventID: 7036, Channel: "System" },
      {
        EventData: {
          Data: [
            { "#attributes": { Name: "param1" }, "#text": "Windows Defender Antivirus Service" },
            { "#attributes": { Name: "param2" }, "#text": "stopped" },
          ],
          Binary: "570069006E0044006500660065006E0064002F0031000000",
        },
      },
    ),
    map,
  );
  assert.equal(elements.fields["param1"], "Windows Defender Antivirus Service");
  assert.equal(elements.fields["param2"], "stopped");
  assert.equal(elements.fields["Binary"], "570069006E0044006500660065006E0064002F0031000000");
  assert.deepEqual(elements.logsource, { product: "windows", service: "system" });

  // UserData: prefixed and plain names; the plain name wins over System's (System 104 names the cleared log).
  const cleared = windowsRecordToEvent(
    record(
      { Provider: { "#attributes": { Name: "Microsoft-Windows-Eventlog" } }, EventID: 104, Channel: "System" },
      {
        UserData: {
          LogFileCleared: {
            "#attributes": { xmlns: "http://manifests.microsoft.com/win/2004/08/windows/eventlog" },
            SubjectUserName: "alice",
            Channel: "Security",
            BackupPath: "",
          },
        },
      },
    ),
    map,
  );
  assert.equal(cleared.fields["UserData.LogFileCleared.Channel"], "Security");
  assert.equal(cleared.fields["Channel"], "Security");
  assert.equal(cleared.fields["SubjectUserName"], "alice");
  assert.equal(cleared.logsource.service, "system", "the logsource follows System/Channel");
  assert.equal(cleared.id, "ws01:System:42");

  // System fields.
  const f = classic.fields;
  assert.equal(f["Computer"], "ws01");
  assert.equal(f["EventRecordID"], 42);
  assert.equal(f["ProcessID"], 3208);
  assert.equal(f["ThreadID"], 1724);
  assert.equal(f["UserID"], "S-1-5-18");
  assert.equal(f["Security_UserID"], "S-1-5-18");
  assert.equal(f["TimeCreated"], "2026-04-17T05:24:53.088849Z");
  assert.equal(classic.time, "2026-04-17T05:24:53.088849Z");
  assert.equal(classic.host, "ws01");
});

void test("Defender: spaced data names get the names SigmaHQ rules write, detections the antivirus category", () => {
  const event = windowsRecordToEvent(
    record(
      {
        Provider: { "#attributes": { Name: "Microsoft-Windows-Windows Defender" } },
        EventID: 1116,
        Channel: "Microsoft-Windows-Windows Defender/Operational",
      },
      { EventData: { "Threat Name": "Tool:Win32/EICAR_Test_File", "Source Name": "AMSI", Path: "file:_C:\\x.com" } },
    ),
    shippedMap(),
  );
  assert.deepEqual(event.logsource, { product: "windows", service: "windefend", category: "antivirus" });
  assert.equal(event.fields["ThreatName"], "Tool:Win32/EICAR_Test_File");
  assert.equal(event.fields["SourceName"], "AMSI");
  assert.equal(event.fields["Signature"], "Tool:Win32/EICAR_Test_File");
  assert.equal(event.fields["Filename"], "file:_C:\\x.com");
  assert.equal(event.fields["Threat Name"], "Tool:Win32/EICAR_Test_File");
});

void test("an unknown channel keeps product only; idPrefix sets the id", () => {
  const event = windowsRecordToEvent(record({ Channel: "Contoso-Agent/Operational", EventID: 169 }), shippedMap(), {
    idPrefix: "C:\\logs\\winrm.evtx",
  });
  assert.deepEqual(event.logsource, { product: "windows" });
  assert.equal(isMapped(event), false);
  assert.equal(event.id, "C:\\logs\\winrm.evtx:42");
  for (const junk of [null, 7, "text", [], {}, { Event: { System: "x", EventData: 3, UserData: [] } }]) {
    const e = windowsRecordToEvent(junk, shippedMap());
    assert.deepEqual(e.logsource, { product: "windows" });
  }
});

void test("malformed YAML gives diagnostics with line and column, never an exception", () => {
  const syntax = parseWindowsLogsourceMap("version: 1\nservices:\n  - service: x\n    channel: [a, b\n", "user.yaml");
  assert.ok(syntax.diagnostics.length > 0);
  const first = syntax.diagnostics[0];
  assert.ok(first !== undefined);
  assert.match(first.code, /^R3_LOGSOURCE_/);
  assert.equal(first.severity, "error");
  assert.equal(first.file, "user.yaml");
  assert.ok(first.line >= 4 && first.col >= 1, `${first.line}:${first.col}`);

  const shape = parseWindowsLogsourceMap(
    [
      "version: 1",
      "services:",
      "  - service: good",
      "    channel: Good/Operational",
      "  - channel: NoService/Operational",
      "events:",
      "  - channel: Good/Operational",
      "    eventId: seven",
      "    category: process_creation",
      "  - channel: Good/Operational",
      "    eventId: 1",
      "    category: not_a_category",
      "    aliazes: {}",
      "",
    ].join("\n"),
    "user.yaml",
  );
  const byCode = (code: string) => shape.diagnostics.find((d) => d.code === code);
  assert.deepEqual(
    [byCode("R3_LOGSOURCE_MISSING")?.line, byCode("R3_LOGSOURCE_EVENT_ID")?.line],
    [5, 8],
    JSON.stringify(shape.diagnostics),
  );
  assert.equal(byCode("R3_LOGSOURCE_EVENT_ID")?.col, 14);
  assert.equal(byCode("R3_LOGSOURCE_UNKNOWN_CATEGORY")?.severity, "warning");
  assert.equal(byCode("R3_LOGSOURCE_UNKNOWN_KEY")?.line, 13);
  // The sound entries survive.
  assert.deepEqual(
    shape.map.services.map((e) => e.service),
    ["good"],
  );
  assert.equal(shape.map.events.length, 1);

  for (const text of ["", "- a\n- b\n", "version: 2\n", "services: 3\n", "\t\u0000{{{", "events:\n  - 1\n"]) {
    const { diagnostics } = parseWindowsLogsourceMap(text, "x.yaml");
    assert.ok(diagnostics.length > 0, JSON.stringify(text));
    assert.ok(diagnostics.every((d) => d.code.startsWith("R3_LOGSOURCE_") && d.line >= 1));
  }
});

void test("a user file extends and overrides the shipped map", () => {
  const user = parseWindowsLogsourceMap(
    [
      "version: 1",
      "services:",
      "  - service: winrm",
      "    channel: Microsoft-Windows-WinRM/Operational",
      "  # Provider-based: one provider's events inside the Application channel.",
      "  - service: mssql",
      "    channel: Application",
      "    provider: MSSQLSERVER",
      "events:",
      "  # Override: Sysmon 3 becomes something else.",
      "  - channel: Microsoft-Windows-Sysmon/Operational",
      "    eventId: 3",
      "    category: network_connection",
      "    aliases: { Destination: DestinationIp }",
      "  - channel: Microsoft-Windows-WinRM/Operational",
      "    eventId: 169",
      "    aliases: { User: username }",
      "categoryParents:",
      "  registry_set: [registry_event, registry_add]",
      "",
    ].join("\n"),
    "user.yaml",
  );
  assert.deepEqual(user.diagnostics, []);
  const base = shippedMap();
  const merged = mergeWindowsLogsourceMaps(base, user.map);
  const sysmon3 = merged.events.filter((e) => e.channel === "Microsoft-Windows-Sysmon/Operational" && e.eventId === 3);
  assert.equal(sysmon3.length, 1, "the user entry replaces the shipped one");
  assert.equal(sysmon3[0]?.source.file, "user.yaml");
  assert.equal(merged.events.length, base.events.length + 1);

  const net = windowsRecordToEvent(record({ EventID: 3 }, { EventData: { DestinationIp: "10.0.0.1" } }), merged);
  assert.equal(net.fields["Destination"], "10.0.0.1");

  const winrm = windowsRecordToEvent(
    record({ Channel: "Microsoft-Windows-WinRM/Operational", EventID: 169 }, { EventData: { username: "CORP\\bob" } }),
    merged,
  );
  assert.deepEqual(winrm.logsource, { product: "windows", service: "winrm" });
  assert.equal(winrm.fields["User"], "CORP\\bob");

  const app = (provider: string) =>
    windowsRecordToEvent(record({ Channel: "Application", Provider: { "#attributes": { Name: provider } } }), merged)
      .logsource.service;
  assert.equal(app("MSSQLSERVER"), "mssql");
  assert.equal(app("Application Error"), "application");
  assert.deepEqual(categoryParents(merged)["registry_set"], ["registry_event", "registry_add"]);
  assert.deepEqual(categoryParents(base)["registry_set"], ["registry_event"], "merging does not change the base");
});
