import { test } from "node:test";
import assert from "node:assert/strict";
import type { AhoCorasickLiteral } from "../src/aho-corasick.ts";
import { AhoCorasickMatcher } from "../src/aho-corasick.ts";

/** A small deterministic generator, so that a failure can be replayed. */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

// Few letters, so literals overlap and share prefixes and suffixes; non-ASCII to leave the fast path.
const ALPHABET = ["a", "b", "c", "\\", ".", "é", "ſ", "A", "B"];

function text(rand: (n: number) => number, max: number): string {
  let out = "";
  const length = rand(max + 1);
  for (let i = 0; i < length; i += 1) out += ALPHABET[rand(ALPHABET.length)] as string;
  return out;
}

/** Ids of the literals occurring in `input` where their anchors allow, each once, sorted. */
function naive(literals: readonly AhoCorasickLiteral[], input: string): number[] {
  const ids = new Set<number>();
  for (const l of literals) {
    for (let at = input.indexOf(l.text); at >= 0; at = input.indexOf(l.text, at + 1)) {
      if (l.start === true && at !== 0) continue;
      if (l.end === true && at + l.text.length !== input.length) continue;
      ids.add(l.id);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

const sorted = (ids: number[]): number[] => [...new Set(ids)].sort((a, b) => a - b);

test("find and findFolded report exactly the literals a naive search finds, anchors included", () => {
  const rand = generator(7);
  for (let round = 0; round < 300; round += 1) {
    const literals: AhoCorasickLiteral[] = [];
    const count = 1 + rand(12);
    for (let i = 0; i < count; i += 1) {
      const body = text(rand, 4).toLowerCase() || "a";
      // Some literals share an id, as the atom sets of one rule do.
      literals.push({ text: body, id: rand(8), start: rand(4) === 0, end: rand(4) === 0 });
    }
    // From a plain trie (one row) to a full DFA: the answers must not depend on it.
    const matcher = new AhoCorasickMatcher(literals, [1, 3, 1000][round % 3]);
    for (let k = 0; k < 20; k += 1) {
      const input = text(rand, 14);
      const lower = input.toLowerCase();
      const found: number[] = [];
      matcher.find(lower, found);
      assert.deepEqual(sorted(found), naive(literals, lower), `find ${JSON.stringify(lower)}`);
      const folded: number[] = [];
      const ascii = matcher.findFolded(input, folded);
      assert.equal(
        ascii,
        [...input].every((c) => c.charCodeAt(0) < 128),
      );
      if (ascii) assert.deepEqual(sorted(folded), naive(literals, lower), `findFolded ${JSON.stringify(input)}`);
      assert.equal(
        matcher.contains(lower),
        literals.some((l) => lower.includes(l.text)),
        `contains ${JSON.stringify(lower)}`,
      );
    }
  }
});

test("a literal is reported once per input, however often it occurs", () => {
  const matcher = new AhoCorasickMatcher([
    { text: "ab", id: 1 },
    { text: "b", id: 2 },
  ]);
  const found: number[] = [];
  matcher.find("ababab", found);
  assert.deepEqual(found.sort(), [1, 2]);
  // And again in the next input.
  const again: number[] = [];
  assert.equal(matcher.findFolded("xxAB", again), true);
  assert.deepEqual(again.sort(), [1, 2]);
});

test("anchored: whether the input begins, or (with reversed literals) ends, with a literal", () => {
  const rand = generator(11);
  for (let round = 0; round < 200; round += 1) {
    const words = Array.from({ length: 1 + rand(6) }, () => text(rand, 4) || "a");
    const prefixes = new AhoCorasickMatcher(words.map((w, id) => ({ text: w, id })));
    const suffixes = new AhoCorasickMatcher(words.map((w, id) => ({ text: [...w].reverse().join(""), id })));
    for (let k = 0; k < 20; k += 1) {
      const input = text(rand, 10);
      assert.equal(
        prefixes.anchored(input, false),
        words.some((w) => input.startsWith(w)),
        `${JSON.stringify(words)} prefix of ${JSON.stringify(input)}`,
      );
      assert.equal(
        suffixes.anchored(input, true),
        words.some((w) => input.endsWith(w)),
        `${JSON.stringify(words)} suffix of ${JSON.stringify(input)}`,
      );
    }
  }
});
