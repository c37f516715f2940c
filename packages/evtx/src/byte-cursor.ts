import { EvtxDiagnosticCode, EvtxFormatError } from "./diagnostics.ts";

const utf16 = new TextDecoder("utf-16le");

/**
 * Little-endian reads over a window `[pos, end)` of a buffer. Every read is checked against `end`, so no loop driven
 * by file content can run past the bytes it was given.
 */
export class ByteCursor {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.end = Math.min(end, bytes.length);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new EvtxFormatError(
        EvtxDiagnosticCode.badBinXml,
        `${what}: needs ${n} bytes at 0x${this.pos.toString(16)}, ${Math.max(0, this.end - this.pos)} left`,
        this.pos,
      );
    }
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what = "u64"): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** `n` UTF-16LE code units, decoded as-is (lone surrogates become U+FFFD, as any UTF-16 decoder does). */
  utf16(units: number, what = "string"): string {
    this.need(units * 2, what);
    const s = utf16.decode(this.bytes.subarray(this.pos, this.pos + units * 2));
    this.pos += units * 2;
    return s;
  }
}
