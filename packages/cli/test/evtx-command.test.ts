import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { sharedDataDir, SHARED_DATA_MISSING } from "@ring3/testkit";
import { runCli } from "./cli-harness.ts";

const data = sharedDataDir();
const sample = (name: string): string => join(data ?? "", "evtx-samples", name);
const dir = mkdtempSync(join(tmpdir(), "ring3-evtx-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("ring3 evtx dumps one evtx_dump-shaped JSON object per line", async (t) => {
  if (data === undefined) {
    t.skip(SHARED_DATA_MISSING);
    return;
  }
  const { code, stdout, stderr } = await runCli([
    "evtx",
    sample("evtx-attack-samples-subset/Discovery/discovery_local_user_or_group_windows_security_4799_4798.evtx"),
  ]);
  assert.equal(code, 0);
  assert.equal(stderr, "");
  const lines = stdout.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  const first = JSON.parse(lines[0]!) as { Event: { System: { Channel: string; EventID: number } } };
  assert.equal(first.Event.System.Channel, "Security");
  assert.ok([4798, 4799].includes(first.Event.System.EventID));
});

test("ring3 evtx --format xml renders each record as XML", async (t) => {
  if (data === undefined) {
    t.skip(SHARED_DATA_MISSING);
    return;
  }
  const { code, stdout } = await runCli([
    "evtx",
    "--format",
    "xml",
    sample("evtx-attack-samples-subset/Defense Evasion/DE_104_system_log_cleared.evtx"),
  ]);
  assert.equal(code, 0);
  assert.match(
    stdout,
    /^Record \d+\n<\?xml version="1\.0" encoding="utf-8"\?>\n<Event xmlns="http:\/\/schemas\.microsoft\.com\/win\/2004\/08\/events\/event">\n/,
  );
  assert.match(stdout, /<EventID>104<\/EventID>/);
  assert.match(stdout, /<\/Event>\n$/);
});

test("damaged parts go to stderr and the command still succeeds", async (t) => {
  if (data === undefined) {
    t.skip(SHARED_DATA_MISSING);
    return;
  }
  const path = sample("evtx-parser-edge-cases/sample_with_a_bad_chunk_magic.evtx");
  const { code, stdout, stderr } = await runCli(["evtx", path]);
  assert.equal(code, 0);
  assert.equal(stdout.trimEnd().split("\n").length, 270);
  assert.ok(stderr.includes(`${path}: chunk 6 offset 0x61000: R3_EVTX_BAD_CHUNK_MAGIC `), stderr);
});

test("an unreadable path exits 3, bad usage exits 2", async () => {
  const good = join(dir, "empty.evtx");
  writeFileSync(good, new Uint8Array());
  const missing = await runCli(["evtx", join(dir, "missing.evtx"), good]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /cannot read .*missing\.evtx: ENOENT/);
  assert.equal((await runCli(["evtx"])).code, 2);
  assert.equal((await runCli(["evtx", "--format", "csv", good])).code, 2);
  assert.equal((await runCli(["evtx", "--bogus", good])).code, 2);
  assert.equal(readFileSync(good).length, 0);
});
