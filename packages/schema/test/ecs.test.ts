import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toEcs } from "../src/index.ts";
import type { Event } from "../src/index.ts";

const GOLDEN = join(import.meta.dirname, "golden/sysmon-process-creation.ecs.json");

/** A Sysmon 1 record (Sysmon 15, Windows 11) as windowsRecordToEvent flattens it. */
const processCreation: Event = {
  id: "WS01.corp.example:Microsoft-Windows-Sysmon/Operational:120531",
  time: "2025-03-14T09:26:53.589Z",
  host: "WS01.corp.example",
  logsource: { product: "windows", service: "sysmon", category: "process_creation" },
  fields: {
    EventID: 1,
    Provider_Name: "Microsoft-Windows-Sysmon",
    Provider_Guid: "5770385F-C22A-43E0-BF4C-06F5698FFBD9",
    Channel: "Microsoft-Windows-Sysmon/Operational",
    Computer: "WS01.corp.example",
    EventRecordID: 120531,
    Version: 5,
    Level: 4,
    Task: 1,
    Opcode: 0,
    Keywords: "0x8000000000000000",
    TimeCreated: "2025-03-14T09:26:53.589Z",
    ProcessID: 3208,
    ThreadID: 4120,
    UserID: "S-1-5-18",
    Security_UserID: "S-1-5-18",
    RuleName: "technique_id=T1059.001,technique_name=PowerShell",
    UtcTime: "2025-03-14 09:26:53.577",
    ProcessGuid: "0197231E-C424-69E1-C922-000000000800",
    ProcessId: 7464,
    Image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    FileVersion: "10.0.22621.3085 (WinBuild.160101.0800)",
    Description: "Windows PowerShell",
    Product: "Microsoft® Windows® Operating System",
    Company: "Microsoft Corporation",
    OriginalFileName: "PowerShell.EXE",
    CommandLine: 'powershell.exe -NoProfile -EncodedCommand "SQBFAFgA"',
    CurrentDirectory: "C:\\Users\\alice\\",
    User: "CORP\\alice",
    LogonGuid: "0197231E-BBFB-692F-3C8C-050000000000",
    LogonId: "0x58c3c",
    TerminalSessionId: 1,
    IntegrityLevel: "Medium",
    Hashes:
      "MD5=097CE5761C89434367598B34FE32893B,SHA256=9785001B0DCF755EDDB8AF294A373C0B87B2498660F724E76C4D53F9C217C7A3,IMPHASH=AFACF6DC9041114B198160AAB4D0AE77",
    ParentProcessGuid: "0197231E-E967-692F-A904-000000000900",
    ParentProcessId: 9076,
    ParentImage: "C:\\Windows\\explorer.exe",
    ParentCommandLine: "C:\\Windows\\Explorer.EXE",
    ParentUser: "CORP\\alice",
  },
};

const networkConnection: Event = {
  id: "WS01.corp.example:Microsoft-Windows-Sysmon/Operational:120544",
  time: "2025-03-14T09:26:55.102Z",
  host: "WS01.corp.example",
  logsource: { product: "windows", service: "sysmon", category: "network_connection" },
  fields: {
    EventID: 3,
    Channel: "Microsoft-Windows-Sysmon/Operational",
    RuleName: "-",
    UtcTime: "2025-03-14 09:26:54.030",
    ProcessGuid: "0197231E-C424-69E1-C922-000000000800",
    ProcessId: 7464,
    Image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    User: "CORP\\alice",
    Protocol: "tcp",
    Initiated: true,
    SourceIsIpv6: false,
    SourceIp: "10.20.30.41",
    SourceHostname: "WS01.corp.example",
    SourcePort: 50122,
    SourcePortName: "-",
    DestinationIsIpv6: false,
    DestinationIp: "93.184.215.14",
    DestinationHostname: "-",
    DestinationPort: 443,
    DestinationPortName: "https",
  },
};

type Json = Record<string, unknown>;
const at = (doc: Json, path: string): unknown =>
  path.split(".").reduce<unknown>((node, key) => (node as Json | undefined)?.[key], doc);

void test("maps a Sysmon process_creation event to nested ECS", () => {
  const doc = toEcs(processCreation);
  const expect: Record<string, unknown> = {
    "@timestamp": "2025-03-14T09:26:53.589Z",
    "host.name": "WS01.corp.example",
    "host.os.type": "windows",
    "event.kind": "event",
    "event.category": ["process"],
    "event.type": ["start"],
    "event.code": "1",
    "event.provider": "Microsoft-Windows-Sysmon",
    "event.dataset": "windows.process_creation",
    "process.executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "process.name": "powershell.exe",
    "process.command_line": 'powershell.exe -NoProfile -EncodedCommand "SQBFAFgA"',
    "process.pid": 7464,
    "process.entity_id": "0197231E-C424-69E1-C922-000000000800",
    "process.working_directory": "C:\\Users\\alice\\",
    "process.parent.executable": "C:\\Windows\\explorer.exe",
    "process.parent.pid": 9076,
    "process.parent.command_line": "C:\\Windows\\Explorer.EXE",
    "process.parent.user.name": "alice",
    "process.hash.md5": "097ce5761c89434367598b34fe32893b",
    "process.hash.sha256": "9785001b0dcf755eddb8af294a373c0b87b2498660f724e76c4d53f9c217c7a3",
    "process.pe.imphash": "afacf6dc9041114b198160aab4d0ae77",
    "process.pe.original_file_name": "PowerShell.EXE",
    "user.name": "alice",
    "user.domain": "CORP",
    "rule.name": "technique_id=T1059.001,technique_name=PowerShell",
    "log.level": "information",
    "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
    "winlog.record_id": "120531",
    "winlog.logon.id": "0x58c3c",
    // No ECS home: kept under their Sigma names.
    "ring3.fields.IntegrityLevel": "Medium",
    "ring3.fields.TerminalSessionId": 1,
    "ring3.fields.UtcTime": "2025-03-14 09:26:53.577",
  };
  for (const [path, value] of Object.entries(expect)) assert.deepEqual(at(doc, path), value, path);
  assert.ok(
    Object.keys(doc).every((key) => !key.includes(".")),
    "top-level keys are objects, not dotted names",
  );
});

void test("maps a Sysmon network_connection event", () => {
  const doc = toEcs(networkConnection);
  const expect: Record<string, unknown> = {
    "event.category": ["network"],
    "event.type": ["connection", "start"],
    "source.ip": "10.20.30.41",
    "source.port": 50122,
    "source.domain": "WS01.corp.example",
    "destination.ip": "93.184.215.14",
    "destination.port": 443,
    "network.transport": "tcp",
    "network.direction": "egress",
    "network.type": "ipv4",
    "network.protocol": "https",
    "process.executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "process.pid": 7464,
    "ring3.fields.SourcePortName": "-",
  };
  for (const [path, value] of Object.entries(expect)) assert.deepEqual(at(doc, path), value, path);
  // `-` is Sysmon's "unknown", not an address or a name.
  assert.equal(at(doc, "destination.domain"), "-");
});

void test("registry, dns, image load and Security-style hex ids", () => {
  const base = { id: "x", time: "2025-01-01T00:00:00.000Z", host: "h" };
  const registry = toEcs({
    ...base,
    logsource: { product: "windows", service: "sysmon", category: "registry_set" },
    fields: {
      EventType: "SetValue",
      TargetObject: "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater",
      Details: "C:\\Users\\Public\\u.exe",
    },
  });
  assert.equal(at(registry, "registry.hive"), "HKLM");
  assert.equal(at(registry, "registry.key"), "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run");
  assert.equal(at(registry, "registry.value"), "Updater");
  assert.deepEqual(at(registry, "registry.data.strings"), ["C:\\Users\\Public\\u.exe"]);
  assert.equal(at(registry, "event.action"), "SetValue");

  const dns = toEcs({
    ...base,
    logsource: { product: "windows", service: "sysmon", category: "dns_query" },
    fields: { QueryName: "example.net", QueryResults: "type: 5 edge.example.net;::ffff:93.184.215.14;" },
  });
  assert.equal(at(dns, "dns.question.name"), "example.net");
  assert.deepEqual(at(dns, "dns.resolved_ip"), ["93.184.215.14"]);
  assert.equal(at(dns, "ring3.fields.QueryResults"), "type: 5 edge.example.net;::ffff:93.184.215.14;");

  const dll = toEcs({
    ...base,
    logsource: { product: "windows", service: "sysmon", category: "image_load" },
    fields: { ImageLoaded: "C:\\Windows\\System32\\dbghelp.dll", Signed: "true", Hashes: "SHA1=AB12" },
  });
  assert.equal(at(dll, "dll.path"), "C:\\Windows\\System32\\dbghelp.dll");
  assert.equal(at(dll, "dll.name"), "dbghelp.dll");
  assert.equal(at(dll, "dll.code_signature.exists"), true);
  assert.equal(at(dll, "dll.hash.sha1"), "ab12");

  const security = toEcs({
    ...base,
    logsource: { product: "windows", service: "security", category: "process_creation" },
    fields: { ProcessId: "0x1a4", NewProcessName: "C:\\x.exe", Hashes: "TLSH=T1AB" },
  });
  assert.equal(at(security, "process.pid"), 0x1a4);
  assert.equal(at(security, "ring3.fields.NewProcessName"), "C:\\x.exe");
  assert.equal(at(security, "ring3.fields.Hashes"), "TLSH=T1AB", "an unknown algorithm keeps the raw value");
});

void test("nothing is lost: unmapped and UserData fields nest under ring3.fields", () => {
  const doc = toEcs({
    id: "x",
    time: "2025-01-01T00:00:00.000Z",
    host: "h",
    logsource: { product: "windows", service: "system" },
    fields: {
      EventID: 104,
      "UserData.LogFileCleared.Channel": "Security",
      Channel: "Security",
      param1: "Windows Defender",
      Data: ["a", "b"],
    },
  });
  assert.equal(at(doc, "ring3.fields.UserData.LogFileCleared.Channel"), "Security");
  assert.equal(at(doc, "ring3.fields.param1"), "Windows Defender");
  assert.deepEqual(at(doc, "ring3.fields.Data"), ["a", "b"]);
  assert.equal(at(doc, "event.category"), undefined, "a service-only event has no ECS category");
  assert.equal(at(doc, "event.dataset"), "windows.system");
});

void test("golden ECS document of a Sysmon process_creation event", () => {
  const actual = toEcs(processCreation);
  if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(GOLDEN, `${JSON.stringify(actual, null, 2)}\n`);
  const golden = JSON.parse(readFileSync(GOLDEN, "utf8")) as unknown;
  assert.deepEqual(actual, golden);
});
