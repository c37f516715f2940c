/**
 * The golden test: every EVTX file of the SigmaHQ regression data against its JSON twin (evtx_dump output), record
 * by record, deep-equal.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { sharedDataDir, SHARED_DATA_MISSING } from "@ring3/testkit";
import { EvtxReader } from "../src/evtx-reader.ts";
import type { EvtxDiagnostic } from "../src/diagnostics.ts";
import type { EvtxRecord } from "../src/evtx-record.ts";
import { parseEvtxDumpJson } from "./evtx-json.ts";

/**
 * The one record whose twin was not produced from the bytes next to it. Its .evtx holds "C:\Windows\Explorer.EXE"
 * (UTF-16 in the file) where the twin says "Explorer.exe", and the twin's SystemTime has nine fractional digits where
 * evtx_dump writes six (every other twin has six). Both fields are checked against what the file holds; the rest of
 * the record must still match exactly.
 */
const KNOWN_TWIN_EDITS = [
  {
    file: "rules/windows/process_creation/proc_creation_win_susp_right_to_left_override/ad691d92-15f2-4181-9aa4-723c74f9ddc3.evtx",
    edits: [
      {
        path: ["Event", "System", "TimeCreated", "#attributes", "SystemTime"],
        ours: "2026-03-20T08:31:26.751156Z",
        twin: "2026-03-20T08:31:26.751156500Z",
      },
      {
        path: ["Event", "EventData", "ParentCommandLine"],
        ours: "C:\\Windows\\Explorer.EXE",
        twin: "C:\\Windows\\Explorer.exe",
      },
    ],
  },
];

function evtxFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".evtx"))
    .map((name) => join(dir, name))
    .sort();
}

function at(value: unknown, path: readonly string[]): { parent: Record<string, unknown>; key: string } {
  let parent = value as Record<string, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  return { parent, key: path.at(-1)! };
}

test("every regression .evtx record deep-equals its evtx_dump JSON twin", async (t) => {
  const data = sharedDataDir();
  if (data === undefined) {
    t.skip(SHARED_DATA_MISSING);
    return;
  }
  const root = join(data, "sigma", "regression_data");
  const files = evtxFiles(root);
  assert.ok(files.length >= 200, `expected the regression corpus, found ${files.length} files`);
  let matched = 0;
  let total = 0;
  for (const file of files) {
    const name = relative(root, file);
    const diagnostics: EvtxDiagnostic[] = [];
    const records: EvtxRecord[] = [];
    for await (const record of new EvtxReader(file, { onDiagnostic: (d) => diagnostics.push(d) })) records.push(record);
    const twins = parseEvtxDumpJson(readFileSync(file.replace(/\.evtx$/, ".json"), "utf8"));
    assert.deepEqual(diagnostics, [], name);
    assert.equal(records.length, twins.length, `${name}: record count`);
    const known = KNOWN_TWIN_EDITS.find((k) => k.file === name);
    for (const [i, twin] of twins.entries()) {
      total++;
      const event = structuredClone(records[i]!.event) as unknown;
      for (const edit of known?.edits ?? []) {
        const ours = at(event, edit.path);
        const theirs = at(twin, edit.path);
        assert.equal(ours.parent[ours.key], edit.ours, `${name}: ${edit.path.join(".")} as the file holds it`);
        assert.equal(theirs.parent[theirs.key], edit.twin, `${name}: ${edit.path.join(".")} as the twin has it`);
        ours.parent[ours.key] = edit.twin;
      }
      assert.deepEqual(event, twin, `${name}: record ${i}`);
      if (known === undefined) matched++;
    }
  }
  t.diagnostic(`${matched}/${total} records identical to their twin, ${total - matched} with documented twin edits`);
});
