import type { SigmaString, StringPart } from "./sigma-string.ts";
import { hasWildcards, literalText, withParts } from "./sigma-string.ts";

/**
 * The encoding modifiers. Values become "byte strings" (one char per byte) once encoded, so a following
 * `base64` encodes those bytes rather than their UTF-8 form: `cmd|wide|base64` is base64 of `63 00 6d 00 64 00`.
 * Written here rather than with TextEncoder/btoa because the detection package must not rely on host globals.
 */
function utf8Bytes(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return out;
}

export function valueBytes(s: SigmaString): number[] {
  const text = literalText(s);
  if (!s.bytes) return utf8Bytes(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i += 1) out.push(text.charCodeAt(i) & 0xff);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Encode(bytes: readonly number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63] ?? "";
    out += B64[(n >> 12) & 63] ?? "";
    out += b === undefined ? "=" : (B64[(n >> 6) & 63] ?? "");
    out += c === undefined ? "=" : (B64[n & 63] ?? "");
  }
  return out;
}

export type EncodingError = { readonly error: string };

function requireNoWildcards(s: SigmaString, modifier: string): EncodingError | undefined {
  return hasWildcards(s)
    ? { error: `'${modifier}' cannot encode a value with wildcards; put contains/startswith/endswith after it` }
    : undefined;
}

export function base64Modifier(s: SigmaString): SigmaString | EncodingError {
  return requireNoWildcards(s, "base64") ?? { parts: [base64Encode(valueBytes(s))], bytes: false };
}

/**
 * Spec: "there are three variants for shifts by zero to two bytes and except the first and last byte the
 * encoded values have a static part in the middle". Each shift prefixes 0–2 bytes, encodes, and cuts off the
 * characters that depend on the unknown neighbouring bytes.
 */
export function base64OffsetModifier(s: SigmaString): SigmaString[] | EncodingError {
  const bad = requireNoWildcards(s, "base64offset");
  if (bad !== undefined) return bad;
  const bytes = valueBytes(s);
  const startOffsets = [0, 2, 3];
  const endOffsets = [0, -3, -2];
  const out: SigmaString[] = [];
  for (let shift = 0; shift < 3; shift += 1) {
    const encoded = base64Encode([...Array<number>(shift).fill(0x20), ...bytes]);
    const end = endOffsets[(bytes.length + shift) % 3] ?? 0;
    const piece = encoded.slice(startOffsets[shift] ?? 0, end === 0 ? undefined : end);
    out.push({ parts: piece === "" ? [] : [piece], bytes: false });
  }
  return out;
}

function utf16(s: SigmaString, bigEndian: boolean, bom: boolean): SigmaString {
  const encode = (text: string): string => {
    let out = "";
    for (let i = 0; i < text.length; i += 1) {
      const unit = text.charCodeAt(i);
      const lo = String.fromCharCode(unit & 0xff);
      const hi = String.fromCharCode(unit >> 8);
      out += bigEndian ? hi + lo : lo + hi;
    }
    return out;
  };
  const parts: StringPart[] = s.parts.map((p) => (typeof p === "string" ? encode(p) : p));
  if (bom) parts.unshift(bigEndian ? "\xfe\xff" : "\xff\xfe");
  return { ...withParts(s, parts), bytes: true };
}

export const utf16leModifier = (s: SigmaString): SigmaString => utf16(s, false, false);
export const utf16beModifier = (s: SigmaString): SigmaString => utf16(s, true, false);
export const utf16Modifier = (s: SigmaString): SigmaString => utf16(s, false, true);

/** Spec: "the `-`, `/`, `–` (en dash), `—` (em dash), and `―` (horizontal bar) characters". */
export const WINDASH_CHARACTERS = ["-", "/", "\u2013", "\u2014", "\u2015"] as const;
const WORD = /[\p{L}\p{N}_]/u;
export const MAX_EXPANSION = 4096;

/**
 * Expands each flag-like dash into all five variants. Like pySigma (`\B[-/]\b`), only a dash that starts a
 * word counts — `/c` and ` -enc` expand, `Set-Item` and `C:/path` do not. Unlike pySigma, a rule may write
 * any of the five (spec: "converts the aforementioned characters interchangeably").
 */
export function windashModifier(s: SigmaString): SigmaString[] | EncodingError {
  const slots: { part: number; index: number }[] = [];
  s.parts.forEach((part, pi) => {
    if (typeof part !== "string") return;
    for (let i = 0; i < part.length; i += 1) {
      const c = part[i] ?? "";
      if (!(WINDASH_CHARACTERS as readonly string[]).includes(c)) continue;
      const before = i === 0 ? "" : (part[i - 1] ?? "");
      const after = part[i + 1] ?? "";
      if (!WORD.test(before) && WORD.test(after)) slots.push({ part: pi, index: i });
    }
  });
  if (slots.length === 0) return [s];
  const total = WINDASH_CHARACTERS.length ** slots.length;
  if (total > MAX_EXPANSION) return { error: `windash would expand one value into ${total} variants` };
  const out: SigmaString[] = [];
  for (let n = 0; n < total; n += 1) {
    const parts = s.parts.map((p) => (typeof p === "string" ? p.split("") : p));
    let k = n;
    for (const slot of slots) {
      const chars = parts[slot.part];
      if (Array.isArray(chars)) chars[slot.index] = WINDASH_CHARACTERS[k % WINDASH_CHARACTERS.length] ?? "-";
      k = Math.floor(k / WINDASH_CHARACTERS.length);
    }
    out.push(
      withParts(
        s,
        parts.map((p) => (Array.isArray(p) ? p.join("") : p)),
      ),
    );
  }
  return out;
}
