import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  closeSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Spool } from "../src/link/spool.ts";
import type { SpoolOptions } from "../src/link/spool.ts";
import {
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  decodeRecord,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  parseSegmentFileName,
  segmentFileName,
} from "../src/link/spool-format.ts";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "ring3-spool-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const payload = (n: number): Buffer => Buffer.from(JSON.stringify({ n, text: `record ${n} `.repeat(1 + (n % 7)) }));
const numberOf = (p: Buffer): number => (JSON.parse(p.toString("utf8")) as { n: number }).n;

function open(dir: string, options: Partial<SpoolOptions> = {}): Spool {
  return Spool.open({ dir, ...options });
}

function readAll(spool: Spool, after = 0): { seq: number; n: number }[] {
  const out: { seq: number; n: number }[] = [];
  for (;;) {
    const batch = spool.read(after, 1000, 1 << 20);
    if (batch.length === 0) return out;
    for (const r of batch) out.push({ seq: r.seq, n: numberOf(r.payload) });
    after = batch.at(-1)!.seq;
  }
}

const segments = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => parseSegmentFileName(name) !== undefined)
    .sort();

test("format: records and segment headers round-trip; a short, oversized or altered record is refused", () => {
  assert.equal(segmentFileName(42), "seg-0000000000000042.log");
  assert.equal(parseSegmentFileName("seg-0000000000000042.log"), 42);
  assert.equal(parseSegmentFileName("cursor.json"), undefined);
  assert.deepEqual(decodeSegmentHeader(encodeSegmentHeader(2 ** 40 + 3)), { firstSeq: 2 ** 40 + 3 });
  assert.deepEqual(decodeSegmentHeader(Buffer.from("NOTASPOOLxxxxxxx")), {
    error: "not a ring3 spool segment (bad magic)",
  });

  const record = encodeRecord(2 ** 33 + 7, Buffer.from("hello"));
  const decoded = decodeRecord(record, 0, 100);
  assert.ok(!("error" in decoded));
  assert.equal(decoded.seq, 2 ** 33 + 7);
  assert.equal(decoded.payload.toString(), "hello");
  assert.equal(decoded.end, RECORD_HEADER_BYTES + 5);

  assert.deepEqual(decodeRecord(record.subarray(0, record.length - 1), 0, 100), { error: "short" });
  assert.deepEqual(decodeRecord(record, 0, 4), { error: "too-large" });
  const flipped = Buffer.from(record);
  flipped[RECORD_HEADER_BYTES + 1]! ^= 0x01;
  assert.deepEqual(decodeRecord(flipped, 0, 100), { error: "checksum" });
  // The checksum covers the sequence number: a record moved to another seq is refused.
  const moved = Buffer.from(record);
  moved[8]! ^= 0x01;
  assert.deepEqual(decodeRecord(moved, 0, 100), { error: "checksum" });
});

test("spool: records come back in order across segments and reopens; acknowledged ones never again", (t) => {
  const dir = tempDir(t);
  let spool = open(dir, { maxBytes: 1 << 20, segmentBytes: 4096 });
  for (let n = 1; n <= 500; n++) assert.equal(spool.append(payload(n)), n);
  assert.ok(segments(dir).length > 5, "rolled over several segments");
  assert.deepEqual(
    readAll(spool).map((r) => r.seq),
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
  assert.ok(readAll(spool).every((r) => r.seq === r.n));
  // Limits: by count, and by bytes (the first record always comes, whatever its size).
  assert.equal(spool.read(0, 10, 1 << 20).length, 10);
  assert.equal(spool.read(0, 1000, 1).length, 1);
  assert.deepEqual(
    spool.read(10, 1000, 1 << 20, 12).map((r) => r.seq),
    [11, 12],
  );

  spool.ack(300);
  assert.equal(spool.stats().pending, 200);
  assert.deepEqual(readAll(spool, 0)[0], { seq: 301, n: 301 }, "reading from 0 still starts after the ack");
  const before = segments(dir).length;
  spool.close();

  spool = open(dir, { maxBytes: 1 << 20, segmentBytes: 4096 });
  t.after(() => spool.close());
  const stats = spool.stats();
  assert.equal(stats.acked, 300);
  assert.equal(stats.nextSeq, 501);
  assert.equal(stats.pending, 200);
  assert.ok(segments(dir).length <= before, "segments wholly acknowledged are deleted");
  assert.ok(stats.firstSeq <= 301 && stats.firstSeq > 1);
  assert.equal(spool.append(payload(501)), 501);
  const rest = readAll(spool);
  assert.equal(rest.length, 201);
  assert.deepEqual(rest.at(0), { seq: 301, n: 301 });
  assert.deepEqual(rest.at(-1), { seq: 501, n: 501 });
  // The bytes accounted for are the bytes on disk.
  const onDisk = segments(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  assert.equal(spool.stats().bytes, onDisk);
});

test("spool: a torn record at the tail (a write cut short) is cut off at open and its sequence number reused", (t) => {
  const dir = tempDir(t);
  let spool = open(dir);
  for (let n = 1; n <= 20; n++) spool.append(payload(n));
  spool.close();
  const [segment] = segments(dir);
  const path = join(dir, segment!);
  const size = statSync(path).size;
  truncateSync(path, size - 5);

  spool = open(dir);
  t.after(() => spool.close());
  assert.equal(spool.stats().nextSeq, 20);
  assert.equal(spool.stats().dropped.spoolTorn, 1);
  assert.equal(statSync(path).size, size - payload(20).length - RECORD_HEADER_BYTES, "cut at the last whole record");
  assert.equal(spool.append(payload(20)), 20);
  assert.deepEqual(
    readAll(spool).map((r) => r.n),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
});

test("spool: garbage after the last record and a header-only segment are cleaned up at open", (t) => {
  const dir = tempDir(t);
  let spool = open(dir);
  for (let n = 1; n <= 5; n++) spool.append(payload(n));
  spool.close();
  const path = join(dir, segments(dir)[0]!);
  // A plausible-looking header (small length) whose checksum is wrong.
  const fake = encodeRecord(6, Buffer.from("not what was written"));
  fake[RECORD_HEADER_BYTES]! ^= 0xff;
  appendFileSync(path, fake);

  spool = open(dir);
  assert.equal(spool.stats().nextSeq, 6);
  assert.equal(spool.stats().dropped.spoolTorn, 1);
  assert.equal(readAll(spool).length, 5);
  spool.close();

  // A process killed right after creating a segment leaves a file shorter than its header.
  writeFileSync(join(dir, segmentFileName(6)), "R3SP");
  spool = open(dir);
  t.after(() => spool.close());
  assert.equal(spool.append(payload(6)), 6);
  assert.deepEqual(
    readAll(spool).map((r) => r.n),
    [1, 2, 3, 4, 5, 6],
  );
});

test("spool: a corrupt record inside a sealed segment ends that segment, is counted, and reading goes on", (t) => {
  const dir = tempDir(t);
  let spool = open(dir, { maxBytes: 1 << 20, segmentBytes: 2048 });
  for (let n = 1; n <= 100; n++) spool.append(payload(n));
  spool.close();
  const names = segments(dir);
  assert.ok(names.length >= 3);
  const second = join(dir, names[1]!);
  const firstOfSecond = parseSegmentFileName(names[1]!)!;
  const firstOfThird = parseSegmentFileName(names[2]!)!;
  // Flip a byte in the payload of the second record of the second segment.
  const bytes = readFileSync(second);
  const firstLength = bytes.readUInt32LE(SEGMENT_HEADER_BYTES);
  const at = SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES + firstLength + RECORD_HEADER_BYTES + 2;
  const fd = openSync(second, "r+");
  writeSync(fd, Buffer.from([bytes[at]! ^ 0x20]), 0, 1, at);
  closeSync(fd);

  spool = open(dir, { maxBytes: 1 << 20, segmentBytes: 2048 });
  t.after(() => spool.close());
  const seqs = readAll(spool).map((r) => r.seq);
  const lost = firstOfThird - (firstOfSecond + 1);
  assert.equal(seqs.length, 100 - lost);
  assert.ok(seqs.includes(firstOfSecond) && !seqs.includes(firstOfSecond + 1) && seqs.includes(firstOfThird));
  assert.equal(spool.stats().dropped.spoolCorrupt, lost);
  assert.equal(new Set(seqs).size, seqs.length, "no duplicates");
});

test("spool: a segment with a foreign header is removed and its records counted", (t) => {
  const dir = tempDir(t);
  let spool = open(dir, { maxBytes: 1 << 20, segmentBytes: 2048 });
  for (let n = 1; n <= 60; n++) spool.append(payload(n));
  spool.close();
  const names = segments(dir);
  const first = join(dir, names[0]!);
  const count = parseSegmentFileName(names[1]!)! - 1;
  const fd = openSync(first, "r+");
  writeSync(fd, Buffer.from("GARBAGE!"), 0, 8, 0);
  closeSync(fd);
  spool = open(dir, { maxBytes: 1 << 20, segmentBytes: 2048 });
  t.after(() => spool.close());
  assert.equal(spool.stats().dropped.spoolCorrupt, count);
  assert.equal(readAll(spool)[0]?.seq, count + 1);
});

test("spool: when full, the oldest segment goes, its unacknowledged records are counted, and the total stays bounded", (t) => {
  const dir = tempDir(t);
  const maxBytes = 16 * 1024;
  const spool = open(dir, { maxBytes, segmentBytes: 4096 });
  t.after(() => spool.close());
  for (let n = 1; n <= 1000; n++) {
    assert.equal(spool.append(payload(n)), n);
    assert.ok(spool.stats().bytes <= maxBytes, `over the bound after record ${n}`);
  }
  const kept = readAll(spool);
  const stats = spool.stats();
  assert.equal(kept.at(-1)?.seq, 1000, "the newest records are kept");
  assert.equal(stats.dropped.spool, 1000 - kept.length, "every record not kept is counted as dropped");
  assert.equal(stats.pending, kept.length);
  // Contiguous: the oldest are the ones that went.
  assert.deepEqual(
    kept.map((r) => r.seq),
    Array.from({ length: kept.length }, (_, i) => 1001 - kept.length + i),
  );
  // Acknowledged records dropped for room are not losses.
  spool.ack(1000);
  for (let n = 1001; n <= 2000; n++) spool.append(payload(n));
  const after = spool.stats();
  assert.equal(after.dropped.spool, stats.dropped.spool + (1000 - readAll(spool).length));
});

test("spool: an oversized record is refused and counted, the queue is not blocked", (t) => {
  const dir = tempDir(t);
  const spool = open(dir, { maxRecordBytes: 100 });
  t.after(() => spool.close());
  assert.equal(spool.append(Buffer.alloc(101)), undefined);
  assert.equal(spool.append(Buffer.alloc(100)), 1);
  assert.equal(spool.stats().dropped.spoolOversized, 1);
});

test("spool: the claimed range and the ack survive a reopen; a claim moves nextSeq past what was sent", (t) => {
  const dir = tempDir(t);
  let spool = open(dir);
  for (let n = 1; n <= 10; n++) spool.append(payload(n));
  spool.claim({ first: 1, last: 6 });
  spool.close();
  // Even if the records themselves were lost (a power cut before the group commit), seqs are never reused
  // for something else that might go out under the same batch id.
  for (const name of segments(dir)) rmSync(join(dir, name));
  spool = open(dir);
  assert.deepEqual(spool.pendingClaim(), { first: 1, last: 6 });
  assert.equal(spool.stats().nextSeq, 7);
  spool.ack(6);
  assert.equal(spool.pendingClaim(), undefined);
  spool.close();
  spool = open(dir);
  t.after(() => spool.close());
  assert.equal(spool.pendingClaim(), undefined);
  assert.equal(spool.stats().acked, 6);
});

test("spool: a torn cursor write falls back to the previous generation; two bad slots restart from the oldest record", (t) => {
  const dir = tempDir(t);
  let spool = open(dir);
  for (let n = 1; n <= 10; n++) spool.append(payload(n));
  spool.claim({ first: 1, last: 4 });
  spool.ack(4);
  const id = spool.stats().spoolId;
  spool.close();
  // The newest slot is the one written last; tear it (a crash in the middle of its write).
  const slots = ["cursor-a", "cursor-b"].map((name) => join(dir, name));
  const newest = slots.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
  const fd = openSync(newest, "r+");
  writeSync(fd, Buffer.from("torn"), 0, 4, 40);
  closeSync(fd);
  spool = open(dir);
  // The previous generation: the claim of 1..4 before its ack, or the ack itself. Either way no record
  // before 5 is lost and nothing is resent under a new id.
  const stats = spool.stats();
  assert.equal(stats.spoolId, id);
  assert.equal(stats.cursorReset, undefined);
  assert.ok(stats.acked === 4 || spool.pendingClaim()?.last === 4);
  spool.close();

  for (const slot of slots) writeFileSync(slot, "garbage");
  spool = open(dir);
  t.after(() => spool.close());
  const reset = spool.stats();
  assert.match(reset.cursorReset ?? "", /unreadable/);
  assert.notEqual(reset.spoolId, id, "a new spool id: old batch ids cannot collide with new ranges");
  assert.equal(readAll(spool)[0]?.n, 1, "at least once: everything still on disk is resent");
});

test("spool: one process at a time; a lock left by a killed process is taken over", async (t) => {
  const dir = tempDir(t);
  const spool = open(dir);
  assert.throws(() => open(dir), { code: "R3_ERR_SPOOL_LOCKED" });
  spool.close();
  // A holder that died: a child that opens the spool and is killed while holding it.
  const child = spawn(
    process.execPath,
    [
      "-e",
      `import(${JSON.stringify(join(import.meta.dirname, "..", "src", "link", "spool.ts"))}).then((m) => { m.Spool.open({ dir: ${JSON.stringify(dir)} }); console.log("open"); setInterval(() => {}, 1000); })`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
  assert.throws(() => open(dir), { code: "R3_ERR_SPOOL_LOCKED" });
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  const again = open(dir);
  again.close();
});

/** Runs the writer child until it has reported `minAppends`, then SIGKILLs it; returns what it reported. */
async function killWriterMidStream(
  dir: string,
  minAppends: number,
  ackEvery: number,
): Promise<{ appended: Map<number, number>; acked: number }> {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "fixtures", "spool-writer.ts"), dir, String(ackEvery)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const appended = new Map<number, number>();
  let acked = 0;
  let tail = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await new Promise<void>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      const lines = (tail + chunk.toString("utf8")).split("\n");
      tail = lines.pop() ?? "";
      for (const line of lines) {
        const [what, a, b] = line.split(" ");
        if (what === "appended") appended.set(Number(a), Number(b));
        else if (what === "acked") acked = Math.max(acked, Number(a));
      }
      if (appended.size >= minAppends) {
        child.kill("SIGKILL");
        resolve();
      }
    });
  });
  await exited;
  return { appended, acked };
}

test("spool: kill -9 in the middle of appending loses nothing append() returned for and duplicates nothing", async (t) => {
  const dir = tempDir(t);
  let reported = new Map<number, number>();
  let ackedSoFar = 0;
  // Three lives: each killed at a different point, each restart appending after the last.
  for (const [i, target] of [3000, 7000, 5000].entries()) {
    const { appended, acked } = await killWriterMidStream(dir, target, i === 1 ? 500 : 0);
    reported = new Map([...reported, ...appended]);
    ackedSoFar = Math.max(ackedSoFar, acked);
  }
  const spool = open(dir, { maxBytes: 64 * 1024 * 1024, segmentBytes: 256 * 1024 });
  t.after(() => spool.close());
  const stats = spool.stats();
  assert.ok(stats.acked >= ackedSoFar, "every ack the writer reported is on disk");
  const records = readAll(spool);
  const seqs = records.map((r) => r.seq);
  assert.equal(new Set(seqs).size, seqs.length, "no sequence number twice");
  for (const r of records) assert.equal(r.n, r.seq, `record ${r.seq} holds what was appended under it`);
  for (const [seq, n] of reported) {
    if (seq <= stats.acked) continue;
    assert.ok(seqs.includes(seq), `record ${seq} (n=${n}) was reported appended and is missing`);
  }
  // Nothing beyond what was acked is skipped: the records form one contiguous run after the ack.
  assert.deepEqual(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => stats.acked + 1 + i),
  );
  assert.equal(stats.dropped.spool ?? 0, 0);
});

test("spool: a full disk (ENOSPC on a small tmpfs) drops and counts records, never throws, and recovers", (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("needs root to mount a small tmpfs");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "ring3-spool-enospc-"));
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "ring3-spool-test", dir]);
  t.after(() => {
    if (mount.status === 0) spawnSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  if (mount.status !== 0) {
    t.skip(`cannot mount a tmpfs: ${mount.stderr.toString().trim()}`);
    return;
  }
  const spool = open(join(dir, "spool"), {
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 1024 * 1024,
    fsyncIntervalMs: 50,
  });
  let ok = 0;
  let failed = 0;
  for (let n = 1; n <= 4000; n++) {
    if (spool.append(payload(n)) === undefined) failed += 1;
    else ok += 1;
  }
  const stats = spool.stats();
  assert.ok(failed > 0, "the tmpfs filled up");
  assert.equal(stats.dropped.spoolWrite, failed);
  assert.match(stats.degraded ?? "", /disk full.*ENOSPC/);
  // What was written before the disk filled is intact and readable.
  const kept = readAll(spool);
  assert.equal(kept.length, ok);
  assert.ok(kept.every((r, i) => r.seq === i + 1 && r.n === r.seq));
  // The server takes everything: segments go, space frees, appends work again.
  spool.ack(kept.at(-1)!.seq);
  spool.close();
  const reopened = open(join(dir, "spool"), { maxBytes: 64 * 1024 * 1024, segmentBytes: 1024 * 1024 });
  const seq = reopened.append(payload(99_999));
  assert.equal(seq, kept.at(-1)!.seq + 1);
  assert.equal(reopened.stats().degraded, undefined);
  reopened.close();
});
