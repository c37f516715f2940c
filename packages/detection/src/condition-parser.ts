/**
 * The Sigma condition grammar (spec: "Operator Precedence (least to most binding): or, and, not,
 * x of search-identifier, ( expression )"). A small recursive-descent parser; errors carry the column.
 */
export type ConditionNode =
  | { readonly t: "and"; readonly items: readonly ConditionNode[] }
  | { readonly t: "or"; readonly items: readonly ConditionNode[] }
  | { readonly t: "not"; readonly item: ConditionNode }
  | { readonly t: "id"; readonly name: string; readonly offset: number }
  | {
      readonly t: "of";
      /** `all`, or the minimum count (`1 of` — `any of` is read as `1 of`). */
      readonly quantifier: "all" | number;
      /** `them`, or an identifier pattern with `*` wildcards. */
      readonly pattern: string;
      readonly offset: number;
    };

export type ConditionParseError = { readonly message: string; readonly offset: number };

type Token = { readonly text: string; readonly offset: number };

const KEYWORDS = new Set(["and", "or", "not", "of", "(", ")"]);

function tokenize(text: string): Token[] | ConditionParseError {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i += 1;
      continue;
    }
    if (c === "(" || c === ")") {
      tokens.push({ text: c, offset: i });
      i += 1;
      continue;
    }
    if (c === "|") {
      return {
        message:
          "the pipe aggregation syntax (`| count() > n`, `| near`) is obsolete since Sigma 2; express it as a correlation rule",
        offset: i,
      };
    }
    let j = i;
    while (j < text.length && !" \t\r\n()|".includes(text[j] ?? " ")) j += 1;
    tokens.push({ text: text.slice(i, j), offset: i });
    i = j;
  }
  return tokens;
}

export function parseCondition(text: string): ConditionNode | ConditionParseError {
  const tokens = tokenize(text);
  if (!Array.isArray(tokens)) return tokens;
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const lower = (t: Token | undefined): string => t?.text.toLowerCase() ?? "";
  const end = text.length;

  class Fail extends Error {
    readonly error: ConditionParseError;
    constructor(message: string, offset: number) {
      super(message);
      this.error = { message, offset };
    }
  }

  const parseOr = (): ConditionNode => {
    const items = [parseAnd()];
    while (lower(peek()) === "or") {
      pos += 1;
      items.push(parseAnd());
    }
    return items.length === 1 ? (items[0] as ConditionNode) : { t: "or", items };
  };
  const parseAnd = (): ConditionNode => {
    const items = [parseNot()];
    while (lower(peek()) === "and") {
      pos += 1;
      items.push(parseNot());
    }
    return items.length === 1 ? (items[0] as ConditionNode) : { t: "and", items };
  };
  const parseNot = (): ConditionNode => {
    if (lower(peek()) === "not") {
      pos += 1;
      return { t: "not", item: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ConditionNode => {
    const token = peek();
    if (token === undefined) throw new Fail("the condition ends where an identifier or '(' was expected", end);
    if (token.text === "(") {
      pos += 1;
      const inner = parseOr();
      if (peek()?.text !== ")") throw new Fail("missing ')'", peek()?.offset ?? end);
      pos += 1;
      return inner;
    }
    const word = token.text.toLowerCase();
    const next = tokens[pos + 1];
    if (lower(next) === "of") {
      let quantifier: "all" | number;
      if (word === "all") quantifier = "all";
      else if (word === "any") quantifier = 1;
      else if (/^\d+$/.test(word) && Number(word) >= 1) quantifier = Number(word);
      else throw new Fail(`'${token.text} of': expected '1 of', 'all of' or 'N of'`, token.offset);
      const target = tokens[pos + 2];
      if (target === undefined || KEYWORDS.has(target.text.toLowerCase())) {
        throw new Fail("'of' must be followed by 'them' or an identifier pattern", target?.offset ?? end);
      }
      pos += 3;
      const pattern = target.text.toLowerCase() === "them" ? "them" : target.text;
      return { t: "of", quantifier, pattern, offset: token.offset };
    }
    if (KEYWORDS.has(word)) throw new Fail(`unexpected '${token.text}'`, token.offset);
    pos += 1;
    return { t: "id", name: token.text, offset: token.offset };
  };

  try {
    const node = parseOr();
    const rest = peek();
    if (rest !== undefined)
      return { message: `unexpected '${rest.text}' after a complete condition`, offset: rest.offset };
    return node;
  } catch (error) {
    if (error instanceof Fail) return error.error;
    throw error;
  }
}

export function isConditionError(x: ConditionNode | ConditionParseError): x is ConditionParseError {
  return "message" in x;
}

/** Sigma identifier patterns: `*` matches any run of characters, everything else is literal. */
export function identifierPatternMatches(pattern: string, name: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === name;
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  if (!name.startsWith(first) || name.length < first.length + last.length || !name.endsWith(last)) return false;
  let at = first.length;
  const stop = name.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = name.indexOf(middle, at);
    if (found < 0 || found + middle.length > stop) return false;
    at = found + middle.length;
  }
  return true;
}
