import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { sharedDataDir, SHARED_DATA_MISSING } from "@ring3/testkit";
import { EvtxDiagnosticCode } from "../src/diagnostics.ts";
import type { EvtxDiagnostic } from "../src/diagnostics.ts";
import { EvtxReadError, EvtxReader } from "../src/evtx-reader.ts";
import type { EvtxReaderOptions } from "../src/evtx-reader.ts";
import type { EvtxRecord } from "../src/evtx-record.ts";
import { buildFile, ChunkWriter, le, stringValue, writeStandardEvent } from "./evtx-builder.ts";

const dir = mkdtempSync(join(tmpdir(), "ring3-evtx-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `chunks` chunks holding `perChunk` records each, identifiers counting up from 1. */
function syntheticFile(name: string, chunks: number, perChunk: number): string {
  let id = 1n;
  const built = Array.from({ length: chunks }, () => {
    const w = new ChunkWriter();
    for (let i = 0; i < perChunk; i++, id++) {
      writeStandardEvent(w, id, [
        { type: 0x06, bytes: le(2, Number(id)) },
        stringValue("P"),
        stringValue(`a${id}`),
        stringValue("b"),
      ]);
    }
    return w.finish();
  });
  const path = join(dir, name);
  writeFileSync(path, buildFile(built));
  return path;
}

async function readAll(
  path: string,
  options: EvtxReaderOptions = {},
): Promise<{ records: EvtxRecord[]; diagnostics: EvtxDiagnostic[]; reader: EvtxReader }> {
  const diagnostics: EvtxDiagnostic[] = [];
  const reader = new EvtxReader(path, { ...options, onDiagnostic: (d) => diagnostics.push(d) });
  const records: EvtxRecord[] = [];
  for await (const record of reader) records.push(record);
  return { records, diagnostics, reader };
}

test("a worker pool yields exactly what in-thread parsing yields, in file order", async () => {
  const path = syntheticFile("many.evtx", 9, 40);
  const single = await readAll(path, { workers: 0 });
  const pooled = await readAll(path, { workers: 2 });
  assert.equal(single.records.length, 360);
  assert.deepEqual(pooled.records, single.records);
  assert.deepEqual(
    single.records.map((r) => r.recordId),
    Array.from({ length: 360 }, (_, i) => i + 1),
  );
  assert.deepEqual(single.reader.summary, { records: 360, diagnostics: 0, chunks: 9 });
});

test("a real multi-chunk sample reads the same with and without workers", async (t) => {
  const data = sharedDataDir();
  if (data === undefined) {
    t.skip(SHARED_DATA_MISSING);
    return;
  }
  const path = join(data, "evtx-samples", "evtx-parser-edge-cases", "sample_with_a_bad_chunk_magic.evtx");
  const single = await readAll(path, { workers: 0, keepTree: true });
  const pooled = await readAll(path, { workers: 2, keepTree: true });
  assert.equal(single.records.length, 270);
  assert.deepEqual(pooled.records, single.records);
  assert.deepEqual(pooled.diagnostics, single.diagnostics);
  assert.ok(single.diagnostics.some((d) => d.code === EvtxDiagnosticCode.badChunkMagic && d.chunk === 6));
});

test("damage goes to onDiagnostic with file, chunk and offset; the rest is read", async () => {
  const path = syntheticFile("damaged.evtx", 3, 5);
  const bytes = new Uint8Array(await import("node:fs").then((fs) => fs.readFileSync(path)));
  bytes.fill(0x55, 4096 + 65536, 4096 + 65536 + 8);
  writeFileSync(path, bytes);
  const { records, diagnostics, reader } = await readAll(path);
  assert.equal(records.length, 10);
  assert.deepEqual(diagnostics, [
    {
      file: path,
      chunk: 1,
      offset: 4096 + 65536,
      code: EvtxDiagnosticCode.badChunkMagic,
      reason: 'chunk does not start with "ElfChnk\\0"',
    },
  ]);
  assert.equal(reader.summary.diagnostics, 1);
});

test("a file cut short keeps the records of its whole part", async () => {
  const full = buildFile([new ChunkWriter().finish()]);
  const w = new ChunkWriter();
  for (let i = 1n; i <= 20n; i++)
    writeStandardEvent(w, i, [{ type: 0x06, bytes: le(2, 1) }, stringValue("P"), stringValue("a"), stringValue("b")]);
  full.set(w.finish(), 4096);
  const path = join(dir, "cut.evtx");
  writeFileSync(path, full.subarray(0, 4096 + 2000));
  const { records, diagnostics } = await readAll(path);
  assert.ok(records.length > 0 && records.length < 20);
  assert.ok(diagnostics.some((d) => d.code === EvtxDiagnosticCode.truncated));
  writeFileSync(join(dir, "empty.evtx"), new Uint8Array());
  const empty = await readAll(join(dir, "empty.evtx"));
  assert.equal(empty.records.length, 0);
  assert.equal(empty.diagnostics[0]?.code, EvtxDiagnosticCode.truncated);
});

test("an unreadable path rejects with EvtxReadError", async () => {
  await assert.rejects(readAll(join(dir, "missing.evtx")), (error: unknown) => {
    assert.ok(error instanceof EvtxReadError);
    assert.equal(error.code, "ENOENT");
    assert.match(error.message, /missing\.evtx/);
    return true;
  });
  await assert.rejects(readAll(dir), (error: unknown) => error instanceof EvtxReadError && error.code === "EISDIR");
});

test("breaking out of the iteration early stops the workers and closes the file", async () => {
  const path = syntheticFile("early.evtx", 8, 10);
  const reader = new EvtxReader(path, { workers: 2 });
  let seen = 0;
  for await (const record of reader) {
    seen += record.recordId > 0 ? 1 : 0;
    if (seen === 15) break;
  }
  assert.equal(seen, 15);
  // The same reader can be iterated again from the start.
  let again = 0;
  for await (const _ of reader) again++;
  assert.equal(again, 80);
});
