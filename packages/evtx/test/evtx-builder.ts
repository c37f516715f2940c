/**
 * Writes small EVTX files from scratch, so tests can state exactly which bytes the parser sees: names inline or
 * shared, templates inline or referenced, every value type, and deliberately broken structures.
 */
import { crc32, crc32Update } from "../src/crc32.ts";

export const EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event";

export type RawValue = { readonly type: number; readonly bytes: Uint8Array };

export function utf16(s: string, terminate = false): Uint8Array {
  const out = new Uint8Array((s.length + (terminate ? 1 : 0)) * 2);
  for (let i = 0; i < s.length; i++) new DataView(out.buffer).setUint16(i * 2, s.charCodeAt(i), true);
  return out;
}

export function le(width: 1 | 2 | 4 | 8, value: number | bigint): Uint8Array {
  const out = new Uint8Array(width);
  const view = new DataView(out.buffer);
  if (width === 1) view.setUint8(0, Number(value));
  else if (width === 2) view.setUint16(0, Number(value), true);
  else if (width === 4) view.setUint32(0, Number(value), true);
  else view.setBigUint64(0, BigInt(value), true);
  return out;
}

/** Binary XML and records written at absolute chunk offsets, as inline names and templates require. */
export class ChunkWriter {
  readonly bytes = new Uint8Array(65536);
  readonly view = new DataView(this.bytes.buffer);
  pos = 512;
  private readonly names = new Map<string, number>();
  readonly templates = new Map<string, number>();
  private firstRecord = 0n;
  private lastRecord = 0n;
  private lastRecordOffset = 0;

  u8(v: number): this {
    this.bytes[this.pos++] = v;
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }
  u64(v: bigint): this {
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
    return this;
  }
  raw(bytes: Uint8Array): this {
    this.bytes.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** A name reference: inline the first time, then by offset (the chunk's string table at work). */
  name(name: string): this {
    const known = this.names.get(name);
    if (known !== undefined) return this.u32(known);
    const at = this.pos + 4;
    this.names.set(name, at);
    return this.u32(at).u32(0).u16(0).u16(name.length).raw(utf16(name, true));
  }

  open(name: string, hasAttributes: boolean, inTemplate: boolean): this {
    this.u8(hasAttributes ? 0x41 : 0x01);
    if (inTemplate) this.u16(0xffff);
    this.u32(0).name(name);
    return hasAttributes ? this.u32(0) : this;
  }
  attribute(name: string): this {
    return this.u8(0x06).name(name);
  }
  text(s: string): this {
    return this.u8(0x05).u8(0x01).u16(s.length).raw(utf16(s));
  }
  substitution(index: number, type: number, optional = false): this {
    return this.u8(optional ? 0x0e : 0x0d)
      .u16(index)
      .u8(type);
  }
  closeStart(): this {
    return this.u8(0x02);
  }
  closeEmpty(): this {
    return this.u8(0x03);
  }
  end(): this {
    return this.u8(0x04);
  }
  fragmentHeader(): this {
    return this.u8(0x0f).u8(1).u8(1).u8(0);
  }
  eof(): this {
    return this.u8(0x00);
  }

  /**
   * A template instance: the definition is written inline the first time `key` is used (by `body`, which writes the
   * element tree), referenced by offset afterwards; then the substitution array.
   */
  templateInstance(key: string, body: (w: this) => void, values: readonly RawValue[]): this {
    this.u8(0x0c).u8(0x01).u32(0x1234);
    const known = this.templates.get(key);
    if (known !== undefined) {
      this.u32(known);
    } else {
      const at = this.pos + 4;
      this.templates.set(key, at);
      this.u32(at).u32(0).raw(new Uint8Array(16).fill(0xab));
      const sizeAt = this.pos;
      this.u32(0);
      const start = this.pos;
      this.fragmentHeader();
      body(this);
      this.eof();
      this.view.setUint32(sizeAt, this.pos - start, true);
    }
    this.u32(values.length);
    for (const value of values) this.u16(value.bytes.length).u8(value.type).u8(0);
    for (const value of values) this.raw(value.bytes);
    return this;
  }

  /** A record: signature, size, identifier, written time, binary XML from `body`, size again. */
  record(id: bigint, filetime: bigint, body: (w: this) => void): this {
    const start = this.pos;
    this.u32(0x00002a2a).u32(0).u64(id).u64(filetime);
    body(this);
    this.pos = (this.pos + 4 + 7) & ~7;
    const size = this.pos - start;
    this.view.setUint32(start + 4, size, true);
    this.view.setUint32(this.pos - 4, size, true);
    if (this.firstRecord === 0n) this.firstRecord = id;
    this.lastRecord = id;
    this.lastRecordOffset = start;
    return this;
  }

  /** Fills in the chunk header, free space offset and both checksums. */
  finish(): Uint8Array {
    const v = this.view;
    this.bytes.set(new TextEncoder().encode("ElfChnk\0"), 0);
    v.setBigUint64(8, this.firstRecord, true);
    v.setBigUint64(16, this.lastRecord, true);
    v.setBigUint64(24, this.firstRecord, true);
    v.setBigUint64(32, this.lastRecord, true);
    v.setUint32(40, 128, true);
    v.setUint32(44, this.lastRecordOffset, true);
    v.setUint32(48, this.pos, true);
    v.setUint32(52, crc32(this.bytes, 512, this.pos), true);
    v.setUint32(124, crc32Update(crc32(this.bytes, 0, 120), this.bytes, 128, 512), true);
    return this.bytes;
  }
}

/** A whole file: the 4096-byte header block (with its checksum), then the chunks. */
export function buildFile(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(4096 + chunks.length * 65536);
  const v = new DataView(out.buffer);
  out.set(new TextEncoder().encode("ElfFile\0"), 0);
  v.setBigUint64(16, BigInt(Math.max(0, chunks.length - 1)), true);
  v.setUint32(32, 128, true);
  v.setUint16(36, 1, true);
  v.setUint16(38, 3, true);
  v.setUint16(40, 4096, true);
  v.setUint16(42, chunks.length, true);
  v.setUint32(124, crc32(out, 0, 120), true);
  chunks.forEach((chunk, i) => out.set(chunk, 4096 + i * 65536));
  return out;
}

/**
 * The usual record shape: Event/System/EventData from one template, values substituted:
 * 0 EventID (uint16), 1 Provider Name (optional string), 2 and 3 the Data named "A" and "B" (any type).
 */
export function writeStandardEvent(w: ChunkWriter, id: bigint, values: readonly RawValue[]): void {
  w.record(id, 132_000_000_000_000_000n, (r) => {
    r.fragmentHeader();
    r.templateInstance(
      "standard",
      (t) => {
        t.open("Event", true, true).attribute("xmlns").text(EVENT_NS).closeStart();
        t.open("System", false, true).closeStart();
        t.open("Provider", true, true).attribute("Name").substitution(1, 0x01, true).closeEmpty();
        t.open("EventID", false, true).closeStart().substitution(0, 0x06).end();
        t.end();
        t.open("EventData", false, true).closeStart();
        t.open("Data", true, true).attribute("Name").text("A").closeStart().substitution(2, 0x01).end();
        t.open("Data", true, true).attribute("Name").text("B").closeStart().substitution(3, 0x01).end();
        t.end();
        t.end();
      },
      values,
    );
    r.eof();
  });
}

export function stringValue(s: string): RawValue {
  return { type: 0x01, bytes: utf16(s, true) };
}
