/**
 * A Sigma string value: literal runs and the two wildcards. Kept as parts so that modifiers (contains,
 * base64, windash…) can work on the literal text without confusing an escaped `\*` with a wildcard.
 */
export const STAR = 0;
export const QMARK = 1;
export type Wildcard = typeof STAR | typeof QMARK;
export type StringPart = string | Wildcard;

export type SigmaString = {
  readonly parts: readonly StringPart[];
  /** Set once an encoding modifier turned the text into bytes (one char per byte, 0–255). */
  readonly bytes: boolean;
};

/**
 * Spec: "The backslash character `\` is used for escaping of wildcards `*` and `?` as well as the backslash
 * character itself." A backslash before any other character is kept as a plain backslash, as pySigma does,
 * so `C:\Windows\*` means the folder's contents.
 */
export function parseSigmaString(raw: string): SigmaString {
  const parts: StringPart[] = [];
  let acc = "";
  let escaped = false;
  for (const c of raw) {
    if (escaped) {
      acc += c === "*" || c === "?" || c === "\\" ? c : `\\${c}`;
      escaped = false;
    } else if (c === "\\") {
      escaped = true;
    } else if (c === "*" || c === "?") {
      if (acc !== "") parts.push(acc);
      acc = "";
      parts.push(c === "*" ? STAR : QMARK);
    } else {
      acc += c;
    }
  }
  if (escaped) acc += "\\";
  if (acc !== "") parts.push(acc);
  return { parts: normalise(parts), bytes: false };
}

export function plainString(text: string): SigmaString {
  return { parts: text === "" ? [] : [text], bytes: false };
}

/** Joins adjacent literals and collapses `**` so matchers see the simplest shape. */
function normalise(parts: readonly StringPart[]): StringPart[] {
  const out: StringPart[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (typeof p === "string" && typeof last === "string") out[out.length - 1] = last + p;
    else if (p === STAR && last === STAR) continue;
    else if (p !== "") out.push(p);
  }
  return out;
}

export function withParts(s: SigmaString, parts: readonly StringPart[]): SigmaString {
  return { parts: normalise(parts), bytes: s.bytes };
}

export function hasWildcards(s: SigmaString): boolean {
  return s.parts.some((p) => typeof p !== "string");
}

export function literalText(s: SigmaString): string {
  return s.parts.map((p) => (typeof p === "string" ? p : "")).join("");
}

/** The value written back in Sigma syntax, for explanations and diagnostics. */
export function formatSigmaString(s: SigmaString): string {
  return s.parts.map((p) => (p === STAR ? "*" : p === QMARK ? "?" : p.replace(/[*?]/g, (m) => `\\${m}`))).join("");
}
