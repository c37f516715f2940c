/** A literal to look for: `start` / `end`, it counts only where it begins / ends the input. */
export type AhoCorasickLiteral = {
  readonly text: string;
  readonly id: number;
  readonly start?: boolean;
  readonly end?: boolean;
};

/**
 * The shallowest states (breadth-first) of a prefilter's automaton get a full transition row for ASCII,
 * failure links resolved: a scan spends most characters near the root, where that makes each step one lookup.
 * Small automata (keywords, most fields) are then a plain DFA; a large one's rows are capped, for memory.
 */
export const ROW_STATES = 256;

const ANCHOR_START = 1;
const ANCHOR_END = 2;

/**
 * Aho–Corasick automaton over literals. States are numbered breadth-first, so the children of a state are a
 * run of consecutive states (`firstChild[s]` up to `firstChild[s + 1]`), each found by the character that
 * leads to it (`code`); the shallowest states, numbered first, have full rows (see ROW_STATES). Only states
 * that end a literal, or whose suffix does, carry output records. A state costs 14 bytes, so the literals of
 * the whole SigmaHQ Windows ruleset take a few MB. Scanning is linear in the input: each character takes one
 * transition plus amortised failure steps.
 */
export class AhoCorasickMatcher {
  private readonly firstChild: Int32Array;
  /** Per state, the character that leads to it from its parent. */
  private readonly code: Uint16Array;
  private readonly fail: Int32Array;
  /**
   * States below this have a row: `rows[state * width + classOf[code]]` is the next state for an ASCII code.
   * The ASCII characters the literals use have a class each; all others share class 0, which leads to the
   * root from every state.
   */
  private readonly rowLimit: number;
  private readonly width: number;
  private readonly classOf = new Uint8Array(128);
  private readonly rows: Int32Array;
  /** The root's children on non-ASCII characters. */
  private readonly rootOther = new Map<number, number>();
  /** Per state, 1 + its output record, or 0 when neither it nor a suffix of it ends a literal. */
  private readonly reports: Int32Array;
  /** Per output record: its literals (`outLiterals[outStart[r]…outStart[r + 1]]`) and the next record down. */
  private readonly outStart: Int32Array;
  private readonly outLiterals: Int32Array;
  private readonly outNext: Int32Array;
  /** Per literal (by position in the constructor's list): its id, length and anchors. */
  private readonly ids: Int32Array;
  private readonly lengths: Int32Array;
  private readonly anchors: Uint8Array;
  /** Per literal, the last `find` that reported it: each is reported once per input. */
  private readonly stamps: Uint32Array;
  private stamp = 0;

  /** `rowStates`: how many states get a row (at least the root does). */
  constructor(literals: readonly AhoCorasickLiteral[], rowStates = 1) {
    const count = literals.length;
    this.ids = Int32Array.from(literals, (l) => l.id);
    this.lengths = Int32Array.from(literals, (l) => l.text.length);
    this.anchors = Uint8Array.from(
      literals,
      (l) => (l.start === true ? ANCHOR_START : 0) | (l.end === true ? ANCHOR_END : 0),
    );
    this.stamps = new Uint32Array(count);
    // 1. The trie, with temporary ids: each state's children in a linked list (first child, next sibling) in
    // growing typed arrays, so that building allocates a handful of objects whatever the size.
    let capacity = 1024;
    let head = new Int32Array(capacity).fill(-1);
    let sibling = new Int32Array(capacity);
    let codeOld = new Uint16Array(capacity);
    const endOf = new Int32Array(count);
    let states = 1;
    for (let n = 0; n < count; n += 1) {
      const text = (literals[n] as AhoCorasickLiteral).text;
      let state = 0;
      for (let i = 0; i < text.length; i += 1) {
        const code = text.charCodeAt(i);
        let to = head[state] as number;
        while (to >= 0 && codeOld[to] !== code) to = sibling[to] as number;
        if (to < 0) {
          if (states === capacity) {
            capacity *= 2;
            const grownHead = new Int32Array(capacity).fill(-1);
            grownHead.set(head);
            head = grownHead;
            const grownSibling = new Int32Array(capacity);
            grownSibling.set(sibling);
            sibling = grownSibling;
            const grownCode = new Uint16Array(capacity);
            grownCode.set(codeOld);
            codeOld = grownCode;
          }
          to = states;
          states += 1;
          codeOld[to] = code;
          sibling[to] = head[state] as number;
          head[state] = to;
        }
        state = to;
      }
      endOf[n] = state;
    }
    // 2. Breadth-first numbering: a state's children get consecutive numbers.
    const newId = new Int32Array(states);
    const order = new Int32Array(states);
    let next = 1;
    this.firstChild = new Int32Array(states + 1);
    this.code = new Uint16Array(states);
    for (let at = 0; at < states; at += 1) {
      const old = order[at] as number;
      this.firstChild[at] = next;
      for (let child = head[old] as number; child >= 0; child = sibling[child] as number) {
        newId[child] = next;
        order[next] = child;
        this.code[next] = codeOld[child] as number;
        next += 1;
      }
    }
    this.firstChild[states] = next;
    // 3. Failure links, breadth-first (a state's failure state is shallower, so already known).
    this.fail = new Int32Array(states);
    let width = 1;
    for (let c = 1; c < states; c += 1) {
      const code = this.code[c] as number;
      if (code < 128 && this.classOf[code] === 0) this.classOf[code] = width++;
    }
    this.width = width;
    this.rowLimit = Math.max(1, Math.min(states, rowStates));
    this.rows = new Int32Array(this.rowLimit * width);
    for (let c = this.firstChild[0] as number; c < (this.firstChild[1] as number); c += 1) {
      const code = this.code[c] as number;
      if (code < 128) this.rows[this.classOf[code] as number] = c;
      else this.rootOther.set(code, c);
    }
    for (let s = 1; s < states; s += 1) {
      const end = this.firstChild[s + 1] as number;
      for (let c = this.firstChild[s] as number; c < end; c += 1) {
        // The failure state of `c` is where the longest proper suffix of its string leads.
        const code = this.code[c] as number;
        let g = this.fail[s] as number;
        let target = this.child(g, code);
        while (target < 0 && g !== 0) {
          g = this.fail[g] as number;
          target = this.child(g, code);
        }
        this.fail[c] = Math.max(target, 0);
      }
      if (s < this.rowLimit) {
        const base = s * width;
        const failBase = (this.fail[s] as number) * width;
        for (let k = 1; k < width; k += 1) this.rows[base + k] = this.rows[failBase + k] as number;
        for (let c = this.firstChild[s] as number; c < (this.firstChild[s + 1] as number); c += 1) {
          const code = this.code[c] as number;
          if (code < 128) this.rows[base + (this.classOf[code] as number)] = c;
        }
      }
    }
    // 4. Output records, for the states that end a literal or have a suffix that does.
    const ends = new Int32Array(states + 1);
    for (let n = 0; n < count; n += 1) {
      const s = newId[endOf[n] as number] as number;
      ends[s] = (ends[s] as number) + 1;
    }
    this.reports = new Int32Array(states);
    let records = 0;
    // Breadth-first, so a state's failure state has its record (or none) before the state.
    for (let s = 1; s < states; s += 1) {
      if ((ends[s] as number) > 0 || (this.reports[this.fail[s] as number] as number) > 0) {
        records += 1;
        this.reports[s] = records;
      }
    }
    this.outStart = new Int32Array(records + 1);
    this.outNext = new Int32Array(records);
    for (let s = 1; s < states; s += 1) {
      const r = (this.reports[s] as number) - 1;
      if (r < 0) continue;
      this.outStart[r + 1] = ends[s] as number;
      this.outNext[r] = (this.reports[this.fail[s] as number] as number) - 1;
    }
    for (let r = 0; r < records; r += 1)
      this.outStart[r + 1] = (this.outStart[r + 1] as number) + (this.outStart[r] as number);
    this.outLiterals = new Int32Array(this.outStart[records] as number);
    const at = new Int32Array(records);
    for (let n = 0; n < count; n += 1) {
      const r = (this.reports[newId[endOf[n] as number] as number] as number) - 1;
      this.outLiterals[(this.outStart[r] as number) + (at[r] as number)] = n;
      at[r] = (at[r] as number) + 1;
    }
  }

  get stateCount(): number {
    return this.fail.length;
  }

  /** The child of `state` on `code`, or -1. */
  private child(state: number, code: number): number {
    if (state === 0) {
      const c = code < 128 ? (this.rows[this.classOf[code] as number] as number) : (this.rootOther.get(code) ?? 0);
      return c > 0 ? c : -1;
    }
    const end = this.firstChild[state + 1] as number;
    const codes = this.code;
    for (let c = this.firstChild[state] as number; c < end; c += 1) if (codes[c] === code) return c;
    return -1;
  }

  /** The state after `code` from `state`: its child, else the child of the longest suffix that has one. */
  private advance(state: number, code: number): number {
    let s = state;
    for (;;) {
      if (code < 128 && s < this.rowLimit) return this.rows[s * this.width + (this.classOf[code] as number)] as number;
      if (s === 0) return this.rootOther.get(code) ?? 0;
      const next = this.child(s, code);
      if (next >= 0) return next;
      s = this.fail[s] as number;
    }
  }

  /** Pushes to `out` the id of every literal occurring in `input` where its anchors allow, once each. */
  find(input: string, out: number[]): void {
    const reports = this.reports;
    const stamp = this.nextStamp();
    let state = 0;
    for (let i = 0; i < input.length; i += 1) {
      state = this.advance(state, input.charCodeAt(i));
      if (reports[state] !== 0) this.report(state, i + 1, input.length, stamp, out);
    }
  }

  /**
   * `find` in `input` lower-cased, for ASCII input: upper-case letters are folded on the way, without making
   * the lower-cased copy. Returns false, having pushed only part of the ids, when `input` is not ASCII.
   */
  findFolded(input: string, out: number[]): boolean {
    // `advance` inlined: this loop runs over every new value of every indexed field.
    const reports = this.reports;
    const rows = this.rows;
    const rowLimit = this.rowLimit;
    const width = this.width;
    const classOf = this.classOf;
    const fail = this.fail;
    const firstChild = this.firstChild;
    const codes = this.code;
    const stamp = this.nextStamp();
    const length = input.length;
    let state = 0;
    for (let i = 0; i < length; i += 1) {
      let code = input.charCodeAt(i);
      if (code >= 128) return false;
      if (code >= 65 && code <= 90) code += 32;
      for (;;) {
        if (state < rowLimit) {
          state = rows[state * width + (classOf[code] as number)] as number;
          break;
        }
        const end = firstChild[state + 1] as number;
        let next = -1;
        for (let c = firstChild[state] as number; c < end; c += 1) {
          if (codes[c] === code) {
            next = c;
            break;
          }
        }
        if (next >= 0) {
          state = next;
          break;
        }
        state = fail[state] as number;
      }
      if (reports[state] !== 0) this.report(state, i + 1, length, stamp, out);
    }
    return true;
  }

  /**
   * Whether `input` begins with one of the literals; with `fromEnd`, whether it ends with one (the literals
   * must then have been given reversed). Walks the trie alone: at most the longest literal's length.
   */
  anchored(input: string, fromEnd: boolean): boolean {
    const n = input.length;
    let state = 0;
    for (let j = 0; j < n; j += 1) {
      const next = this.child(state, input.charCodeAt(fromEnd ? n - 1 - j : j));
      if (next < 0) return false;
      state = next;
      const r = (this.reports[state] as number) - 1;
      if (r >= 0 && (this.outStart[r] as number) < (this.outStart[r + 1] as number)) return true;
    }
    return false;
  }

  /** Whether any literal occurs in `input` (anchors aside). */
  contains(input: string): boolean {
    const reports = this.reports;
    let state = 0;
    for (let i = 0; i < input.length; i += 1) {
      state = this.advance(state, input.charCodeAt(i));
      if (reports[state] !== 0) return true;
    }
    return false;
  }

  private nextStamp(): number {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  private report(state: number, end: number, length: number, stamp: number, out: number[]): void {
    const stamps = this.stamps;
    for (let r = (this.reports[state] as number) - 1; r >= 0; r = this.outNext[r] as number) {
      const last = this.outStart[r + 1] as number;
      for (let k = this.outStart[r] as number; k < last; k += 1) {
        const literal = this.outLiterals[k] as number;
        if (stamps[literal] === stamp) continue;
        const anchor = this.anchors[literal] as number;
        if ((anchor & ANCHOR_START) !== 0 && end !== this.lengths[literal]) continue;
        if ((anchor & ANCHOR_END) !== 0 && end !== length) continue;
        stamps[literal] = stamp;
        out.push(this.ids[literal] as number);
      }
    }
  }
}
