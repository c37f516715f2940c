import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, test } from "node:test";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { loadAttackCatalog, ruleTactics, TAGS_ONLY_CATALOG } from "../src/attack.ts";
import { readJsonStream } from "../src/json-stream.ts";
import { progressLine } from "../src/hunt/progress.ts";
import { oneLine, shorten } from "../src/hunt/text.ts";
import { inRange, parseTimeBound } from "../src/hunt/time-range.ts";

const tmp = mkdtempSync(join(tmpdir(), "ring3-hunt-parts-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("time bounds: ISO 8601 times and dates, UTC unless an offset is given, both ends inclusive", () => {
  assert.equal(parseTimeBound("2019-03-19", "since"), Date.parse("2019-03-19T00:00:00Z"));
  assert.equal(parseTimeBound("2019-03-19", "until"), Date.parse("2019-03-20T00:00:00Z"));
  assert.equal(parseTimeBound("2019-03-19T12:30:00Z", "since"), Date.parse("2019-03-19T12:30:00Z"));
  assert.equal(parseTimeBound("2019-03-19T12:30", "since"), Date.parse("2019-03-19T12:30:00Z"));
  assert.equal(parseTimeBound("2019-03-19 12:30:00+0200", "since"), Date.parse("2019-03-19T10:30:00Z"));
  assert.equal(parseTimeBound("2019-03-19T12:30:00.5Z", "until"), Date.parse("2019-03-19T12:30:00.500Z") + 1);
  for (const bad of ["yesterday", "2019-13-01", "19-03-2019", "2019-03-19T25:00:00Z", ""]) {
    assert.equal(parseTimeBound(bad, "since"), undefined, bad);
  }
  const range = {
    since: parseTimeBound("2019-03-19", "since"),
    until: parseTimeBound("2019-03-19T12:00:00Z", "until"),
  };
  assert.ok(inRange(range, "2019-03-19T00:00:00.000000Z"));
  assert.ok(inRange(range, "2019-03-19T12:00:00.000900Z"));
  assert.ok(!inRange(range, "2019-03-19T12:00:00.001Z"));
  assert.ok(!inRange(range, "2019-03-18T23:59:59.999999Z"));
  assert.ok(!inRange(range, ""), "an event without a time is outside any range");
  assert.ok(inRange({ since: undefined, until: undefined }, ""), "without a range, everything is in");
});

async function values(path: string): Promise<{ items: { value: unknown; line: number }[]; errors: string[] }> {
  const errors: string[] = [];
  const items = [];
  for await (const item of readJsonStream(path, (line, message) => errors.push(`${line}: ${message}`)))
    items.push(item);
  return { items, errors };
}

test("JSON stream: concatenated objects, JSONL, a top-level array, with start lines", async () => {
  const file = join(tmp, "mixed.json");
  writeFileSync(file, '\uFEFF{\n  "a": "x}{\\"y"\n}\n{"b": [1, {"c": 2}]}\n[{"d": 3},\n {"e": 4}, 5]\n{"f": 6}\n');
  const { items, errors } = await values(file);
  assert.deepEqual(errors, []);
  assert.deepEqual(items, [
    { value: { a: 'x}{"y' }, line: 1 },
    { value: { b: [1, { c: 2 }] }, line: 4 },
    { value: { d: 3 }, line: 5 },
    { value: { e: 4 }, line: 6 },
    { value: { f: 6 }, line: 7 },
  ]);
});

test("JSON stream: a bad value is reported with its line and the next ones still come", async () => {
  const file = join(tmp, "bad.jsonl");
  writeFileSync(file, '{"a": 1}\n{"b": tru}\n{"c": 3}\n{"d": \n');
  const { items, errors } = await values(file);
  assert.deepEqual(
    items.map((i) => i.value),
    [{ a: 1 }, { c: 3 }],
  );
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /^2: /);
  assert.match(errors[1]!, /^4: truncated JSON value$/);
});

test("JSON stream: values across read chunks (over 1 MiB), multi-byte text intact", async () => {
  const file = join(tmp, "big.jsonl");
  const line = (i: number): string => JSON.stringify({ i, text: `é€😀 ${"x".repeat(300)} {"[` });
  writeFileSync(file, Array.from({ length: 6000 }, (_, i) => line(i)).join("\n"));
  const { items, errors } = await values(file);
  assert.deepEqual(errors, []);
  assert.equal(items.length, 6000);
  items.forEach((item, i) => {
    assert.equal(item.line, i + 1);
    assert.deepEqual(item.value, JSON.parse(line(i)));
  });
});

test("ATT&CK: tactic tags win; technique-only rules get the catalog's tactics, revoked ids followed", async (t) => {
  const shared = sharedDataDir();
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const catalog = await loadAttackCatalog(join(shared, "attack", "enterprise-techniques.json"));
  assert.equal(catalog.version, "18.1");
  assert.deepEqual(ruleTactics(catalog, ["attack.stealth", "attack.t1070.001"], ["T1070.001"]), ["stealth"]);
  assert.deepEqual(ruleTactics(catalog, ["attack.t1070.001", "attack.g0016", "attack.s0002"], ["T1070.001"]), [
    "defense-evasion",
  ]);
  // T1178 SID-History Injection was revoked by T1134.005.
  assert.deepEqual(ruleTactics(catalog, ["attack.t1178"], ["T1178"]), ["privilege-escalation", "defense-evasion"]);
  // An unknown sub-technique falls back to its parent.
  assert.deepEqual(catalog.tacticsOf("T1059.999"), ["execution"]);
  assert.equal(catalog.tacticLabel("defense-evasion"), "Defense Evasion (TA0005)");
  assert.equal(catalog.tacticLabel("defense-impairment"), "Defense Impairment");
  assert.deepEqual(ruleTactics(TAGS_ONLY_CATALOG, ["attack.t1070.001"], ["T1070.001"]), []);
  assert.equal(TAGS_ONLY_CATALOG.tacticLabel("command-and-control"), "Command and Control");
});

test("human output folds control characters and newlines, and marks cuts", () => {
  assert.equal(oneLine("cmd /c\r\n  echo \u001b[31mred\u001b[0m\tdone"), "cmd /c echo [31mred [0m done");
  assert.equal(shorten("abcdefghij", 5), "abcd…");
  assert.equal(shorten("abc", 5), "abc");
});

function sink(isTTY: boolean): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => text };
}

test("progress: a self-rewriting line on a terminal only, cleared at the end", () => {
  const tty = sink(true);
  const progress = progressLine(tty.stream, true);
  progress.update({ filesDone: 1, filesTotal: 1, events: 42 });
  progress.clear();
  // eslint-disable-next-line no-control-regex
  assert.match(tty.text(), /^\r\u001b\[Khunting: 1\/1 files, 42 events, \d+ events\/s\r\u001b\[K$/);
  for (const [isTTY, enabled] of [
    [false, true],
    [true, false],
  ] as const) {
    const out = sink(isTTY);
    const quiet = progressLine(out.stream, enabled);
    quiet.update({ filesDone: 1, filesTotal: 1, events: 42 });
    quiet.clear();
    assert.equal(out.text(), "");
  }
});
