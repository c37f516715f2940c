/**
 * Literals a regular expression cannot match without. An unanchored regex search for `cmd.{0,5}/c.+powershell`
 * can only succeed on a value that contains `powershell`; the prefilter uses that to skip the regex on every
 * other value. The analysis is deliberately conservative: anything it does not understand ends a literal run,
 * and alternation at the top level yields one literal per branch (or nothing if a branch has none).
 */
const MIN_LENGTH = 3;

export function requiredRegexLiterals(source: string): string[] | undefined {
  const body = source.replace(/^\(\?[imsU]+\)/, "");
  if (/\(\?[imsU-]+[:)]/.test(body) && !/^\(\?[imsU-]+:/.test(body)) {
    // Inline flag groups in the middle change how later characters match; keep it simple and skip.
    return undefined;
  }
  const branches = splitTopLevel(body);
  if (branches === undefined) return undefined;
  const out: string[] = [];
  for (const branch of branches) {
    const literal = longestRequiredRun(branch);
    if (literal === undefined) return undefined;
    out.push(literal);
  }
  return out;
}

/** Splits at `|` outside groups and classes; undefined on unbalanced input. */
function splitTopLevel(source: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < source.length; i += 1) {
    const c = source[i];
    if (c === "\\") {
      i += 1;
    } else if (c === "[") {
      const end = classEnd(source, i);
      if (end < 0) return undefined;
      i = end;
    } else if (c === "(") depth += 1;
    else if (c === ")") {
      depth -= 1;
      if (depth < 0) return undefined;
    } else if (c === "|" && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  parts.push(source.slice(start));
  return parts;
}

/** Index of the `]` closing the class opened at `open`, or -1. */
function classEnd(source: string, open: number): number {
  let i = open + 1;
  if (source[i] === "^") i += 1;
  if (source[i] === "]") i += 1;
  for (; i < source.length; i += 1) {
    if (source[i] === "\\") i += 1;
    else if (source[i] === "]") return i;
  }
  return -1;
}

function groupEnd(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i += 1) {
    const c = source[i];
    if (c === "\\") i += 1;
    else if (c === "[") {
      i = classEnd(source, i);
      if (i < 0) return -1;
    } else if (c === "(") depth += 1;
    else if (c === ")") {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

const ESCAPED_LITERALS = new Set([..."\\.-/\"'()[]{}*+?|^$ #:=!<>@%&,;_~`"]);
/**
 * RE2's escapes of control characters (`\n` is a newline): rules look for runs of them, e.g.
 * `CommandLine|re: '\n\n\n\n\n\n'` for a command line padded with line feeds.
 */
const ESCAPED_CONTROLS: Readonly<Record<string, string>> = { f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

function longestRequiredRun(branch: string): string | undefined {
  let best = "";
  let run = "";
  const endRun = (): void => {
    if (run.length > best.length) best = run;
    run = "";
  };
  for (let i = 0; i < branch.length; i += 1) {
    const c = branch[i] ?? "";
    let literal: string | undefined;
    if (c === "\\") {
      const e = branch[i + 1] ?? "";
      i += 1;
      if (ESCAPED_LITERALS.has(e)) literal = e;
      else literal = ESCAPED_CONTROLS[e];
    } else if (c === "(") {
      const end = groupEnd(branch, i);
      if (end < 0) return undefined;
      i = end;
    } else if (c === "[") {
      const end = classEnd(branch, i);
      if (end < 0) return undefined;
      i = end;
    } else if (!".^$*+?{}|)".includes(c)) {
      literal = c;
    }
    // A quantifier after this atom: `?`, `*`, `{0,…}` make it optional; `+` and `{n≥1,…}` keep one copy.
    const q = branch[i + 1];
    if (literal === undefined) {
      endRun();
      if (q === "*" || q === "+" || q === "?") i += 1;
      else if (q === "{") i = Math.max(i, branch.indexOf("}", i + 1));
      continue;
    }
    if (q === "?" || q === "*" || (q === "{" && /^\{0[,}]/.test(branch.slice(i + 1)))) {
      endRun();
      continue;
    }
    run += literal;
    if (q === "+" || q === "{") endRun();
  }
  endRun();
  // Non-ASCII letters may fold differently under case-insensitive matching; only ASCII literals are trusted
  // (control characters have no case).
  if (best.length < MIN_LENGTH || /[^\x20-\x7e\t\n\v\f\r]/.test(best)) return undefined;
  return best.toLowerCase();
}
