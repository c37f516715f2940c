import { randomBytes } from "node:crypto";
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { acquireDirLock, releaseDirLock } from "./dir-lock.ts";
import type { SpoolClaim } from "./spool-cursor.ts";
import { CursorFile } from "./spool-cursor.ts";
import {
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  decodeRecord,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  parseSegmentFileName,
  segmentFileName,
} from "./spool-format.ts";

/*
 * The on-disk spool between the agent's pipeline and the network.
 *
 * Durability. `append` returns once write(2) has put the record in the kernel's page cache: a process crash
 * (kill -9, an abort) after that loses nothing. fdatasync runs as a group commit every `fsyncIntervalMs`
 * (default 1 s), at every segment roll and at `close`, so a power loss or kernel crash loses at most the
 * records of the last interval. `fsyncIntervalMs: 0` syncs after every record instead (slow, for tests and
 * paranoid deployments). The cursor (what the server acknowledged, the batch in flight, the loss counters) is
 * synced at every change, in two preallocated slots written alternately (spool-cursor.ts): a torn write falls
 * back to the previous generation, and acknowledging never needs free disk space.
 *
 * Bounds. Segments roll at `segmentBytes`; when the total would pass `maxBytes` the oldest segment is deleted
 * whether the server has it or not, and the unacknowledged records in it are counted (`dropped.spool`):
 * newest telemetry wins, and the loss is reported in heartbeats. Segments the server has acknowledged entirely
 * are deleted at once.
 *
 * Failures never throw out of `append`: a full disk or an I/O error drops the record, counts it
 * (`dropped.spoolWrite`) and marks the spool degraded with the reason until a write succeeds again.
 */

export type SpoolOptions = {
  readonly dir: string;
  /** Upper bound of all segment files together (default 256 MiB). */
  readonly maxBytes?: number;
  /** A segment rolls once it reaches this size (default maxBytes / 32, at most maxBytes / 4). */
  readonly segmentBytes?: number;
  /** Group commit interval; 0 syncs after every append (default 1000). */
  readonly fsyncIntervalMs?: number;
  /** Largest payload accepted (default 1 MiB); a larger one is refused and counted (`dropped.spoolOversized`). */
  readonly maxRecordBytes?: number;
};

export type SpoolRecord = { readonly seq: number; readonly payload: Buffer };

/** A range of records handed to the network and not yet acknowledged: resent as is after a restart. */
export type { SpoolClaim };

export type SpoolStats = {
  readonly spoolId: string;
  /** Oldest record still on disk (acknowledged or not). */
  readonly firstSeq: number;
  readonly nextSeq: number;
  readonly acked: number;
  /** Records not acknowledged yet. */
  readonly pending: number;
  readonly bytes: number;
  readonly segments: number;
  readonly dropped: Readonly<Record<string, number>>;
  /** Why the spool is not writing, while it is not. */
  readonly degraded: string | undefined;
  /** Set when the cursor was unreadable at open and the spool restarted from its oldest record. */
  readonly cursorReset: string | undefined;
};

export class SpoolError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

type Segment = {
  readonly firstSeq: number;
  readonly path: string;
  size: number;
  /** Records readable in it; seqs are contiguous from firstSeq. */
  count: number;
};

type Cursor = {
  spoolId: string;
  acked: number;
  claim: SpoolClaim | undefined;
  dropped: Record<string, number>;
};

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/** Read-ahead size of `read`. */
const READ_CHUNK_BYTES = 256 * 1024;

const lastSeq = (s: Segment): number => s.firstSeq + s.count - 1;

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly maxRecordBytes: number;
  private readonly fsyncIntervalMs: number;
  private readonly segments: Segment[] = [];
  private cursor: Cursor;
  private cursorFile: CursorFile | undefined;
  private nextSeq: number;
  private totalBytes = 0;
  private activeFd = -1;
  private readFd: { path: string; fd: number } | undefined;
  /** Where the next sequential read starts, so a reader following the tail never rescans a segment. */
  private readPos: { segment: Segment; seq: number; offset: number } | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private degraded: string | undefined;
  private cursorReset: string | undefined;
  private closed = false;

  private constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.segmentBytes = Math.min(options.segmentBytes ?? Math.floor(this.maxBytes / 32), Math.floor(this.maxBytes / 4));
    this.maxRecordBytes = Math.min(
      options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      this.segmentBytes - SEGMENT_HEADER_BYTES - RECORD_HEADER_BYTES,
    );
    if (this.maxRecordBytes < 1)
      throw new SpoolError("R3_ERR_SPOOL_CONFIG", `spool maxBytes ${this.maxBytes} is too small for any record`);
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? 1000;
    this.cursor = { spoolId: "", acked: 0, claim: undefined, dropped: {} };
    this.nextSeq = 1;
  }

  /**
   * Opens (or creates) the spool in `dir`: takes the directory's lock, reads the cursor, cuts a torn record
   * off the newest segment, deletes what the server already has, and is ready to append after the last
   * record. Throws DirLockedError (R3_ERR_SPOOL_LOCKED) when another live process holds it.
   */
  static open(options: SpoolOptions): Spool {
    const spool = new Spool(options);
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    acquireDirLock(options.dir, "spool");
    try {
      spool.recover();
    } catch (error) {
      spool.closeFds();
      releaseDirLock(options.dir);
      throw error;
    }
    if (spool.fsyncIntervalMs > 0) {
      spool.timer = setInterval(() => spool.sync(), spool.fsyncIntervalMs);
      spool.timer.unref();
    }
    return spool;
  }

  /**
   * Appends one record and returns its sequence number, or undefined when it was dropped (counted, see
   * `stats().dropped`). Synchronous on purpose: once it returns, a crash of this process cannot lose it.
   */
  append(payload: Uint8Array): number | undefined {
    if (this.closed) throw new SpoolError("R3_ERR_SPOOL_CLOSED", "the spool is closed");
    if (payload.length > this.maxRecordBytes) {
      this.count("spoolOversized", 1);
      return undefined;
    }
    const record = encodeRecord(this.nextSeq, payload);
    try {
      if (this.activeFd < 0) this.openActive(this.nextSeq);
      let active = this.active();
      if (active.count > 0 && active.size + record.length > this.segmentBytes) {
        this.roll();
        active = this.active();
      }
      this.makeRoom(record.length);
      writeAt(this.activeFd, record, active.size);
      active.size += record.length;
      active.count += 1;
      this.totalBytes += record.length;
      if (this.fsyncIntervalMs === 0) fdatasyncSync(this.activeFd);
      else this.dirty = true;
    } catch (error) {
      this.writeFailed(error as NodeJS.ErrnoException);
      return undefined;
    }
    if (this.degraded !== undefined) this.degraded = undefined;
    return this.nextSeq++;
  }

  /**
   * Up to `maxRecords` records after `afterSeq` (and at most up to `untilSeq`), stopping before the one that
   * would take the payload total past `maxBytes` (the first record is always returned). Records that were
   * dropped leave gaps in the sequence; a record that fails its checksum here ends its segment, and the
   * records lost with it are counted (`dropped.spoolCorrupt`).
   */
  read(afterSeq: number, maxRecords: number, maxBytes: number, untilSeq = Number.MAX_SAFE_INTEGER): SpoolRecord[] {
    const out: SpoolRecord[] = [];
    let bytes = 0;
    // Acknowledged records are never handed out again, whatever the caller asks for.
    let from = Math.max(afterSeq, this.cursor.acked) + 1;
    // A copy: a corrupt active segment is replaced while reading it.
    for (const segment of [...this.segments]) {
      if (out.length >= maxRecords || from > untilSeq) break;
      if (segment.count === 0 || lastSeq(segment) < from) continue;
      from = Math.max(from, segment.firstSeq);
      const result = this.readSegment(segment, from, Math.min(untilSeq, lastSeq(segment)), {
        maxRecords: maxRecords - out.length,
        maxBytes: maxBytes - bytes,
        first: out.length === 0,
      });
      for (const record of result.records) {
        out.push(record);
        bytes += record.payload.length;
      }
      if (result.full) break;
      from = (out.at(-1)?.seq ?? from - 1) + 1;
    }
    return out;
  }

  /** Records the range about to be sent, durably, before it is sent. */
  claim(claim: SpoolClaim): void {
    // Memory follows the disk: if the cursor cannot be written, the batch must not be sent (it throws).
    this.writeCursor({ ...this.cursor, claim });
    this.cursor.claim = claim;
  }

  /** The range that was in flight when the spool was last closed or the process died, if any. */
  pendingClaim(): SpoolClaim | undefined {
    return this.cursor.claim;
  }

  /** Everything up to `seq` is on the server: persists that, clears the claim, deletes finished segments. */
  ack(seq: number): void {
    if (seq < this.cursor.acked) return;
    this.writeCursor({ ...this.cursor, acked: seq, claim: undefined });
    this.cursor.acked = seq;
    this.cursor.claim = undefined;
    this.deleteAcked();
  }

  /** Adds to a loss counter kept with the cursor (for losses upstream of the spool that the link reports). */
  count(cause: string, n: number): void {
    this.cursor.dropped[cause] = (this.cursor.dropped[cause] ?? 0) + n;
  }

  stats(): SpoolStats {
    let pending = 0;
    for (const s of this.segments) {
      if (s.count === 0) continue;
      pending += Math.max(0, lastSeq(s) - Math.max(this.cursor.acked, s.firstSeq - 1));
    }
    return {
      spoolId: this.cursor.spoolId,
      firstSeq: this.segments.find((s) => s.count > 0)?.firstSeq ?? this.nextSeq,
      nextSeq: this.nextSeq,
      acked: this.cursor.acked,
      pending,
      bytes: this.totalBytes,
      segments: this.segments.length,
      dropped: { ...this.cursor.dropped },
      degraded: this.degraded,
      cursorReset: this.cursorReset,
    };
  }

  /** fdatasync now if anything was written since the last sync (the group commit calls this). */
  sync(): void {
    if (!this.dirty || this.activeFd < 0) return;
    try {
      fdatasyncSync(this.activeFd);
      this.dirty = false;
    } catch (error) {
      this.degraded = `fdatasync failed: ${(error as Error).message}`;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sync();
    try {
      this.writeCursor();
    } catch {
      // The counters of this run are lost; the acks were written when they happened.
    }
    this.closeFds();
    releaseDirLock(this.dir);
  }

  private active(): Segment {
    return this.segments.at(-1)!;
  }

  private recover(): void {
    this.loadCursor();
    const names = readdirSync(this.dir)
      .map((name) => ({ name, firstSeq: parseSegmentFileName(name) }))
      .filter((e): e is { name: string; firstSeq: number } => e.firstSeq !== undefined)
      .sort((a, b) => a.firstSeq - b.firstSeq);
    const found: Segment[] = [];
    for (const [i, entry] of names.entries()) {
      const path = join(this.dir, entry.name);
      const next = names[i + 1];
      if (next !== undefined) {
        // Not the newest: its records are counted from the next file's name and checked when read.
        found.push({
          firstSeq: entry.firstSeq,
          path,
          size: statSync(path).size,
          count: next.firstSeq - entry.firstSeq,
        });
        continue;
      }
      const scanned = this.scanTail(path, entry.firstSeq);
      if (scanned !== undefined) found.push(scanned);
    }
    for (const segment of found) {
      const header = readHeader(segment.path);
      if ("error" in header || header.firstSeq !== segment.firstSeq) {
        // Its records cannot be located: lose them, counted, rather than send garbage.
        this.count("spoolCorrupt", Math.max(0, lastSeq(segment) - this.cursor.acked));
        unlinkSync(segment.path);
        continue;
      }
      this.segments.push(segment);
      this.totalBytes += segment.size;
    }
    const newest = this.segments.at(-1);
    this.nextSeq = Math.max(
      1,
      newest === undefined ? 0 : newest.firstSeq + newest.count,
      this.cursor.acked + 1,
      (this.cursor.claim?.last ?? 0) + 1,
    );
    this.deleteAcked();
    const done = this.segments.at(-1);
    if (done !== undefined && lastSeq(done) <= this.cursor.acked) this.removeSegment(done);
    const tail = this.segments.at(-1);
    if (tail !== undefined && tail.firstSeq + tail.count === this.nextSeq && tail.size < this.segmentBytes) {
      this.activeFd = openSync(tail.path, "r+");
    } else {
      this.openActive(this.nextSeq);
    }
    this.writeCursor();
  }

  /**
   * The newest segment, with a torn or corrupt tail cut off: everything from the first record that fails its
   * length, checksum or sequence is truncated away (kill -9 in the middle of write(2), a full disk).
   */
  private scanTail(path: string, firstSeq: number): Segment | undefined {
    const bytes = readFileSync(path);
    if (bytes.length < SEGMENT_HEADER_BYTES) {
      // Killed while creating it: nothing was ever appended to it.
      unlinkSync(path);
      return undefined;
    }
    let offset = SEGMENT_HEADER_BYTES;
    let count = 0;
    while (offset < bytes.length) {
      const record = decodeRecord(bytes, offset, this.maxRecordBytes);
      if ("error" in record || record.seq !== firstSeq + count) break;
      offset = record.end;
      count += 1;
    }
    if (offset < bytes.length) {
      this.count("spoolTorn", 1);
      const fd = openSync(path, "r+");
      try {
        ftruncateSync(fd, offset);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    return { firstSeq, path, size: offset, count };
  }

  private loadCursor(): void {
    const opened = CursorFile.open(this.dir);
    this.cursorFile = opened.file;
    if (opened.state !== undefined) {
      this.cursor = { ...opened.state, dropped: { ...opened.state.dropped } };
      return;
    }
    this.cursor = { spoolId: randomBytes(8).toString("hex"), acked: 0, claim: undefined, dropped: {} };
    const hasSegments = readdirSync(this.dir).some((name) => parseSegmentFileName(name) !== undefined);
    if (opened.problem !== undefined || hasSegments) {
      // Without a cursor the spool cannot know what the server has: it resends from its oldest record
      // (at least once) under a new spool id, and says so.
      this.cursorReset = opened.problem ?? "the cursor is missing";
    }
  }

  private writeCursor(cursor: Cursor = this.cursor): void {
    this.cursorFile?.write(cursor);
  }

  private syncDir(): void {
    const fd = openSync(this.dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private openActive(firstSeq: number): void {
    const path = join(this.dir, segmentFileName(firstSeq));
    // A leftover empty segment of the same name (created, then the process died) is reused.
    const fd = openSync(path, "w+", 0o600);
    try {
      writeAt(fd, encodeSegmentHeader(firstSeq), 0);
      fdatasyncSync(fd);
    } catch (error) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // Nothing more to undo: the file will be cut at open if it survives.
      }
      throw error;
    }
    this.activeFd = fd;
    this.segments.push({ firstSeq, path, size: SEGMENT_HEADER_BYTES, count: 0 });
    this.totalBytes += SEGMENT_HEADER_BYTES;
    this.syncDir();
  }

  private roll(): void {
    fdatasyncSync(this.activeFd);
    closeSync(this.activeFd);
    this.activeFd = -1;
    this.dirty = false;
    this.openActive(this.nextSeq);
  }

  /** Deletes the oldest segments until `incoming` more bytes fit, counting what the server never got. */
  private makeRoom(incoming: number): void {
    let droppedAny = false;
    while (this.totalBytes + incoming > this.maxBytes && this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const lost =
        oldest.count === 0 ? 0 : Math.max(0, lastSeq(oldest) - Math.max(this.cursor.acked, oldest.firstSeq - 1));
      this.count("spool", lost);
      this.removeSegment(oldest);
      droppedAny = true;
    }
    if (droppedAny) this.writeCursor();
  }

  private deleteAcked(): void {
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      if (oldest.count > 0 && lastSeq(oldest) > this.cursor.acked) break;
      this.removeSegment(oldest);
    }
    // The segment being appended to, once the server has all of it, is replaced too when it is big, or when
    // the disk is full (its space is the way out). Not always: an idle agent would create a file per ack.
    const active = this.segments.at(-1);
    if (
      active !== undefined &&
      this.activeFd >= 0 &&
      active.count > 0 &&
      lastSeq(active) <= this.cursor.acked &&
      (active.size >= this.segmentBytes / 8 || this.degraded !== undefined)
    ) {
      closeSync(this.activeFd);
      this.activeFd = -1;
      this.dirty = false;
      this.removeSegment(active);
      // If this fails (the disk is still full), the next append tries again.
      try {
        this.openActive(this.nextSeq);
      } catch (error) {
        this.degraded = `cannot create a spool segment: ${(error as Error).message}`;
      }
    }
  }

  private removeSegment(segment: Segment): void {
    const index = this.segments.indexOf(segment);
    if (index >= 0) this.segments.splice(index, 1);
    this.totalBytes -= segment.size;
    if (this.readFd?.path === segment.path) {
      closeSync(this.readFd.fd);
      this.readFd = undefined;
    }
    if (this.readPos?.segment === segment) this.readPos = undefined;
    unlinkSync(segment.path);
  }

  private writeFailed(error: NodeJS.ErrnoException): void {
    this.count("spoolWrite", 1);
    this.degraded =
      error.code === "ENOSPC" || error.code === "EDQUOT"
        ? `disk full: records are dropped until space frees up (${error.code})`
        : `cannot write the spool: ${error.message}`;
    // A partial record past the known size would be overwritten by the next write (positional writes);
    // cutting it now keeps the file clean if no next write comes.
    const active = this.segments.at(-1);
    if (this.activeFd >= 0 && active !== undefined) {
      try {
        ftruncateSync(this.activeFd, active.size);
      } catch {
        // The tail scan at the next open cuts it.
      }
    }
  }

  private readSegment(
    segment: Segment,
    from: number,
    until: number,
    limits: { maxRecords: number; maxBytes: number; first: boolean },
  ): { records: SpoolRecord[]; full: boolean } {
    const fd = this.readFdFor(segment);
    let offset: number;
    let seq: number;
    if (this.readPos !== undefined && this.readPos.segment === segment && this.readPos.seq <= from) {
      ({ offset, seq } = this.readPos);
    } else {
      offset = SEGMENT_HEADER_BYTES;
      seq = segment.firstSeq;
    }
    const out: SpoolRecord[] = [];
    let bytes = 0;
    let full = false;
    // Records are decoded out of chunks read ahead (one read(2) for many records).
    let chunk = Buffer.alloc(0);
    let chunkStart = offset;
    const available = (n: number): boolean => {
      if (offset + n <= chunkStart + chunk.length) return true;
      const want = Math.max(READ_CHUNK_BYTES, n);
      const buf = Buffer.allocUnsafe(want);
      const got = readExactly(fd, buf, 0, want, offset);
      chunk = buf.subarray(0, got);
      chunkStart = offset;
      return got >= n;
    };
    while (seq <= until) {
      if (out.length >= limits.maxRecords) {
        full = true;
        break;
      }
      if (!available(RECORD_HEADER_BYTES)) {
        this.lostFrom(segment, seq);
        break;
      }
      const length = chunk.readUInt32LE(offset - chunkStart);
      if (length > this.maxRecordBytes) {
        this.lostFrom(segment, seq);
        break;
      }
      if (seq < from) {
        // Skipping to `from`: headers only.
        offset += RECORD_HEADER_BYTES + length;
        seq += 1;
        continue;
      }
      if (bytes + length > limits.maxBytes && !(limits.first && out.length === 0)) {
        full = true;
        break;
      }
      if (!available(RECORD_HEADER_BYTES + length)) {
        this.lostFrom(segment, seq);
        break;
      }
      const decoded = decodeRecord(chunk, offset - chunkStart, this.maxRecordBytes);
      if ("error" in decoded || decoded.seq !== seq) {
        this.lostFrom(segment, seq);
        break;
      }
      out.push({ seq, payload: decoded.payload });
      bytes += length;
      offset += RECORD_HEADER_BYTES + length;
      seq += 1;
    }
    this.readPos = { segment, seq, offset };
    return { records: out, full };
  }

  /** A record that cannot be read ends its segment here; the records from `seq` on are counted as lost. */
  private lostFrom(segment: Segment, seq: number): void {
    const lost = lastSeq(segment) - seq + 1;
    if (lost <= 0) return;
    this.count("spoolCorrupt", lost);
    segment.count = seq - segment.firstSeq;
    if (segment === this.segments.at(-1)) {
      // The segment being appended to: later records go to a fresh one at the next seq.
      closeSync(this.activeFd);
      this.activeFd = -1;
      this.openActive(this.nextSeq);
    }
    this.writeCursor();
  }

  private readFdFor(segment: Segment): number {
    if (this.readFd?.path === segment.path) return this.readFd.fd;
    if (this.readFd !== undefined) closeSync(this.readFd.fd);
    this.readFd = { path: segment.path, fd: openSync(segment.path, "r") };
    return this.readFd.fd;
  }

  private closeFds(): void {
    this.cursorFile?.close();
    this.cursorFile = undefined;
    if (this.activeFd >= 0) closeSync(this.activeFd);
    this.activeFd = -1;
    if (this.readFd !== undefined) closeSync(this.readFd.fd);
    this.readFd = undefined;
  }
}

function readHeader(path: string): ReturnType<typeof decodeSegmentHeader> {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const n = readExactly(fd, buf, 0, SEGMENT_HEADER_BYTES, 0);
    return decodeSegmentHeader(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

function writeAt(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

function readExactly(fd: number, buf: Buffer, at: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, at + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
