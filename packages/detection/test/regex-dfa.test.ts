import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { load } from "js-yaml";
import { RE2JS } from "re2js";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { compileLinearRegex } from "../src/regex-dfa.ts";

/**
 * The lazy DFA answers the same yes/no question as RE2 (RE2JS is the reference): differential tests over
 * hand-picked edge cases (anchors, case folding of K/ſ, empty alternatives, counted repeats, classes) and over
 * every `|re` value of the SigmaHQ corpus, each against strings built from its own fragments and a noisy
 * alphabet. A seeded generator keeps every run identical.
 */
const EDGE_CASES: [string, number][] = [
  ["a$", 0],
  ["^a", 0],
  ["[^a]", 0],
  ["a.b", 0],
  ["a.b", RE2JS.DOTALL],
  ["(?i)k", 0],
  ["(?i)s+", 0],
  ["(?i)\\W", 0],
  ["(?i)[^k]", 0],
  ["(?i)[a-z]+x", 0],
  ["\\x{1F600}", 0],
  ["^.$", 0],
  ["^..$", 0],
  ["$^", 0],
  ["^$", 0],
  ["a|", 0],
  ["(a*)*b", 0],
  ["x{2,3}y", 0],
  ["[]a]", 0],
  ["[a-]", 0],
  ["[\\d-z]", 0],
  ["(?i)\\w", 0],
  ["\\S+\\s", 0],
  ["(?s).", 0],
  ["(?i)KELVIN", 0],
  ["[^\\n]", 0],
  ["^(?:a|b)*$", 0],
  ["a{0}", 0],
  ["(?U)a+?b", 0],
  ["\\.\\*\\\\", 0],
  ["(?i:a)b", 0],
  ["a(?i)b|c", 0],
  ["cmd.{0,5}(?:/c|/r).+powershell", RE2JS.CASE_INSENSITIVE],
  ["(a+)+$", 0],
  ["[a-f0-9]{32}", 0],
  ["\\\\[a-z]{1,8}\\.exe$", RE2JS.CASE_INSENSITIVE],
];
const ALPHABET = [
  ..."abckKsSxyz019fF \t\n\r\\/.-_:\"'`{}()[]$^*+?|,=%&@",
  "\u212a",
  "\u017f",
  "é",
  "É",
  "\u00ff",
  "\ud83d\ude00",
  "\ud800",
  "\udc00",
  "–",
  "İ",
  "ı",
];

/**
 * Every `|re` value, and every OR-list of them as the one alternation the engine runs it as (`(?i:a)|(?i:b)…`,
 * see `regexUnion`).
 */
function regexesOfCorpus(root: string): [string, number][] {
  const out: [string, number][] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) visit(item);
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
        const mods = key.split("|").slice(1);
        if (mods.includes("re")) {
          let flags = 0;
          if (mods.includes("i")) flags |= RE2JS.CASE_INSENSITIVE;
          if (mods.includes("s")) flags |= RE2JS.DOTALL;
          if (mods.includes("m")) flags |= RE2JS.MULTILINE;
          const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
          for (const v of values) out.push([v, flags]);
          const inline = `${mods.includes("i") ? "i" : ""}${mods.includes("s") ? "s" : ""}`;
          if (values.length > 1) {
            out.push([values.map((v) => `(?${inline}:${v})`).join("|"), flags & RE2JS.MULTILINE]);
          }
        } else visit(value);
      }
    }
  };
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".yml")) visit((load(readFileSync(path, "utf8")) as { detection?: unknown }).detection);
    }
  };
  for (const d of ["rules", "rules-threat-hunting", "rules-emerging-threats"]) walk(join(root, d));
  return out;
}

function differential(
  patterns: readonly [string, number][],
  perPattern: number,
): { compared: number; differences: string[] } {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const differences: string[] = [];
  let compared = 0;
  for (const [source, flags] of patterns) {
    let reference: RE2JS;
    try {
      reference = RE2JS.compile(source, flags);
    } catch {
      continue;
    }
    const dfa = compileLinearRegex(source, {
      caseInsensitive: (flags & RE2JS.CASE_INSENSITIVE) !== 0,
      dotAll: (flags & RE2JS.DOTALL) !== 0,
    });
    if (dfa === undefined || (flags & RE2JS.MULTILINE) !== 0) continue; // stays on RE2JS
    compared += 1;
    const fragments = source
      .replace(/\\[dswDSW]|[\\()[\]{}*+?|^$.]/g, " ")
      .split(/\s+/)
      .filter((x) => x !== "");
    for (let n = 0; n < perPattern; n += 1) {
      let s = "";
      const length = rnd(n < perPattern / 2 ? 12 : 80);
      for (let i = 0; i < length; i += 1) {
        const r = rnd(10);
        if (r < 3 && fragments.length > 0) s += fragments[rnd(fragments.length)] ?? "";
        else if (r < 5) s += "0123456789abcdefABCDEF"[rnd(22)] ?? "";
        else s += ALPHABET[rnd(ALPHABET.length)] ?? "";
      }
      if (n % 50 === 0) s = "x".repeat(rnd(1200));
      if (reference.test(s) !== dfa.test(s)) differences.push(`${JSON.stringify(source)} on ${JSON.stringify(s)}`);
    }
  }
  return { compared, differences };
}

test("the lazy DFA agrees with RE2 on edge cases", () => {
  const { compared, differences } = differential(EDGE_CASES, 400);
  assert.ok(compared >= EDGE_CASES.length - 2, `only ${compared} edge cases compiled`);
  assert.deepEqual(differences.slice(0, 10), []);
});

test("the lazy DFA agrees with RE2 on every |re value (and OR-list) of the SigmaHQ corpus", (t) => {
  const shared = sharedDataDir();
  if (shared === undefined) return t.skip(SHARED_DATA_MISSING);
  const patterns = regexesOfCorpus(join(shared, "sigma"));
  assert.ok(patterns.length > 150, `${patterns.length} regexes found`);
  const { compared, differences } = differential(patterns, 120);
  assert.ok(compared / patterns.length > 0.95, `${compared} of ${patterns.length} compiled to the DFA`);
  assert.deepEqual(differences.slice(0, 10), []);
});

test("a catastrophic-backtracking pattern runs in linear time", () => {
  const dfa = compileLinearRegex("(a+)+$", { caseInsensitive: false, dotAll: false });
  assert.ok(dfa !== undefined);
  // A backtracking engine never returns from this; the DFA reads it once.
  assert.equal(dfa.test(`${"a".repeat(100_000)}!`), false);
  assert.equal(dfa.test("a".repeat(100_000)), true);
  assert.equal(
    compileLinearRegex("(a+)+b", { caseInsensitive: false, dotAll: false })?.test("a".repeat(100_000)),
    false,
  );
});
