/**
 * Mutation fuzzing: valid files damaged at random (seeded, so a failure reproduces) must always come back as records
 * and diagnostics, never as an exception or a hang.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { sharedDataDir } from "@ring3/testkit";
import { CHUNK_SIZE, parseChunk } from "../src/chunk-parser.ts";
import { EvtxReader } from "../src/evtx-reader.ts";
import { parseFileHeader } from "../src/file-header.ts";
import { ChunkWriter, buildFile, le, stringValue, writeStandardEvent } from "./evtx-builder.ts";

const SEED = 0x5eed_e7f0;
const ITERATIONS = 4000;

/** mulberry32: small, fast, good enough to spread mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Everything the reader does with the bytes of a file, minus the I/O. */
function parseFile(bytes: Uint8Array): { records: number; problems: number } {
  const header = parseFileHeader(bytes.subarray(0, 4096));
  let records = 0;
  let problems = header.problems.length;
  for (let index = 0, offset = 4096; offset < bytes.length; index++, offset += CHUNK_SIZE) {
    const result = parseChunk(bytes.subarray(offset, offset + CHUNK_SIZE), index, offset, { keepTree: true });
    records += result.records.length;
    problems += result.problems.length;
  }
  return { records, problems };
}

function seeds(): Uint8Array[] {
  const w = new ChunkWriter();
  for (let i = 1n; i <= 30n; i++) {
    writeStandardEvent(w, i, [
      { type: 0x06, bytes: le(2, Number(i)) },
      stringValue("Prov"),
      { type: 0x0a, bytes: le(8, i) },
      stringValue("b"),
    ]);
  }
  const out = [buildFile([w.finish()])];
  const data = sharedDataDir();
  if (data !== undefined) {
    for (const name of [
      "evtx-attack-samples-subset/Credential Access/dc_applog_ntdsutil_dfir_325_326_327.evtx",
      "evtx-attack-samples-subset/Lateral Movement/LM_xp_cmdshell_MSSQL_Events.evtx",
      "evtx-parser-edge-cases/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
    ]) {
      out.push(new Uint8Array(readFileSync(join(data, "evtx-samples", name))).slice(0, 4096 + CHUNK_SIZE));
    }
  }
  return out;
}

type Mutation = (bytes: Uint8Array, random: () => number) => Uint8Array;

const pick = (random: () => number, n: number): number => Math.floor(random() * n);
const huge = (random: () => number): number => [0xffffffff, 0x7fffffff, 0x10000, 0xfffe, 0][pick(random, 5)]!;

const mutations: Record<string, Mutation> = {
  bitFlips(bytes, random) {
    for (let i = 0, n = 1 + pick(random, 16); i < n; i++) bytes[pick(random, bytes.length)]! ^= 1 << pick(random, 8);
    return bytes;
  },
  byteRun(bytes, random) {
    const start = pick(random, bytes.length);
    bytes.fill(pick(random, 256), start, start + 1 + pick(random, 64));
    return bytes;
  },
  truncate(bytes, random) {
    return bytes.slice(0, pick(random, bytes.length));
  },
  hugeChunkHeaderField(bytes, random) {
    // Free space offset, last record offset, header size, record numbers.
    const field = [4096 + 48, 4096 + 44, 4096 + 40, 4096 + 8, 4096 + 16][pick(random, 5)]!;
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(field, huge(random), true);
    return bytes;
  },
  hugeRecordSize(bytes, random) {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let at = 4096 + 512; at + 8 < bytes.length; at += 8) {
      if (view.getUint32(at, true) === 0x2a2a && random() < 0.3) view.setUint32(at + 4, huge(random), true);
    }
    return bytes;
  },
  tableOffsets(bytes, random) {
    // The chunk's string table (64 offsets at 128) and template table (32 offsets at 384).
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const at = 4096 + 128 + 4 * pick(random, 96);
    view.setUint32(at, random() < 0.5 ? huge(random) : pick(random, 65536), true);
    return bytes;
  },
  offsetsInRecords(bytes, random) {
    // Aim at name and template offsets: overwrite aligned u32 in the records area with offsets into the chunk.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let i = 0, n = 1 + pick(random, 8); i < n; i++) {
      const at = 4096 + 512 + pick(random, Math.max(1, bytes.length - 4096 - 516));
      if (at + 4 <= bytes.length) view.setUint32(at, random() < 0.7 ? 512 + pick(random, 65024) : huge(random), true);
    }
    return bytes;
  },
};

test(`the parser survives ${ITERATIONS} seeded mutations of valid files`, { timeout: 60_000 }, () => {
  const random = prng(SEED);
  const inputs = seeds();
  const names = Object.keys(mutations);
  const started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const input = inputs[i % inputs.length]!;
    const name = names[pick(random, names.length)]!;
    const mutated = mutations[name]!(input.slice(), random);
    let result: { records: number; problems: number } | undefined;
    assert.doesNotThrow(
      () => {
        result = parseFile(mutated);
      },
      `iteration ${i} (${name}, seed 0x${SEED.toString(16)})`,
    );
    assert.ok(result !== undefined && result.records >= 0 && result.problems >= 0);
  }
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 20, `fuzzing took ${seconds.toFixed(1)} s`);
});

test(
  "the reader, workers included, ends every mutated file with records or diagnostics",
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "ring3-evtx-fuzz-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const random = prng(SEED + 1);
    const inputs = seeds();
    const names = Object.keys(mutations);
    // Several chunks per file, so the worker pool is used.
    const big = (bytes: Uint8Array): Uint8Array => {
      const chunk = bytes.subarray(4096, 4096 + CHUNK_SIZE);
      const out = new Uint8Array(4096 + 4 * CHUNK_SIZE);
      out.set(bytes.subarray(0, 4096));
      for (let i = 0; i < 4; i++) out.set(chunk, 4096 + i * CHUNK_SIZE);
      return out;
    };
    for (let i = 0; i < 24; i++) {
      const name = names[pick(random, names.length)]!;
      const path = join(dir, `${i}.evtx`);
      writeFileSync(path, mutations[name]!(big(inputs[i % inputs.length]!), random));
      let diagnostics = 0;
      const reader = new EvtxReader(path, { workers: 2, keepTree: true, onDiagnostic: () => diagnostics++ });
      let records = 0;
      for await (const _ of reader) records++;
      assert.equal(reader.summary.records, records, `file ${i} (${name})`);
      assert.equal(reader.summary.diagnostics, diagnostics);
    }
  },
);
