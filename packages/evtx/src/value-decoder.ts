import { EvtxDiagnosticCode, EvtxFormatError } from "./diagnostics.ts";
import { formatFiletime, formatSystemtime } from "./time-format.ts";
import type { EvtxValue } from "./xml-model.ts";

/** Value type bytes of binary XML substitutions ([MS-EVEN6] 2.2.17 / libevtx "value types"). */
export const ValueType = {
  null: 0x00,
  string: 0x01,
  ansiString: 0x02,
  int8: 0x03,
  uint8: 0x04,
  int16: 0x05,
  uint16: 0x06,
  int32: 0x07,
  uint32: 0x08,
  int64: 0x09,
  uint64: 0x0a,
  real32: 0x0b,
  real64: 0x0c,
  bool: 0x0d,
  binary: 0x0e,
  guid: 0x0f,
  sizeT: 0x10,
  filetime: 0x11,
  systemtime: 0x12,
  sid: 0x13,
  hexInt32: 0x14,
  hexInt64: 0x15,
  evtHandle: 0x20,
  binXml: 0x21,
  evtXml: 0x23,
  /** Bit set on a base type to make it an array of that type. */
  arrayFlag: 0x80,
} as const;

const utf16 = new TextDecoder("utf-16le");
const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("windows-1252");

const NULL: EvtxValue = { type: "null" };

/** Widths of the fixed-size types; the rest are sized by their descriptor. */
const FIXED_SIZE: Readonly<Record<number, number>> = {
  [ValueType.int8]: 1,
  [ValueType.uint8]: 1,
  [ValueType.int16]: 2,
  [ValueType.uint16]: 2,
  [ValueType.int32]: 4,
  [ValueType.uint32]: 4,
  [ValueType.int64]: 8,
  [ValueType.uint64]: 8,
  [ValueType.real32]: 4,
  [ValueType.real64]: 8,
  [ValueType.bool]: 4,
  [ValueType.guid]: 16,
  [ValueType.filetime]: 8,
  [ValueType.systemtime]: 16,
  [ValueType.hexInt32]: 4,
  [ValueType.hexInt64]: 8,
};

export function fixedSizeOf(type: number): number | undefined {
  return FIXED_SIZE[type];
}

function bad(reason: string, at: number): EvtxFormatError {
  return new EvtxFormatError(EvtxDiagnosticCode.badBinXml, reason, at);
}

function int(value: bigint): EvtxValue {
  const n = Number(value);
  return { type: "int", value: Number.isSafeInteger(n) ? n : value };
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

function hexBytes(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s.toUpperCase();
}

/** Drops everything from the first NUL on: descriptors size strings with their terminator, sometimes with junk. */
function cutAtNul(s: string): string {
  const nul = s.indexOf("\0");
  return nul === -1 ? s : s.slice(0, nul);
}

function decodeAnsi(bytes: Uint8Array): string {
  // The code page is not recorded in the file; UTF-8 covers ASCII and modern writers, cp1252 the rest.
  try {
    return cutAtNul(utf8.decode(bytes));
  } catch {
    return cutAtNul(latin1.decode(bytes));
  }
}

function guid(view: DataView, at: number): string {
  const p = (n: number, w: number): string => n.toString(16).padStart(w, "0");
  let tail = "";
  for (let i = 8; i < 16; i++) tail += p(view.getUint8(at + i), 2);
  const s = `${p(view.getUint32(at, true), 8)}-${p(view.getUint16(at + 4, true), 4)}-${p(view.getUint16(at + 6, true), 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
  return s.toUpperCase();
}

/** Length in bytes of the SID at `at`, or -1 when fewer than its 8-byte header are left. */
function sidLength(view: DataView, at: number, end: number): number {
  if (end - at < 8) return -1;
  return Math.min(end - at, 8 + 4 * view.getUint8(at + 1));
}

/**
 * "S-revision-authority-sub1-...". The authority is 48-bit big-endian, sub-authorities u32 little-endian. A SID cut
 * short (seen in real logs) renders the sub-authorities that are present rather than failing the record.
 */
function sid(view: DataView, at: number, length: number): string {
  if (length < 8) return "S-?";
  let authority = 0;
  for (let i = 2; i < 8; i++) authority = authority * 256 + view.getUint8(at + i);
  let s = `S-${view.getUint8(at)}-${authority}`;
  const count = view.getUint8(at + 1);
  for (let i = 0; i < count && 8 + 4 * i + 4 <= length; i++) s += `-${view.getUint32(at + 8 + 4 * i, true)}`;
  return s;
}

function readFixed(type: number, view: DataView, at: number, size: number): EvtxValue {
  switch (type) {
    case ValueType.int8:
      return { type: "int", value: view.getInt8(at) };
    case ValueType.uint8:
      return { type: "int", value: view.getUint8(at) };
    case ValueType.int16:
      return { type: "int", value: view.getInt16(at, true) };
    case ValueType.uint16:
      return { type: "int", value: view.getUint16(at, true) };
    case ValueType.int32:
      return { type: "int", value: view.getInt32(at, true) };
    case ValueType.uint32:
      return { type: "int", value: view.getUint32(at, true) };
    case ValueType.int64:
      return int(view.getBigInt64(at, true));
    case ValueType.uint64:
      return int(view.getBigUint64(at, true));
    case ValueType.real32:
      return { type: "real", value: view.getFloat32(at, true), single: true };
    case ValueType.real64:
      return { type: "real", value: view.getFloat64(at, true), single: false };
    case ValueType.bool: {
      // Booleans are 32-bit; writers store 1 and also other non-zero values, all of which mean true.
      let nonZero = false;
      for (let i = 0; i < size; i++) nonZero ||= view.getUint8(at + i) !== 0;
      return { type: "bool", value: nonZero };
    }
    case ValueType.guid:
      return { type: "text", value: guid(view, at) };
    case ValueType.filetime:
      return { type: "text", value: formatFiletime(view.getBigUint64(at, true)) };
    case ValueType.systemtime: {
      const fields: number[] = [];
      for (let i = 0; i < 8; i++) fields.push(view.getUint16(at + 2 * i, true));
      return { type: "text", value: formatSystemtime(fields) };
    }
    case ValueType.hexInt32:
      return { type: "text", value: hex(view.getUint32(at, true)) };
    case ValueType.hexInt64:
      return { type: "text", value: hex(view.getBigUint64(at, true)) };
    default:
      throw bad(`value type 0x${type.toString(16)} is not fixed-size`, at);
  }
}

function readArray(base: number, bytes: Uint8Array, view: DataView, at: number, size: number): EvtxValue {
  const end = at + size;
  const items: EvtxValue[] = [];
  if (base === ValueType.string) {
    // NUL-terminated UTF-16 strings, back to back.
    const text = utf16.decode(bytes.subarray(at, at + (size & ~1)));
    const parts = text.split("\0");
    if (parts.at(-1) === "") parts.pop();
    for (const part of parts) items.push({ type: "string", value: part });
  } else if (base === ValueType.ansiString) {
    let start = at;
    for (let i = at; i < end; i++) {
      if (bytes[i] === 0) {
        items.push({ type: "string", value: decodeAnsi(bytes.subarray(start, i)) });
        start = i + 1;
      }
    }
    if (start < end) items.push({ type: "string", value: decodeAnsi(bytes.subarray(start, end)) });
  } else if (base === ValueType.sid) {
    for (let p = at; p < end;) {
      const length = sidLength(view, p, end);
      if (length < 0) break;
      items.push({ type: "text", value: sid(view, p, length) });
      p += length;
    }
  } else if (base === ValueType.sizeT) {
    for (let p = at; p + 8 <= end; p += 8) items.push({ type: "text", value: hex(view.getBigUint64(p, true)) });
  } else {
    const width = fixedSizeOf(base);
    if (width === undefined) return { type: "text", value: hexBytes(bytes.subarray(at, end)) };
    for (let p = at; p + width <= end; p += width) items.push(readFixed(base, view, p, width));
  }
  return { type: "array", items };
}

/**
 * Decodes a substitution value of `type` stored in `bytes[at, at + size)`. Nested binary XML (0x21) is not handled
 * here: the binary XML parser owns it. Unknown types are a format error.
 */
export function decodeValue(type: number, bytes: Uint8Array, view: DataView, at: number, size: number): EvtxValue {
  if (size === 0) return NULL;
  if (type & ValueType.arrayFlag) return readArray(type & ~ValueType.arrayFlag, bytes, view, at, size);
  switch (type) {
    case ValueType.null:
      return NULL;
    // evtx_dump (since 0.8.5) trims trailing whitespace off string values: writers pad some fields, such as
    // LogonProcessName "Advapi  ", that Event Viewer shows unpadded.
    case ValueType.string:
      return { type: "string", value: cutAtNul(utf16.decode(bytes.subarray(at, at + (size & ~1)))).trimEnd() };
    case ValueType.ansiString:
      return { type: "string", value: decodeAnsi(bytes.subarray(at, at + size)).trimEnd() };
    case ValueType.binary:
    case ValueType.evtHandle:
    case ValueType.evtXml:
      return { type: "text", value: hexBytes(bytes.subarray(at, at + size)) };
    case ValueType.sizeT:
      // size_t is as wide as the writer's pointers; rendered as hex like the other handle-ish integers.
      if (size >= 8) return { type: "text", value: hex(view.getBigUint64(at, true)) };
      if (size >= 4) return { type: "text", value: hex(view.getUint32(at, true)) };
      throw bad(`size_t value of ${size} bytes`, at);
    case ValueType.sid:
      return { type: "text", value: sid(view, at, size) };
    default: {
      const width = fixedSizeOf(type);
      if (width === undefined) throw bad(`unknown value type 0x${type.toString(16)}`, at);
      if (type === ValueType.bool) return readFixed(type, view, at, size);
      if (size < width) throw bad(`value type 0x${type.toString(16)} needs ${width} bytes, has ${size}`, at);
      return readFixed(type, view, at, width);
    }
  }
}
