import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDataDir } from "@ring3/testkit";
import { formatDiagnostic, loadRules, MODIFIERS } from "../src/index.ts";
import { diagnosticCodes, load, matcher, selection } from "./rule-helpers.ts";

/**
 * Every modifier named by sigma-appendix-modifiers.md (v2.1.0), written out so that the registry test runs
 * without the specification checkout. When the checkout is there, the list is also checked against it.
 */
const SPEC_MODIFIERS = [
  "all",
  "startswith",
  "endswith",
  "contains",
  "exists",
  "cased",
  "neq",
  "windash",
  "re",
  "i",
  "m",
  "s",
  "base64",
  "base64offset",
  "utf16le",
  "utf16be",
  "utf16",
  "wide",
  "lt",
  "lte",
  "gt",
  "gte",
  "minute",
  "hour",
  "day",
  "week",
  "month",
  "year",
  "cidr",
  "expand",
  "fieldref",
] as const;

const shared = sharedDataDir();
const APPENDIX =
  shared === undefined
    ? undefined
    : join(shared, "sigma-specification", "specification", "sigma-appendix-modifiers.md");

/** Bytes written as in the appendix (`63 00 6d 00 64 00`), base64-encoded: what `|base64` should produce. */
function base64OfHex(spaced: string): string {
  return Buffer.from(spaced.replace(/ /g, ""), "hex").toString("base64");
}

// --- the registry -------------------------------------------------------------------------------------------

test("registry: every modifier of the specification is registered, with a role and a summary", () => {
  for (const name of SPEC_MODIFIERS) {
    const definition = MODIFIERS.get(name);
    assert.ok(definition, `modifier '${name}' is not registered`);
    assert.equal(definition.name, name);
    assert.ok(definition.summary.length > 0, `modifier '${name}' has no summary`);
  }
});

test(
  "registry: the modifiers named by sigma-appendix-modifiers.md are the hard list, and all registered",
  { skip: APPENDIX === undefined || !existsSync(APPENDIX) ? "sigma-specification checkout is absent" : false },
  () => {
    const text = readFileSync(APPENDIX ?? "", "utf8");
    // Bullet lines like "- `contains`: Puts..." and "  - `i`: (insensitive)..." name the modifiers.
    const named = new Set([...text.matchAll(/^\s*- `([a-z0-9]+)`:/gm)].map((m) => m[1] ?? ""));
    assert.ok(named.size >= 30, `parsed only ${named.size} modifier names from the appendix`);
    assert.deepEqual([...named].sort(), [...SPEC_MODIFIERS].sort());
    for (const name of named) assert.ok(MODIFIERS.has(name), `the appendix names '${name}', which is not registered`);
  },
);

// --- default string matching ---------------------------------------------------------------------------------

test("plain values: equality, case-insensitive by default (spec: 'All values are treated as case-insensitive strings')", () => {
  const m = selection({ Image: "C:\\Windows\\System32\\CMD.EXE" });
  assert.equal(m({ Image: "c:\\windows\\system32\\cmd.exe" }), true);
  assert.equal(m({ Image: "C:\\Windows\\System32\\cmd.exe" }), true);
  assert.equal(m({ Image: "C:\\Windows\\System32\\cmd.exe.bak" }), false, "equality, not a prefix");
  assert.equal(m({ Image: "D:\\C:\\Windows\\System32\\cmd.exe" }), false, "equality, not a suffix");
  assert.equal(m({ OtherField: "C:\\Windows\\System32\\cmd.exe" }), false, "the field must be present");
  const unicode = selection({ Description: "ÉTÉ" });
  assert.equal(unicode({ Description: "été" }), true);
  assert.equal(unicode({ Description: "ete" }), false);
});

test("wildcards: `?` is one mandatory character, `*` any run (spec: prog?.exe, antivirus_V*.exe)", () => {
  const q = selection({ Image: "prog?.exe" });
  assert.equal(q({ Image: "progA.exe" }), true);
  assert.equal(q({ Image: "progb.EXE" }), true);
  assert.equal(q({ Image: "prog.exe" }), false, "? is mandatory");
  assert.equal(q({ Image: "progAB.exe" }), false, "? is exactly one character");
  const star = selection({ Image: "antivirus_V*.exe" });
  assert.equal(star({ Image: "antivirus_V1.exe" }), true);
  assert.equal(star({ Image: "antivirus_V21.2.1.exe" }), true);
  assert.equal(star({ Image: "antivirus_V.exe" }), true, "* may be empty");
  assert.equal(star({ Image: "antivirus_V1.dll" }), false);
  const inner = selection({ CommandLine: "*a*b*c*" });
  assert.equal(inner({ CommandLine: "xxAxxBxxCxx" }), true);
  assert.equal(inner({ CommandLine: "c b a" }), false, "* keeps the order of the literals");
  const overlapping = selection({ CommandLine: "ab*ba" });
  assert.equal(overlapping({ CommandLine: "aba" }), false, "prefix and suffix must not overlap");
  assert.equal(overlapping({ CommandLine: "abba" }), true);
});

test("escaping: exactly the cases listed in the specification's 'Escape Character' section", () => {
  // "Plain backslash not followed by a wildcard can be expressed as single `\` or double backslash `\\`."
  for (const written of [String.raw`C:\Windows\System32\x.exe`, String.raw`C:\\Windows\\System32\\x.exe`]) {
    assert.equal(selection({ Image: written })({ Image: String.raw`C:\Windows\System32\x.exe` }), true, written);
  }
  // "A wildcard has to be escaped to be handled as a plain character. eg: `\*`, `\?`."
  const star = selection({ CommandLine: String.raw`a\*b` });
  assert.equal(star({ CommandLine: "a*b" }), true);
  assert.equal(star({ CommandLine: "axb" }), false);
  assert.equal(star({ CommandLine: "ab" }), false);
  const qmark = selection({ CommandLine: String.raw`a\?b` });
  assert.equal(qmark({ CommandLine: "a?b" }), true);
  assert.equal(qmark({ CommandLine: "axb" }), false);
  // "The backslash before a wildcard has to be escaped to handle the value as a backslash followed by a
  // wildcard: `\\*`."
  const slashWildcard = selection({ Image: String.raw`C:\Temp\\*` });
  assert.equal(slashWildcard({ Image: String.raw`C:\Temp\evil.exe` }), true);
  assert.equal(slashWildcard({ Image: String.raw`C:\Temp\*` }), true);
  assert.equal(slashWildcard({ Image: String.raw`C:\Tempevil.exe` }), false);
  // "Three backslashes are necessary to escape both, the backslash and the wildcard and handle them as plain
  // values: `\\\*`."
  const slashStar = selection({ Image: String.raw`C:\Temp\\\*` });
  assert.equal(slashStar({ Image: String.raw`C:\Temp\*` }), true);
  assert.equal(slashStar({ Image: String.raw`C:\Temp\evil.exe` }), false);
  // "Three or four backslashes are handled as double backslash. Four is recommended for consistency reasons:
  // `\\\\` results in the plain value `\\`."
  for (const written of [String.raw`\\\\server\share`, String.raw`\\\server\share`]) {
    const unc = selection({ Path: written });
    assert.equal(unc({ Path: String.raw`\\server\share` }), true, written);
    assert.equal(unc({ Path: String.raw`\server\share` }), false, written);
  }
});

test("null: `Field: null` matches an absent or null field, not a value (spec: Special Field Values)", () => {
  // The specification's own example: selection and not filter, with `PasswordLastSet: null` as the filter.
  const m = matcher({
    selection: { EventID: 4738 },
    filter: { PasswordLastSet: null },
    condition: "selection and not filter",
  });
  assert.equal(m({ EventID: 4738, PasswordLastSet: "2024-01-01" }), true);
  assert.equal(m({ EventID: 4738, PasswordLastSet: null }), false);
  assert.equal(m({ EventID: 4738 }), false);
  const empty = selection({ FieldB: "" });
  assert.equal(empty({ FieldB: "" }), true, "an empty value is defined with ''");
  assert.equal(empty({ FieldB: "x" }), false);
  assert.equal(empty({}), false, "'' needs the field");
  assert.ok(
    diagnosticCodes({ selection: { FieldB: ["", null] }, condition: "selection" }).includes("R3_RULE_NULL_IN_LIST"),
    "null cannot be part of a list of field values",
  );
});

test("keyword lists: ORed, searched anywhere in the event; '|all': keywords are ANDed", () => {
  // Spec: "Matches on 'EvilService' or 'svchost.exe -n evil'".
  const m = matcher({ keywords: ["EVILSERVICE", "svchost.exe -n evil"], condition: "keywords" });
  assert.equal(m({ Message: "The EvilService service was installed" }), true);
  assert.equal(m({ CommandLine: "C:\\Windows\\svchost.exe -n evil -p" }), true);
  assert.equal(m({ Message: "nothing to see" }), false);
  assert.equal(m({ Count: 7, Message: "svchost.exe -n good" }), false);
  // Spec: '|all': OabVirtualDirectory and " -ExternalUrl ".
  const all = matcher({
    keywords_cmdlet: { "|all": ["OabVirtualDirectory", " -ExternalUrl "] },
    condition: "keywords_cmdlet",
  });
  assert.equal(all({ Payload: "Set-OabVirtualDirectory -ExternalUrl http://x" }), true);
  assert.equal(all({ A: "Set-OabVirtualDirectory", B: "x -ExternalUrl y" }), true, "across fields");
  assert.equal(all({ Payload: "Set-OabVirtualDirectory -InternalUrl http://x" }), false);
  const single = matcher({ keywords: "mimikatz", condition: "keywords" });
  assert.equal(single({ Numbers: [1, 2], Tool: "Invoke-Mimikatz.ps1" }), true);
  assert.equal(single({ Tool: "mimi" }), false);
});

test("field names are case-insensitive; values of multi-valued (array) fields match one by one", () => {
  const m = selection({ commandline: "whoami" });
  assert.equal(m({ CommandLine: "WHOAMI" }), true);
  assert.equal(selection({ CommandLine: "whoami" })({ COMMANDLINE: "whoami" }), true);
  const list = selection({ Tags: "evil" });
  assert.equal(list({ Tags: ["good", "EVIL", "other"] }), true);
  assert.equal(list({ Tags: ["good", "evilish"] }), false);
  assert.equal(list({ Tags: [] }), false);
  const all = selection({ "Tags|contains|all": ["a1", "b2"] });
  assert.equal(all({ Tags: ["xa1", "yb2"] }), true, "each value may match a different element");
  assert.equal(all({ Tags: ["xa1", "y"] }), false);
});

test("numbers and strings: a YAML number compares with numeric and string field values in its spelling", () => {
  const m = selection({ EventID: [517, 1102] });
  assert.equal(m({ EventID: 517 }), true);
  assert.equal(m({ EventID: "1102" }), true);
  assert.equal(m({ EventID: 5170 }), false);
  const quoted = selection({ EventID: "4688" });
  assert.equal(quoted({ EventID: 4688 }), true);
  assert.equal(quoted({ EventID: 4689 }), false);
  // Spec example: TicketOptions '0x40810000' is a string, compared as written.
  const hex = selection({ TicketOptions: "0x40810000" });
  assert.equal(hex({ TicketOptions: "0x40810000" }), true);
  assert.equal(hex({ TicketOptions: "0x40810001" }), false);
  const bool = selection({ Enabled: true });
  assert.equal(bool({ Enabled: true }), true);
  assert.equal(bool({ Enabled: "True" }), true);
  assert.equal(bool({ Enabled: false }), false);
});

// --- generic modifiers ---------------------------------------------------------------------------------------

test("contains / startswith / endswith", () => {
  const contains = selection({ "CommandLine|contains": "-EncodedCommand" });
  assert.equal(contains({ CommandLine: "powershell.exe -encodedcommand ZQBj" }), true);
  assert.equal(contains({ CommandLine: "powershell.exe -enc ZQBj" }), false);
  const starts = selection({ "User|startswith": "adm_" });
  assert.equal(starts({ User: "ADM_bob" }), true);
  assert.equal(starts({ User: "x_adm_bob" }), false);
  const ends = selection({ "Image|endswith": "\\cmd.exe" });
  assert.equal(ends({ Image: "C:\\Windows\\System32\\cmd.exe" }), true);
  assert.equal(ends({ Image: "C:\\Windows\\System32\\xcmd.exe" }), false);
  assert.equal(ends({ Image: "C:\\Windows\\System32\\cmd.exe.mui" }), false);
  const list = selection({ "Image|endswith": ["\\find.exe", "\\findstr.exe"] });
  assert.equal(list({ Image: "C:\\Windows\\findstr.exe" }), true, "values of a list are ORed");
  assert.equal(list({ Image: "C:\\Windows\\where.exe" }), false);
});

test("all: values of the list are ANDed; on a single value it is reported", () => {
  const m = selection({ "CommandLine|contains|all": [" -a ", " -b "] });
  assert.equal(m({ CommandLine: "tool -b -a x" }), true, "order does not matter");
  assert.equal(m({ CommandLine: "tool -a x" }), false);
  // Spec: "Single item values are not allowed to have an `all` modifier".
  assert.ok(
    diagnosticCodes({ selection: { "CommandLine|contains|all": "x" }, condition: "selection" }).includes(
      "R3_MODIFIER_ALL_SINGLE",
    ),
  );
});

test("exists: presence of the field, whatever its value (spec: 'be it empty or null')", () => {
  const present = matcher({ selection: { EventID: 4738, "PasswordLastSet|exists": true }, condition: "selection" });
  assert.equal(present({ EventID: 4738, PasswordLastSet: "x" }), true);
  assert.equal(present({ EventID: 4738, PasswordLastSet: "" }), true);
  assert.equal(present({ EventID: 4738, PasswordLastSet: null }), true);
  assert.equal(present({ EventID: 4738 }), false);
  const absent = selection({ "PasswordLastSet|exists": false });
  assert.equal(absent({ EventID: 4738 }), true);
  assert.equal(absent({ PasswordLastSet: null }), false);
  assert.ok(
    diagnosticCodes({ selection: { "F|exists": "yes" }, condition: "selection" }).includes("R3_MODIFIER_BAD_VALUE"),
  );
});

test("cased: case-sensitive comparison", () => {
  const m = selection({ "CommandLine|cased|contains": "FromBase64String" });
  assert.equal(m({ CommandLine: "[Convert]::FromBase64String($x)" }), true);
  assert.equal(m({ CommandLine: "[Convert]::frombase64string($x)" }), false);
  const eq = selection({ "User|cased": "Admin" });
  assert.equal(eq({ User: "Admin" }), true);
  assert.equal(eq({ User: "admin" }), false);
});

test("neq: the field differs from every value", () => {
  const m = selection({ "User|neq": "SYSTEM" });
  assert.equal(m({ User: "bob" }), true);
  assert.equal(m({ User: "system" }), false, "case-insensitive like every comparison");
  const list = selection({ "User|neq": ["SYSTEM", "LOCAL SERVICE"] });
  assert.equal(list({ User: "bob" }), true);
  assert.equal(list({ User: "local service" }), false);
  const numeric = selection({ "EventID|neq": 4688 });
  assert.equal(numeric({ EventID: 4689 }), true);
  assert.equal(numeric({ EventID: 4688 }), false);
  assert.equal(numeric({ EventID: "4688" }), false);
});

// --- string modifiers ----------------------------------------------------------------------------------------

test("windash: every permutation of -, /, – (en dash), — (em dash) and ― (horizontal bar)", () => {
  const m = selection({ "CommandLine|windash|contains": " -exec bypass" });
  for (const dash of ["-", "/", "\u2013", "\u2014", "\u2015"]) {
    assert.equal(m({ CommandLine: `powershell.exe ${dash}exec bypass -nop` }), true, `dash ${dash}`);
  }
  assert.equal(m({ CommandLine: "powershell.exe +exec bypass" }), false);
  assert.equal(m({ CommandLine: "powershell.exe exec bypass" }), false);
  // "converts the aforementioned characters interchangeably": a rule may itself be written with any of them.
  const enDash = selection({ "CommandLine|windash|contains": " \u2013exec bypass" });
  assert.equal(enDash({ CommandLine: "powershell.exe -exec bypass" }), true);
  assert.equal(enDash({ CommandLine: "powershell.exe /exec bypass" }), true);
  // Only a dash that starts a flag: `Set-Item` stays as written.
  const inWord = selection({ "CommandLine|windash|contains": "Set-Item" });
  assert.equal(inWord({ CommandLine: "Set-Item x" }), true);
  assert.equal(inWord({ CommandLine: "Set/Item x" }), false);
  const two = selection({ "CommandLine|windash|contains|all": [" -s ", " -u "] });
  assert.equal(two({ CommandLine: "x /s \u2013u " }), true);
  assert.equal(two({ CommandLine: "x /s " }), false);
});

test("re: case-sensitive search by default; i, m and s flags", () => {
  const m = selection({ "CommandLine|re": "-[eE]nc(odedcommand)? [A-Za-z0-9+/=]{8,}" });
  assert.equal(m({ CommandLine: "powershell -enc SQBFAFgAIAAo" }), true, "unanchored search");
  assert.equal(m({ CommandLine: "powershell -ENC SQBFAFgAIAAo" }), false, "case-sensitive by default");
  assert.equal(m({ CommandLine: "powershell -enc short" }), false);
  const i = selection({ "CommandLine|re|i": "^powershell" });
  assert.equal(i({ CommandLine: "PowerShell -nop" }), true);
  assert.equal(i({ CommandLine: "x PowerShell -nop" }), false);
  const withoutM = selection({ "Script|re": "^evil$" });
  assert.equal(withoutM({ Script: "a\nevil\nb" }), false, "without m, ^/$ are the text's ends");
  const multi = selection({ "Script|re|m": "^evil$" });
  assert.equal(multi({ Script: "a\nevil\nb" }), true);
  assert.equal(multi({ Script: "a\nevil2\nb" }), false);
  const withoutS = selection({ "Script|re": "begin.end" });
  assert.equal(withoutS({ Script: "begin\nend" }), false, "without s, . does not match a newline");
  const single = selection({ "Script|re|s": "begin.end" });
  assert.equal(single({ Script: "begin\nend" }), true);
  assert.equal(single({ Script: "beginend" }), false);
  assert.ok(
    diagnosticCodes({ selection: { "Script|i": "x" }, condition: "selection" }).includes("R3_MODIFIER_CONFLICT"),
    "i/m/s only after re",
  );
});

test("re: a search listing one-regex maps on a field holds when any of them does, each with its own flags", () => {
  const m = matcher({
    selection: [
      { "CommandLine|re": "https?://0[0-9]{3,11}" },
      { "CommandLine|re|i": "^POWERSHELL " },
      { "CommandLine|re": " [0-7]{7,13}" },
      { "Image|re": "evil" },
    ],
    condition: "selection",
  });
  assert.equal(m({ CommandLine: "curl http://0123456 -o x" }), true);
  assert.equal(m({ CommandLine: "powershell -nop" }), true, "the i flag of its own alternative");
  assert.equal(m({ CommandLine: "ping 01234567" }), true);
  assert.equal(m({ CommandLine: "x", Image: "C:\\evil.exe" }), true, "another field's alternative");
  assert.equal(m({ CommandLine: "HTTP://0123456" }), false, "the i flag does not reach the other alternatives");
  assert.equal(m({ CommandLine: "curl http://10.0.0.1 -o x" }), false);
  assert.equal(m({ CommandLine: "x powershell -nop" }), false);
});

test("re: a pattern the linear-time engine cannot run is refused with file:line:col", () => {
  const text = [
    "title: Backreference",
    "id: 8a4f4a86-4c55-4b30-9d0e-4f5e0b7c0a01",
    "logsource:",
    "    product: windows",
    "    category: process_creation",
    "detection:",
    "    selection:",
    "        CommandLine|re: '(a)\\1'",
    "    lookahead:",
    "        CommandLine|re: 'cmd(?=\\.exe)'",
    "    condition: selection or lookahead",
    "",
  ].join("\n");
  const result = loadRules([{ path: "rules/bad_regex.yml", text }]);
  const bad = result.diagnostics.filter((d) => d.code === "R3_MODIFIER_BAD_REGEX");
  assert.deepEqual(
    bad.map((d) => formatDiagnostic(d).split(": ")[0]),
    ["rules/bad_regex.yml:8:25", "rules/bad_regex.yml:10:25"],
  );
  assert.equal(result.rules.length, 0);
});

test("re: linear time — (a+)+$ against 50,000 'a' and a 'b' completes", () => {
  const m = selection({ "CommandLine|re": "(a+)+$" });
  const hostile = `${"a".repeat(50_000)}b`;
  assert.equal(m({ CommandLine: hostile }), false);
  assert.equal(m({ CommandLine: "a".repeat(50_000) }), true);
  // The same shape as a glob: many stars and question marks against a long input.
  const glob = selection({ CommandLine: "*a*a?a*a*a?a*b" });
  assert.equal(glob({ CommandLine: "a".repeat(50_000) }), false);
});

// --- encodings -----------------------------------------------------------------------------------------------

test("base64: the value appears base64-encoded", () => {
  const m = selection({ "CommandLine|base64": "cmd" });
  assert.equal(m({ CommandLine: Buffer.from("cmd").toString("base64") }), true);
  assert.equal(m({ CommandLine: "cmd" }), false);
  const contains = selection({ "CommandLine|base64|contains": "http://" });
  assert.equal(contains({ CommandLine: `echo ${Buffer.from("http://").toString("base64")} | base64 -d` }), true);
  assert.ok(
    diagnosticCodes({ selection: { "CommandLine|contains|base64": "x" }, condition: "selection" }).includes(
      "R3_MODIFIER_BAD_VALUE",
    ),
    "wildcards cannot be encoded: contains must come after base64",
  );
});

test("base64offset: the three shifted encodings of /bin/bash", () => {
  const m = selection({ "CommandLine|base64offset|contains": "/bin/bash" });
  // pySigma's and SigmaHQ's documented variants for /bin/bash.
  for (const variant of ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]) {
    assert.equal(m({ CommandLine: `echo x${variant}y | base64 -d | sh` }), true, variant);
  }
  for (let shift = 0; shift < 3; shift += 1) {
    const encoded = Buffer.from(`${"x".repeat(shift)}/bin/bash -i`).toString("base64");
    assert.equal(m({ CommandLine: encoded }), true, `shift ${shift}`);
  }
  assert.equal(m({ CommandLine: Buffer.from("/bin/sh -i").toString("base64") }), false);
});

test("utf16le / utf16be / utf16 / wide: the appendix's byte sequences for `cmd`", () => {
  const cases = [
    ["utf16le", "63 00 6d 00 64 00"],
    ["wide", "63 00 6d 00 64 00"],
    ["utf16be", "00 63 00 6d 00 64"],
    ["utf16", "FF FE 63 00 6d 00 64 00"],
  ] as const;
  for (const [modifier, bytes] of cases) {
    const m = selection({ [`Payload|${modifier}|base64`]: "cmd" });
    assert.equal(m({ Payload: base64OfHex(bytes) }), true, `${modifier}: cmd > ${bytes}`);
    assert.equal(m({ Payload: Buffer.from("cmd").toString("base64") }), false, `${modifier} is not utf-8`);
  }
  const raw = selection({ "Payload|utf16le|contains": "cmd" });
  assert.equal(raw({ Payload: "xx c\u0000m\u0000d\u0000 yy" }), true);
  assert.equal(raw({ Payload: "cmd" }), false);
  // SigmaHQ's usual chain: a UTF-16LE PowerShell payload found inside a longer base64 string.
  const chain = selection({ "CommandLine|wide|base64offset|contains": "IEX (" });
  const payload = Buffer.from("$a=1; IEX (New-Object Net.WebClient)", "utf16le").toString("base64");
  assert.equal(chain({ CommandLine: `powershell -enc ${payload}` }), true);
});

// --- numeric and time ----------------------------------------------------------------------------------------

test("lt / lte / gt / gte compare numbers, also numeric strings", () => {
  const lt = selection({ "Size|lt": 100 });
  assert.equal(lt({ Size: 99 }), true);
  assert.equal(lt({ Size: "99" }), true);
  assert.equal(lt({ Size: 100 }), false);
  const lte = selection({ "Size|lte": 100 });
  assert.equal(lte({ Size: 100 }), true);
  assert.equal(lte({ Size: 101 }), false);
  const gt = selection({ "Size|gt": 100 });
  assert.equal(gt({ Size: "101" }), true);
  assert.equal(gt({ Size: 100 }), false);
  const gte = selection({ "Size|gte": 100 });
  assert.equal(gte({ Size: 100 }), true);
  assert.equal(gte({ Size: 99.5 }), false);
  assert.equal(gte({ Size: "large" }), false, "not a number");
  assert.equal(gte({}), false);
  assert.ok(
    diagnosticCodes({ selection: { "Size|gt": "big" }, condition: "selection" }).includes("R3_MODIFIER_BAD_VALUE"),
  );
});

test("minute / hour / day / week / month / year extract a number from a date", () => {
  const iso = "2024-03-15T13:45:30Z";
  const sysmon = "2024-03-15 13:45:30.123";
  const cases = [
    ["minute", 45],
    ["hour", 13],
    ["day", 15],
    ["week", 11],
    ["month", 3],
    ["year", 2024],
  ] as const;
  for (const [modifier, value] of cases) {
    const m = selection({ [`UtcTime|${modifier}`]: value });
    assert.equal(m({ UtcTime: iso }), true, `${modifier} of ${iso}`);
    assert.equal(m({ UtcTime: sysmon }), true, `${modifier} of ${sysmon}`);
    assert.equal(m({ UtcTime: "2023-01-02T00:00:00Z" }), false, `${modifier} of another date`);
    assert.equal(m({ UtcTime: "not a date" }), false);
  }
  const night = selection({ "UtcTime|hour|gte": 20 });
  assert.equal(night({ UtcTime: "2024-03-15T22:10:00Z" }), true);
  assert.equal(night({ UtcTime: "2024-03-15T19:59:59Z" }), false);
});

// --- IP ------------------------------------------------------------------------------------------------------

test("cidr: IPv4 (spec: `DestinationIp|cidr: 10.0.0.0/8`) and IPv6", () => {
  const v4 = selection({ "DestinationIp|cidr": "10.0.0.0/8" });
  assert.equal(v4({ DestinationIp: "10.1.2.3" }), true);
  assert.equal(v4({ DestinationIp: "10.255.255.255" }), true);
  assert.equal(v4({ DestinationIp: "11.0.0.1" }), false);
  assert.equal(v4({ DestinationIp: "::ffff:10.0.0.1" }), true, "an IPv4-mapped IPv6 address");
  assert.equal(v4({ DestinationIp: "not an address" }), false);
  const list = selection({ "DestinationIp|cidr": ["192.168.0.0/16", "172.16.0.0/12"] });
  assert.equal(list({ DestinationIp: "172.31.0.1" }), true);
  assert.equal(list({ DestinationIp: "172.32.0.1" }), false);
  const v6 = selection({ "DestinationIp|cidr": "fe80::/10" });
  assert.equal(v6({ DestinationIp: "fe80::1" }), true);
  assert.equal(v6({ DestinationIp: "FEBF:0:0:0:0:0:0:1" }), true);
  assert.equal(v6({ DestinationIp: "fec0::1" }), false);
  assert.equal(v6({ DestinationIp: "10.0.0.1" }), false);
  assert.ok(
    diagnosticCodes({ selection: { "DestinationIp|cidr": "10.0.0.0/33" }, condition: "selection" }).includes(
      "R3_MODIFIER_BAD_CIDR",
    ),
  );
});

// --- specific ------------------------------------------------------------------------------------------------

test("expand: placeholders take their configured values; only with expand; \\% is a plain percent", () => {
  const placeholders = { Administrators: ["adm_*", "root"], name: ["X"] };
  const m = selection({ "User|expand": "%Administrators%" }, { placeholders });
  assert.equal(m({ User: "ADM_bob" }), true);
  assert.equal(m({ User: "root" }), true);
  assert.equal(m({ User: "bob" }), false);
  assert.equal(m({ User: "%Administrators%" }), false);
  // Spec: "`field: %name%` handles `%name%` as literal value".
  const literal = selection({ User: "%Administrators%" }, { placeholders });
  assert.equal(literal({ User: "%Administrators%" }), true);
  assert.equal(literal({ User: "root" }), false);
  // Spec: "`field|expand: \%plain%name%` handles `%plain` as plain value and `%name%` as placeholder".
  const escaped = selection({ "Field|expand": String.raw`\%plain%name%` }, { placeholders });
  assert.equal(escaped({ Field: "%plainX" }), true);
  assert.equal(escaped({ Field: "%plain%name%" }), false);
});

test("expand: an unknown placeholder rejects the rule (spec: 'it must reject the rule')", () => {
  const result = load({ selection: { "User|expand": "%JumpServers%" }, condition: "selection" }, { placeholders: {} });
  assert.equal(result.rules.length, 0);
  const d = result.diagnostics.find((x) => x.code === "R3_MODIFIER_PLACEHOLDER_UNDEFINED");
  assert.ok(d, "R3_MODIFIER_PLACEHOLDER_UNDEFINED");
  assert.match(d.message, /JumpServers/);
  assert.equal(d.line, 4, "the value's line");
});

test("fieldref: compares with another field of the same event; with neq, differs from it", () => {
  const m = selection({ "TargetUserName|fieldref": "SubjectUserName" });
  assert.equal(m({ TargetUserName: "Bob", SubjectUserName: "bob" }), true);
  assert.equal(m({ TargetUserName: "bob", SubjectUserName: "alice" }), false);
  assert.equal(m({ TargetUserName: "bob" }), false, "the referenced field must exist");
  const neq = selection({ "TargetUserName|fieldref|neq": "SubjectUserName" });
  assert.equal(neq({ TargetUserName: "bob", SubjectUserName: "alice" }), true);
  assert.equal(neq({ TargetUserName: "bob", SubjectUserName: "BOB" }), false);
  // Lower-casing gives U+0130 (İ) two UTF-16 units: values of different lengths can still be equal.
  assert.equal(m({ TargetUserName: "\u0130smail", SubjectUserName: "i\u0307smail" }), true);
  assert.equal(m({ TargetUserName: "\u0130smail", SubjectUserName: "ismail" }), false);
  assert.equal(m({ TargetUserName: "bob", SubjectUserName: "bobby" }), false);
  assert.equal(m({ TargetUserName: "\u00c9mile", SubjectUserName: "\u00e9MILE" }), true);
  assert.equal(m({ TargetUserName: ["alice", "Bob"], SubjectUserName: "bob" }), true, "any value of a list");
  const cased = selection({ "TargetUserName|fieldref|cased": "SubjectUserName" });
  assert.equal(cased({ TargetUserName: "Bob", SubjectUserName: "bob" }), false);
  assert.equal(cased({ TargetUserName: "bob", SubjectUserName: "bob" }), true);
  const ends = selection({ "Image|fieldref|endswith": "OriginalFileName" });
  assert.equal(ends({ Image: "C:\\x\\cmd.exe", OriginalFileName: "Cmd.Exe" }), true);
  assert.equal(ends({ Image: "C:\\x\\evil.exe", OriginalFileName: "Cmd.Exe" }), false);
});

test("an unknown modifier is R3_MODIFIER_UNKNOWN and the rule is not loaded", () => {
  const result = load({ selection: { "CommandLine|contans": "x" }, condition: "selection" });
  assert.equal(result.rules.length, 0);
  const d = result.diagnostics.find((x) => x.code === "R3_MODIFIER_UNKNOWN");
  assert.ok(d);
  assert.match(d.message, /contans/);
  assert.ok(
    diagnosticCodes({ selection: { "F|re|cidr": "x" }, condition: "selection" }).includes("R3_MODIFIER_CONFLICT"),
  );
});
