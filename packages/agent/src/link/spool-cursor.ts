import { closeSync, fdatasyncSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/*
 * The spool's cursor: what the server acknowledged, the batch in flight, the loss counters. It is written at
 * every ack, so it must not need free disk space: the usual temp-file-and-rename would fail with ENOSPC on a
 * full disk exactly when acknowledging (and so deleting segments) is the way out. Instead two preallocated
 * slots of fixed size are overwritten in place, alternately, each with a generation number and a CRC:
 *
 *   "R3CURSOR1 <generation> <crc32 hex of the JSON>\n<JSON>" padded with spaces to SLOT_BYTES
 *
 * A write torn by a crash fails its CRC, and the other slot (the previous generation) is used. That is safe
 * because a claim is written before its batch is sent and an ack after the server answered: falling back one
 * generation at most resends a batch under the id it was sent with.
 */

export type SpoolClaim = { readonly first: number; readonly last: number };

export type CursorState = {
  readonly spoolId: string;
  readonly acked: number;
  readonly claim: SpoolClaim | undefined;
  readonly dropped: Readonly<Record<string, number>>;
};

const SLOT_BYTES = 8192;
const MAGIC = "R3CURSOR1";
const SLOTS = ["cursor-a", "cursor-b"] as const;

export class CursorFile {
  private readonly fds: [number, number];
  private generation: number;

  private constructor(fds: [number, number], generation: number) {
    this.fds = fds;
    this.generation = generation;
  }

  /**
   * Opens (creating and preallocating) both slots and returns the newest valid state, if any slot holds one.
   * `problem` says why no state was found when the slot files existed but neither was valid.
   */
  static open(dir: string): { file: CursorFile; state: CursorState | undefined; problem: string | undefined } {
    const fds: number[] = [];
    let best: { generation: number; state: CursorState } | undefined;
    let existed = false;
    try {
      for (const name of SLOTS) {
        const fd = openSync(join(dir, name), "a+", 0o600);
        closeSync(fd);
        const rw = openSync(join(dir, name), "r+");
        fds.push(rw);
        const buf = Buffer.alloc(SLOT_BYTES);
        const n = readSync(rw, buf, 0, SLOT_BYTES, 0);
        if (n > 0) existed = true;
        const slot = decodeSlot(buf.subarray(0, n));
        if (slot !== undefined && (best === undefined || slot.generation > best.generation)) best = slot;
        if (n < SLOT_BYTES) {
          // Preallocate now, while there is space: later writes never grow the file.
          writeSync(rw, Buffer.alloc(SLOT_BYTES - n, 0x20), 0, SLOT_BYTES - n, n);
          fsyncSync(rw);
        }
      }
    } catch (error) {
      for (const fd of fds) closeSync(fd);
      throw error;
    }
    const file = new CursorFile([fds[0]!, fds[1]!], best?.generation ?? 0);
    const problem =
      best === undefined && existed ? "the cursor is unreadable (both slots fail their checksum)" : undefined;
    return { file, state: best?.state, problem };
  }

  /** Writes `state` as the next generation, into the slot not holding the current one, and syncs it. */
  write(state: CursorState): void {
    const generation = this.generation + 1;
    const slot = encodeSlot(generation, state);
    const fd = this.fds[generation % 2]!;
    let done = 0;
    while (done < slot.length) done += writeSync(fd, slot, done, slot.length - done, done);
    fdatasyncSync(fd);
    this.generation = generation;
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}

export function encodeSlot(generation: number, state: CursorState): Buffer {
  const json = JSON.stringify({ ...state, claim: state.claim ?? null });
  const head = `${MAGIC} ${generation} ${crc32(json).toString(16)}\n`;
  const text = head + json;
  if (Buffer.byteLength(text) > SLOT_BYTES) throw new Error(`spool cursor over ${SLOT_BYTES} bytes`);
  const buf = Buffer.alloc(SLOT_BYTES, 0x20);
  buf.write(text, 0, "utf8");
  return buf;
}

export function decodeSlot(buf: Buffer): { generation: number; state: CursorState } | undefined {
  const text = buf.toString("utf8").trimEnd();
  const newline = text.indexOf("\n");
  if (newline < 0) return undefined;
  const [magic, generation, crc] = text.slice(0, newline).split(" ");
  const json = text.slice(newline + 1);
  if (magic !== MAGIC || crc === undefined || crc32(json).toString(16) !== crc) return undefined;
  const gen = Number(generation);
  if (!Number.isSafeInteger(gen) || gen < 1) return undefined;
  const state = parseState(json);
  return state === undefined ? undefined : { generation: gen, state };
}

function parseState(json: string): CursorState | undefined {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null) return undefined;
  const c = data as Record<string, unknown>;
  const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (typeof c.spoolId !== "string" || !/^[0-9a-f]{16}$/.test(c.spoolId) || !isSeq(c.acked)) return undefined;
  let claim: SpoolClaim | undefined;
  if (c.claim !== null && c.claim !== undefined) {
    const k = c.claim as Record<string, unknown>;
    if (!isSeq(k.first) || !isSeq(k.last) || k.first > k.last) return undefined;
    claim = { first: k.first, last: k.last };
  }
  const dropped: Record<string, number> = {};
  if (typeof c.dropped === "object" && c.dropped !== null)
    for (const [key, value] of Object.entries(c.dropped)) if (isSeq(value)) dropped[key] = value;
  return { spoolId: c.spoolId, acked: c.acked, claim, dropped };
}
