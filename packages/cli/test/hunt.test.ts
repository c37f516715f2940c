import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { REPO_ROOT, SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { runCli } from "./cli-harness.ts";

const shared = sharedDataDir();
const sigma = (path: string): string => join(shared ?? "", "sigma", path);
const subset = (path: string): string => join(shared ?? "", "evtx-samples", "evtx-attack-samples-subset", path);
const tmp = mkdtempSync(join(tmpdir(), "ring3-hunt-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const BITSADMIN = "rules/windows/process_creation/proc_creation_win_bitsadmin_download";
const BITSADMIN_SAMPLE = `regression_data/${BITSADMIN}/d059842b-6b9d-4ed1-b5c3-5b89143c6ede`;
const RECON = subset("Discovery/dicovery_4661_net_group_domain_admins_target.evtx");
const SECURITY_RULES = sigma("rules/windows/builtin/security");

type Row = {
  kind: string;
  time: string;
  level: string;
  ruleId: string;
  title: string;
  author: string | null;
  techniques: string[];
  tactics: string[];
  source: { file: string; record: number | null; line: number | null };
  matched: Record<string, string[]>;
  event: { id: string; time: string; host: string; logsource: Record<string, string>; fields: Record<string, unknown> };
  explanation: { condition: string; selections: { name: string; fields: { field: string }[] }[] };
};

function rows(stdout: string): Row[] {
  return stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Row);
}

test("a SigmaHQ regression sample fires its rule among all the windows rules", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const r = await runCli([
    "hunt",
    "--format",
    "jsonl",
    "--rules",
    sigma("rules/windows"),
    sigma(`${BITSADMIN_SAMPLE}.evtx`),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const hit = rows(r.stdout).find((d) => d.ruleId === "d059842b-6b9d-4ed1-b5c3-5b89143c6ede");
  assert.ok(hit, `File Download Via Bitsadmin did not fire:\n${r.stdout}`);
  assert.equal(hit.title, "File Download Via Bitsadmin");
  assert.equal(hit.author, "Michael Haag, FPT.EagleEye");
  assert.match(r.stderr, /^Summary$/m);
});

test("jsonl: every detection carries rule, author, ATT&CK, event, matched fields and explanation, in a fixed order", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const r = await runCli(["hunt", "--format", "jsonl", "--rules", SECURITY_RULES, RECON]);
  assert.equal(r.code, 0, r.stderr);
  const all = rows(r.stdout);
  assert.ok(all.length >= 10);
  const keys = Object.keys(all[0]!);
  assert.deepEqual(keys, [
    "kind",
    "time",
    "host",
    "level",
    "ruleId",
    "title",
    "author",
    "status",
    "ruleFile",
    "tags",
    "techniques",
    "tactics",
    "source",
    "matched",
    "event",
    "explanation",
    "correlation",
  ]);
  for (const d of all) {
    assert.deepEqual(Object.keys(d), keys);
    assert.deepEqual(Object.keys(d.event), ["id", "time", "host", "logsource", "fields"]);
    assert.equal(d.source.file, RECON);
    assert.equal(typeof d.source.record, "number");
    assert.ok(d.author !== null && d.author !== "");
    // Every matched field of the explanation is listed, with the event's value.
    const explained = d.explanation.selections.flatMap((s) => s.fields.map((f) => f.field));
    assert.deepEqual(Object.keys(d.matched).sort(), [...new Set(explained)].sort());
  }
  const recon = all.find((d) => d.title === "AD Privileged Users or Groups Reconnaissance");
  assert.ok(recon);
  assert.deepEqual(recon.techniques, ["T1087.002"]);
  assert.deepEqual(recon.tactics, ["discovery"]);
  assert.equal(recon.event.logsource["service"], "security");
  assert.deepEqual(recon.matched["EventID"], ["4661"]);
  // Timeline order.
  const times = all.map((d) => Date.parse(d.time));
  assert.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
  );
  // The same run gives the same bytes.
  const again = await runCli(["hunt", "--format", "jsonl", "--rules", SECURITY_RULES, RECON]);
  assert.equal(again.stdout, r.stdout);
});

/** Minimal RFC 4180 reader, enough to check the shape of our own output. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      out.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  return out;
}

test("csv: a header, then one row per detection with the same columns", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const jsonl = rows((await runCli(["hunt", "--format", "jsonl", "--rules", SECURITY_RULES, RECON])).stdout);
  const r = await runCli(["hunt", "--format", "csv", "--rules", SECURITY_RULES, RECON]);
  assert.equal(r.code, 0, r.stderr);
  const [header, ...body] = parseCsv(r.stdout);
  assert.ok(header);
  for (const name of [
    "time",
    "host",
    "level",
    "rule_id",
    "title",
    "author",
    "tags",
    "techniques",
    "tactics",
    "matched",
  ]) {
    assert.ok(header.includes(name), name);
  }
  assert.equal(body.length, jsonl.length);
  const col = (name: string): number => header.indexOf(name);
  body.forEach((cells, i) => {
    assert.equal(cells.length, header.length);
    assert.equal(cells[col("rule_id")], jsonl[i]!.ruleId);
    assert.equal(cells[col("author")], jsonl[i]!.author);
    assert.deepEqual(JSON.parse(cells[col("matched")]!), jsonl[i]!.matched);
    assert.deepEqual(JSON.parse(cells[col("fields")]!), jsonl[i]!.event.fields);
  });
});

test("--min-level keeps that level and above, and the summary counts the rest", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const all = rows((await runCli(["hunt", "--format", "jsonl", "--rules", SECURITY_RULES, RECON])).stdout);
  const r = await runCli(["hunt", "--format", "jsonl", "--min-level", "high", "--rules", SECURITY_RULES, RECON]);
  assert.equal(r.code, 0, r.stderr);
  const high = rows(r.stdout);
  const expected = all.filter((d) => d.level === "high" || d.level === "critical");
  assert.ok(high.length > 0 && high.length < all.length);
  assert.deepEqual(high, expected);
  assert.match(r.stderr, new RegExp(`${all.length - high.length} more below --min-level high not shown`));
});

test("--since and --until keep events of the range, both ends included", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const all = rows((await runCli(["hunt", "--format", "jsonl", "--rules", SECURITY_RULES, RECON])).stdout);
  const times = [...new Set(all.map((d) => d.time))];
  assert.ok(times.length >= 3);
  const [since, until] = [times[1]!, times[times.length - 2]!];
  const r = await runCli([
    "hunt",
    "--format",
    "jsonl",
    "--since",
    since,
    "--until",
    until,
    "--rules",
    SECURITY_RULES,
    RECON,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const kept = rows(r.stdout);
  assert.deepEqual(
    kept,
    all.filter((d) => d.time >= since && d.time <= until),
  );
  assert.match(r.stderr, /\d+ outside --since\/--until/);
  // A date as --until is its whole day; one before every event leaves nothing.
  const day = await runCli(["hunt", "--format", "jsonl", "--until", "2019-03-17", "--rules", SECURITY_RULES, RECON]);
  assert.equal(day.stdout, "");
  const whole = await runCli([
    "hunt",
    "--format",
    "jsonl",
    "--since",
    "2019-03-18",
    "--until",
    "2019-03-18",
    "--rules",
    SECURITY_RULES,
    RECON,
  ]);
  assert.equal(rows(whole.stdout).length, all.length);
});

test("ring3 event JSONL is hunted as is; values of another shape are counted", async () => {
  const dir = join(tmp, "ring3-events");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "rule.yml"),
    [
      "title: Whoami Test",
      "id: 11111111-1111-4111-8111-111111111111",
      "author: ring3 tests",
      "level: high",
      "tags: [attack.discovery, attack.t1033]",
      "logsource: {product: windows, category: process_creation}",
      "detection:",
      "    selection:",
      "        Image|endswith: '\\whoami.exe'",
      "    condition: selection",
      "",
    ].join("\n"),
  );
  const event = (id: string, image: string) => ({
    id,
    time: "2024-05-01T10:00:00Z",
    host: "ws1",
    logsource: { product: "windows", category: "process_creation" },
    fields: { Image: image, CommandLine: `${image} /all` },
  });
  writeFileSync(
    join(dir, "events.jsonl"),
    [event("e1", "C:\\Windows\\System32\\whoami.exe"), event("e2", "C:\\Windows\\notepad.exe"), { hello: "world" }]
      .map((e) => JSON.stringify(e))
      .join("\n") + "\n",
  );
  const r = await runCli(["hunt", "--format", "jsonl", "--rules", join(dir, "rule.yml"), join(dir, "events.jsonl")]);
  assert.equal(r.code, 0, r.stderr);
  const [hit, ...rest] = rows(r.stdout);
  assert.deepEqual(rest, []);
  assert.equal(hit?.event.id, "e1");
  assert.equal(hit.source.line, 1);
  assert.deepEqual(hit.matched, { Image: ["C:\\Windows\\System32\\whoami.exe"] });
  assert.match(r.stderr, /Records +3 read, 2 hunted, 1 JSON value neither EVTX records nor events/);
  // ring3 events carry their logsource: none is an unmapped Windows channel.
  assert.match(r.stderr, /Unmapped +0/);
});

test("a correlation alert carries its window, group and the events behind it", async () => {
  const dir = join(tmp, "correlation");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "rules.yml"),
    [
      "title: Whoami",
      "id: 22222222-2222-4222-8222-222222222222",
      "name: whoami",
      "logsource: {product: windows, category: process_creation}",
      "detection: {selection: {Image|endswith: '\\whoami.exe'}, condition: selection}",
      "---",
      "title: Whoami Twice",
      "id: 33333333-3333-4333-8333-333333333333",
      "author: ring3 tests",
      "level: critical",
      "tags: [attack.t1033]",
      "correlation: {type: event_count, rules: [whoami], group-by: [User], timespan: 10m, condition: {gte: 2}}",
      "",
    ].join("\n"),
  );
  const event = (minute: number, user: string) =>
    JSON.stringify({
      id: `e${minute}`,
      time: `2024-05-01T10:0${minute}:00Z`,
      host: "ws1",
      logsource: { product: "windows", category: "process_creation" },
      fields: { Image: "C:\\Windows\\System32\\whoami.exe", User: user },
    });
  writeFileSync(join(dir, "events.jsonl"), [event(1, "alice"), event(2, "bob"), event(3, "alice")].join("\n"));
  const r = await runCli(["hunt", "--format", "jsonl", "--rules", join(dir, "rules.yml"), join(dir, "events.jsonl")]);
  assert.equal(r.code, 0, r.stderr);
  const [alert, ...rest] = rows(r.stdout) as (Row & { correlation: Record<string, unknown> })[];
  assert.deepEqual(rest, []);
  assert.equal(alert?.kind, "correlation");
  assert.equal(alert.ruleId, "33333333-3333-4333-8333-333333333333");
  assert.equal(alert.level, "critical");
  assert.equal(alert.author, "ring3 tests");
  // Technique-only tags: the tactic comes from ATT&CK when the catalog is at hand.
  if (shared !== undefined) assert.deepEqual(alert.tactics, ["discovery"]);
  assert.equal(alert.time, "2024-05-01T10:03:00Z");
  assert.equal(alert.event.id, "e3");
  assert.equal(alert.source.line, 3);
  assert.deepEqual(alert.correlation["group"], { User: "alice" });
  assert.deepEqual(alert.correlation["events"], ["e1", "e3"]);
});

test("evtx_dump JSON (objects one after another) is hunted like the EVTX file", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const rule = "rules/windows/file/file_event/file_event_win_hktl_netexec_file_indicators";
  const sample = sigma(`regression_data/${rule}/efc21479-9e83-41da-8cf1-122e06ba8db3`);
  const fromJson = await runCli(["hunt", "--format", "jsonl", "--rules", sigma(`${rule}.yml`), `${sample}.json`]);
  const fromEvtx = await runCli(["hunt", "--format", "jsonl", "--rules", sigma(`${rule}.yml`), `${sample}.evtx`]);
  assert.equal(fromJson.code, 0, fromJson.stderr);
  const json = rows(fromJson.stdout);
  // info.yml: match_count 7.
  assert.equal(json.length, 7);
  assert.ok(json.every((d) => d.source.line !== null && d.source.record !== null));
  const evtx = rows(fromEvtx.stdout);
  assert.deepEqual(
    json.map((d) => [d.time, d.ruleId, d.event.fields]),
    evtx.map((d) => [d.time, d.ruleId, d.event.fields]),
  );
});

test("an unreadable path is reported, the others are still hunted, and the exit code is 3", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const missing = join(tmp, "no-such-file.evtx");
  const r = await runCli(["hunt", "--format", "jsonl", "--rules", SECURITY_RULES, missing, RECON]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, new RegExp(`cannot read ${missing.replace(/[\\.]/g, "\\$&")}: ENOENT`));
  assert.ok(rows(r.stdout).length > 0);
  assert.match(r.stderr, /1 unreadable/);
});

test("a named file that is neither EVTX nor JSON is an input error; in a directory it is skipped and counted", async () => {
  const dir = join(tmp, "not-logs");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "README.md"), "# notes\n");
  writeFileSync(
    join(dir, "rule.yml"),
    "title: t\nlogsource: {product: windows}\ndetection: {s: {EventID: 1}, condition: s}\n",
  );
  const named = await runCli(["hunt", "--format", "jsonl", "--rules", join(dir, "rule.yml"), join(dir, "README.md")]);
  assert.equal(named.code, 3);
  assert.match(named.stderr, /README\.md: neither an EVTX file nor JSON/);
  const walked = await runCli(["hunt", "--format", "jsonl", "--rules", join(dir, "rule.yml"), dir]);
  assert.equal(walked.code, 0, walked.stderr);
  // rule.yml and README.md.
  assert.match(walked.stderr, /0 read \(0 EVTX, 0 JSON\), 2 skipped \(neither EVTX nor JSON\)/);
});

test("a damaged EVTX file: damage reported with file, chunk and offset, the rest hunted, exit 0", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const dir = join(tmp, "corrupt");
  mkdirSync(dir, { recursive: true });
  const flipped = join(dir, "flipped.evtx");
  copyFileSync(RECON, flipped);
  const bytes = readFileSync(flipped);
  // Inside the first chunk's records, past its 512-byte header: the chunk's data checksum no longer matches,
  // and records decoded from the flipped bytes may fail.
  for (let i = 4096 + 0x400; i < 4096 + 0x480; i++) bytes[i] = bytes[i]! ^ 0xff;
  writeFileSync(flipped, bytes);
  const truncated = join(dir, "truncated.evtx");
  copyFileSync(RECON, truncated);
  truncateSync(truncated, 4096 + 0x2000);

  const r = await runCli(["hunt", "--format", "jsonl", "--rules", SECURITY_RULES, flipped, truncated]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /flipped\.evtx: chunk 0 offset 0x[0-9a-f]+: R3_EVTX_\w+ /);
  assert.match(r.stderr, /truncated\.evtx: chunk 0 offset 0x[0-9a-f]+: R3_EVTX_TRUNCATED /);
  const damaged = Number(/Damaged parts +(\d+)/.exec(r.stderr)?.[1]);
  assert.ok(damaged >= 2, r.stderr);
  assert.ok(rows(r.stdout).length > 0, "records around the damage are still hunted");
});

test("table: a timeline, then the summary by level, rule (with author) and tactic, with unmapped channels", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  // A channel no map knows (a vendor's own log), as evtx_dump would print it.
  const custom = join(tmp, "custom-channel.json");
  writeFileSync(
    custom,
    JSON.stringify({
      Event: {
        System: {
          Provider: { "#attributes": { Name: "Contoso-Agent" } },
          EventID: 7,
          Channel: "Contoso-Agent/Operational",
          Computer: "ws1.example",
          EventRecordID: 1,
          TimeCreated: { "#attributes": { SystemTime: "2019-03-18T23:30:00.000000Z" } },
        },
        EventData: { Message: "hello" },
      },
    }),
  );
  const r = await runCli(["hunt", "--rules", SECURITY_RULES, RECON, custom]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const out = r.stdout;
  assert.match(out, /^Time \(UTC\) +Host +Level +Rule +ATT&CK +Key fields$/m);
  assert.match(
    out,
    /^2019-03-18 23:23:52 +WIN-77LTAPHIQ1R\.example… +high +AD Privileged Users or Groups Reconnaissance +T1087\.002 +EventID: 4661 ObjectType: SAM_GROUP/m,
  );
  assert.match(out, /^By level$/m);
  assert.match(out, /^ +\d+ +high +AD Privileged Users or Groups Reconnaissance \(Samir Bousseaden\)$/m);
  assert.match(out, /^By ATT&CK tactic/m);
  assert.match(out, /^ +\d+ +Discovery( \(TA0007\))?$/m);
  assert.match(out, /Files +2 read \(1 EVTX, 1 JSON\)/);
  assert.match(out, /Speed +\d+ events in [\d.]+ s, \d+ events\/s/);
  assert.match(out, /Damaged parts +0/);
  assert.match(out, /Unmapped +\d+ records? of channels the logsource map lacks/);
  assert.match(out, /^ +1 +Contoso-Agent\/Operational$/m);
  // No progress line when stderr is not a terminal.
  assert.doesNotMatch(out + r.stderr, /\r|hunting:/);
});

test("--output writes the detections to the file; jsonl's summary stays on stderr", async (t) => {
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const file = join(tmp, "out.jsonl");
  const r = await runCli(["hunt", "--format", "jsonl", "--output", file, "--rules", SECURITY_RULES, RECON]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.ok(rows(readFileSync(file, "utf8")).length > 0);
  assert.match(r.stderr, /^Summary$/m);
});

test("bad usage exits 2", async () => {
  for (const args of [
    ["hunt"],
    ["hunt", "--min-level", "severe", "x"],
    ["hunt", "--since", "yesterday", "x"],
    ["hunt", "--since", "2020-01-02", "--until", "2020-01-01", "x"],
    ["hunt", "--format", "xml", "x"],
    ["hunt", "--bogus", "x"],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /^ring3 hunt: .+\n\nUsage:/);
  }
});

test("rules that do not compile are reported with file:line:col and code; with none compiled, exit 3", async () => {
  const dir = join(tmp, "bad-rules");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "bad.yml"),
    "title: Bad\nlogsource: {product: windows}\ndetection:\n    condition: missing\n",
  );
  const events = join(dir, "events.jsonl");
  writeFileSync(events, '{"logsource":{"product":"windows"},"fields":{}}\n');
  const r = await runCli(["hunt", "--rules", join(dir, "bad.yml"), events]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /bad\.yml:\d+:\d+: error R3_\w+: /);
  assert.match(r.stderr, /no rule compiled/);
});

test("without --rules, ring3's own rules are used, and their absence is an input error", async () => {
  const shipped = join(REPO_ROOT, "content", "rules");
  const events = join(tmp, "one-event.jsonl");
  writeFileSync(events, '{"logsource":{"product":"windows","category":"process_creation"},"fields":{}}\n');
  const present =
    existsSync(shipped) && readdirSync(shipped, { recursive: true }).some((f) => /\.ya?ml$/.test(String(f)));
  const r = await runCli(["hunt", "--format", "jsonl", events]);
  if (present) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Rules +[1-9]\d* of [1-9]\d* compiled/);
  } else {
    assert.equal(r.code, 3);
    assert.match(r.stderr, /ring3's own rules \(.+content.rules\) are absent or empty: pass --rules <dir>/);
  }
});
