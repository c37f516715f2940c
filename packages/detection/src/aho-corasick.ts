/**
 * Aho–Corasick automaton over lower-cased literals, compiled to a dense transition table on a compressed
 * alphabet (only characters that occur in some literal get a column; every other character leads back to the
 * root). Scanning is one table lookup per input character: linear in the input whatever the literals are.
 */
export class AhoCorasickMatcher {
  private readonly classOfAscii = new Uint16Array(128);
  private readonly classOfOther = new Map<number, number>();
  private readonly width: number;
  private readonly next: Int32Array;
  /** For each state, the payload ids of literals ending here, or of the nearest shorter literal (via links). */
  private readonly outputs: (readonly number[] | undefined)[];
  private readonly outputLink: Int32Array;

  constructor(literals: readonly { readonly text: string; readonly id: number }[]) {
    let classes = 1;
    const classOf = (code: number): number => {
      if (code < 128) {
        const c = this.classOfAscii[code] ?? 0;
        if (c !== 0) return c;
        this.classOfAscii[code] = classes;
        return classes++;
      }
      const c = this.classOfOther.get(code);
      if (c !== undefined) return c;
      this.classOfOther.set(code, classes);
      return classes++;
    };
    // Build the trie with sparse children first.
    const children: Map<number, number>[] = [new Map<number, number>()];
    const outputs: number[][] = [[]];
    for (const { text, id } of literals) {
      let state = 0;
      for (let i = 0; i < text.length; i += 1) {
        const cls = classOf(text.charCodeAt(i));
        const kids = children[state] as Map<number, number>;
        let to = kids.get(cls);
        if (to === undefined) {
          to = children.length;
          children.push(new Map<number, number>());
          outputs.push([]);
          kids.set(cls, to);
        }
        state = to;
      }
      (outputs[state] as number[]).push(id);
    }
    this.width = classes;
    const states = children.length;
    this.next = new Int32Array(states * classes);
    this.outputLink = new Int32Array(states).fill(-1);
    const fail = new Int32Array(states);
    // Breadth-first: each state's transitions are its trie children or its failure state's transitions.
    const queue: number[] = [];
    for (const [cls, to] of children[0] ?? []) {
      this.next[cls] = to;
      queue.push(to);
    }
    for (let head = 0; head < queue.length; head += 1) {
      const state = queue[head] ?? 0;
      const f = fail[state] ?? 0;
      this.outputLink[state] = (outputs[f]?.length ?? 0) > 0 ? f : (this.outputLink[f] ?? -1);
      const base = state * classes;
      const failBase = f * classes;
      for (let cls = 1; cls < classes; cls += 1) this.next[base + cls] = this.next[failBase + cls] ?? 0;
      for (const [cls, to] of children[state] ?? []) {
        fail[to] = this.next[failBase + cls] ?? 0;
        this.next[base + cls] = to;
        queue.push(to);
      }
    }
    this.outputs = outputs.map((o) => (o.length > 0 ? o : undefined));
  }

  get stateCount(): number {
    return this.outputs.length;
  }

  /** Calls `hit(id)` for every literal occurring in `input` (ids may repeat). */
  scan(input: string, hit: (id: number) => void): void {
    const width = this.width;
    const next = this.next;
    const ascii = this.classOfAscii;
    const other = this.classOfOther;
    let state = 0;
    for (let i = 0; i < input.length; i += 1) {
      const code = input.charCodeAt(i);
      const cls = code < 128 ? (ascii[code] ?? 0) : (other.get(code) ?? 0);
      state = next[state * width + cls] ?? 0;
      let s = state;
      while (s > 0) {
        const out = this.outputs[s];
        if (out !== undefined) for (const id of out) hit(id);
        s = this.outputLink[s] ?? -1;
      }
    }
  }
}
