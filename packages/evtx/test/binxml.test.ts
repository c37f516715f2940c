import assert from "node:assert/strict";
import { test } from "node:test";
import { parseChunk } from "../src/chunk-parser.ts";
import { crc32 } from "../src/crc32.ts";
import { EvtxDiagnosticCode } from "../src/diagnostics.ts";
import { parseFileHeader } from "../src/file-header.ts";
import { stringifyEvent } from "../src/json-renderer.ts";
import { renderRecordXml } from "../src/xml-renderer.ts";
import type { RawValue } from "./evtx-builder.ts";
import { buildFile, ChunkWriter, EVENT_NS, le, stringValue, utf16, writeStandardEvent } from "./evtx-builder.ts";

const u16 = (n: number): RawValue => ({ type: 0x06, bytes: le(2, n) });

function oneEvent(a: RawValue, b: RawValue = stringValue("b")): ReturnType<typeof parseChunk> {
  const w = new ChunkWriter();
  writeStandardEvent(w, 1n, [u16(4624), stringValue("Prov"), a, b]);
  return parseChunk(w.finish(), 0, 4096);
}

function dataA(a: RawValue): unknown {
  const { records, problems } = oneEvent(a);
  assert.deepEqual(problems, []);
  return (records[0]!.event as { Event: { EventData: { A: unknown } } }).Event.EventData.A;
}

test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

test("a templated record renders in evtx_dump's JSON shape", () => {
  const { records, problems } = oneEvent(stringValue("alpha  "), stringValue(""));
  assert.deepEqual(problems, []);
  assert.equal(records.length, 1);
  const record = records[0]!;
  assert.equal(record.recordId, 1);
  assert.equal(record.chunk, 0);
  assert.equal(record.offset, 4096 + 512);
  assert.match(record.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.deepEqual(record.event, {
    Event: {
      "#attributes": { xmlns: EVENT_NS },
      System: { Provider: { "#attributes": { Name: "Prov" } }, EventID: 4624 },
      // Trailing whitespace trimmed from string values; an empty Data is "".
      EventData: { A: "alpha", B: "" },
    },
  });
});

test("names and templates are found again by offset in later records", () => {
  const w = new ChunkWriter();
  writeStandardEvent(w, 1n, [u16(1), stringValue("P"), stringValue("x"), stringValue("y")]);
  writeStandardEvent(w, 2n, [u16(2), stringValue("Q"), stringValue("z"), stringValue("w")]);
  const { records, problems } = parseChunk(w.finish(), 0, 4096);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    records.map((r) => r.event),
    [
      {
        Event: {
          "#attributes": { xmlns: EVENT_NS },
          System: { Provider: { "#attributes": { Name: "P" } }, EventID: 1 },
          EventData: { A: "x", B: "y" },
        },
      },
      {
        Event: {
          "#attributes": { xmlns: EVENT_NS },
          System: { Provider: { "#attributes": { Name: "Q" } }, EventID: 2 },
          EventData: { A: "z", B: "w" },
        },
      },
    ],
  );
});

test("an unset optional substitution leaves its attribute out, and the element becomes null", () => {
  const w = new ChunkWriter();
  writeStandardEvent(w, 1n, [u16(7), { type: 0x00, bytes: new Uint8Array() }, stringValue("a"), stringValue("b")]);
  const { records } = parseChunk(w.finish(), 0, 4096);
  assert.deepEqual((records[0]!.event as { Event: { System: unknown } }).Event.System, { Provider: null, EventID: 7 });
});

test("every value type decodes and renders like evtx_dump", () => {
  const guid = Uint8Array.from([
    0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43, 0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9,
  ]);
  const sid = Uint8Array.from([1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0]);
  const systemtime = new Uint8Array(16);
  [2024, 2, 4, 29, 13, 5, 9, 7].forEach((n, i) => new DataView(systemtime.buffer).setUint16(i * 2, n, true));
  const f32 = new Uint8Array(4);
  new DataView(f32.buffer).setFloat32(0, 0.1, true);
  const f64 = new Uint8Array(8);
  new DataView(f64.buffer).setFloat64(0, -2.5, true);
  const cases: [RawValue, unknown][] = [
    [{ type: 0x03, bytes: Uint8Array.of(0xff) }, -1],
    [{ type: 0x04, bytes: Uint8Array.of(0xff) }, 255],
    [{ type: 0x05, bytes: le(2, 0x8000) }, -32768],
    [{ type: 0x07, bytes: le(4, 0xffffffff) }, -1],
    [{ type: 0x08, bytes: le(4, 0xffffffff) }, 4294967295],
    [{ type: 0x09, bytes: le(8, 0xffffffffffffffffn) }, -1],
    [{ type: 0x0a, bytes: le(8, 2n ** 53n + 1n) }, 2n ** 53n + 1n],
    [{ type: 0x0b, bytes: f32 }, Math.fround(0.1)],
    [{ type: 0x0c, bytes: f64 }, -2.5],
    [{ type: 0x0d, bytes: le(4, 1) }, true],
    [{ type: 0x0d, bytes: le(4, 0xffffffff) }, true],
    [{ type: 0x0d, bytes: le(4, 0) }, false],
    [{ type: 0x0e, bytes: Uint8Array.of(0xde, 0xad, 0x0b) }, "DEAD0B"],
    [{ type: 0x0f, bytes: guid }, "5770385F-C22A-43E0-BF4C-06F5698FFBD9"],
    [{ type: 0x10, bytes: le(4, 0x858) }, "0x858"],
    [{ type: 0x10, bytes: le(8, 0x7eecn) }, "0x7eec"],
    [{ type: 0x11, bytes: le(8, 133_770_000_001_234_567n) }, "2024-11-25T09:20:00.123456Z"],
    [{ type: 0x12, bytes: systemtime }, "2024-02-29T13:05:09.007000Z"],
    [{ type: 0x13, bytes: sid }, "S-1-5-32-544"],
    [{ type: 0x13, bytes: sid.subarray(0, 12) }, "S-1-5-32"],
    [{ type: 0x14, bytes: le(4, 0x3e7) }, "0x3e7"],
    [{ type: 0x15, bytes: le(8, 0x8000000000000000n) }, "0x8000000000000000"],
    [{ type: 0x02, bytes: new TextEncoder().encode("ansi\0") }, "ansi"],
    [{ type: 0x81, bytes: Uint8Array.of(...utf16("a", true), ...utf16("bc", true)) }, ["a", "bc"]],
    [{ type: 0x86, bytes: Uint8Array.of(1, 0, 2, 0) }, [1, 2]],
    [{ type: 0x94, bytes: Uint8Array.of(255, 0, 0, 0) }, ["0xff"]],
    [{ type: 0x00, bytes: new Uint8Array() }, ""],
  ];
  for (const [value, expected] of cases) assert.deepEqual(dataA(value), expected, `type 0x${value.type.toString(16)}`);
});

test("integers past 2^53 stay exact through stringifyEvent", () => {
  const { records } = oneEvent({ type: 0x0a, bytes: le(8, 18446744073709551615n) });
  assert.match(stringifyEvent(records[0]!.event), /"A":18446744073709551615,/);
});

test("a nested BinXml value (0x21) splices its elements in, written without dependency identifiers", () => {
  // Written by hand: the nested fragment's inline names must sit at the chunk offsets they name.
  const v = new ChunkWriter();
  v.record(1n, 0n, (r) => {
    r.fragmentHeader();
    r.u8(0x0c).u8(1).u32(0);
    const defAt = r.pos + 4;
    r.u32(defAt).u32(0).raw(new Uint8Array(16));
    const sizeAt = r.pos;
    r.u32(0);
    const start = r.pos;
    r.fragmentHeader().open("Event", false, true).closeStart();
    r.open("UserData", false, true).closeStart().substitution(0, 0x21).end().end().eof();
    r.view.setUint32(sizeAt, r.pos - start, true);
    r.u32(1);
    const descriptorAt = r.pos;
    r.u16(0).u8(0x21).u8(0);
    const valueStart = r.pos;
    r.fragmentHeader().open("Inner", true, false).attribute("k").text("v").closeStart().text("body").end().eof();
    r.view.setUint16(descriptorAt, r.pos - valueStart, true);
    r.eof();
  });
  const { records, problems } = parseChunk(v.finish(), 0, 4096);
  assert.deepEqual(problems, []);
  assert.deepEqual(records[0]!.event, {
    Event: { UserData: { Inner: { "#attributes": { k: "v" }, "#text": "body" } } },
  });
});

test("a template that instantiates itself is reported, not followed", () => {
  const w = new ChunkWriter();
  w.record(1n, 0n, (r) => {
    r.fragmentHeader();
    r.u8(0x0c).u8(1).u32(0);
    const defAt = r.pos + 4;
    r.u32(defAt).u32(0).raw(new Uint8Array(16));
    const sizeAt = r.pos;
    r.u32(0);
    const start = r.pos;
    // The definition's body is a template instance pointing back at the definition itself.
    r.fragmentHeader().u8(0x0c).u8(1).u32(0).u32(defAt).u32(0).eof();
    r.view.setUint32(sizeAt, r.pos - start, true);
    r.u32(0).eof();
  });
  writeStandardEvent(w, 2n, [u16(2), stringValue("P"), stringValue("a"), stringValue("b")]);
  const { records, problems } = parseChunk(w.finish(), 0, 4096);
  assert.equal(records.length, 1);
  assert.equal(records[0]!.recordId, 2);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.code, EvtxDiagnosticCode.limitExceeded);
});

test("elements nested past the depth limit are reported", () => {
  const w = new ChunkWriter();
  w.record(1n, 0n, (r) => {
    r.fragmentHeader();
    for (let i = 0; i < 200; i++) r.open("E", false, false).closeStart();
    for (let i = 0; i < 200; i++) r.end();
    r.eof();
  });
  const { records, problems } = parseChunk(w.finish(), 0, 4096);
  assert.equal(records.length, 0);
  assert.equal(problems[0]?.code, EvtxDiagnosticCode.limitExceeded);
});

test("an undecodable record is skipped and the next one still read", () => {
  const w = new ChunkWriter();
  w.record(1n, 0n, (r) => r.fragmentHeader().u8(0x3f));
  writeStandardEvent(w, 2n, [u16(2), stringValue("P"), stringValue("a"), stringValue("b")]);
  const { records, problems } = parseChunk(w.finish(), 3, 4096 + 3 * 65536);
  assert.deepEqual(
    records.map((r) => r.recordId),
    [2],
  );
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.code, EvtxDiagnosticCode.badBinXml);
  assert.equal(problems[0]!.chunk, 3);
  assert.equal(problems[0]!.offset, 4096 + 3 * 65536 + 512);
});

test("a bad chunk header checksum is reported and the records are still read", () => {
  const w = new ChunkWriter();
  writeStandardEvent(w, 1n, [u16(1), stringValue("P"), stringValue("a"), stringValue("b")]);
  const chunk = w.finish();
  chunk[100] = 0xff;
  const { records, problems } = parseChunk(chunk, 0, 4096);
  assert.equal(records.length, 1);
  assert.deepEqual(
    problems.map((p) => p.code),
    [EvtxDiagnosticCode.crcMismatch],
  );
});

test("chunk framing damage: bad magic, zeroed slot, oversized record", () => {
  const zero = parseChunk(new Uint8Array(65536), 0, 4096);
  assert.deepEqual(zero, { records: [], problems: [] });
  const junk = parseChunk(new Uint8Array(65536).fill(7), 1, 4096 + 65536);
  assert.equal(junk.problems[0]?.code, EvtxDiagnosticCode.badChunkMagic);
  const w = new ChunkWriter();
  writeStandardEvent(w, 1n, [u16(1), stringValue("P"), stringValue("a"), stringValue("b")]);
  writeStandardEvent(w, 2n, [u16(2), stringValue("P"), stringValue("a"), stringValue("b")]);
  const chunk = w.finish();
  const second = chunk.indexOf(0x2a, 600);
  new DataView(chunk.buffer).setUint32(second + 4, 0xfffffff0, true);
  const { records, problems } = parseChunk(chunk, 0, 4096);
  assert.equal(records.length, 1);
  assert.ok(problems.some((p) => p.code === EvtxDiagnosticCode.badRecordSize));
});

test("file header: checksum verified, damage reported", () => {
  const file = buildFile([]);
  assert.deepEqual(parseFileHeader(file.subarray(0, 4096)).problems, []);
  assert.equal(parseFileHeader(file.subarray(0, 4096)).header?.majorVersion, 3);
  const bad = file.slice(0, 4096);
  bad[50] = 1;
  assert.equal(parseFileHeader(bad).problems[0]?.code, EvtxDiagnosticCode.crcMismatch);
  bad[0] = 0;
  assert.equal(parseFileHeader(bad).problems[0]?.code, EvtxDiagnosticCode.badFileMagic);
  assert.equal(parseFileHeader(bad.subarray(0, 10)).problems[0]?.code, EvtxDiagnosticCode.truncated);
});

test("renderRecordXml lays a record out like evtx_dump -o xml", () => {
  const w = new ChunkWriter();
  writeStandardEvent(w, 1n, [
    u16(4624),
    { type: 0x00, bytes: new Uint8Array() },
    stringValue("a<b & c"),
    stringValue(""),
  ]);
  const { records } = parseChunk(w.finish(), 0, 4096, { keepTree: true });
  assert.equal(
    renderRecordXml({ tree: records[0]!.tree! }),
    [
      '<?xml version="1.0" encoding="utf-8"?>',
      `<Event xmlns="${EVENT_NS}">`,
      "  <System>",
      "    <Provider>",
      "    </Provider>",
      "    <EventID>4624</EventID>",
      "  </System>",
      "  <EventData>",
      '    <Data Name="A">a&lt;b &amp; c</Data>',
      '    <Data Name="B">',
      "    </Data>",
      "  </EventData>",
      "</Event>",
      "",
    ].join("\n"),
  );
});
