type Hit = (id: number, end: number) => boolean | void;

const stop: Hit = () => true;

/**
 * The shallowest states (breadth-first) of a prefilter's automaton get a full transition row for ASCII,
 * failure links resolved: a scan spends most characters near the root, where that makes each step one lookup.
 * Small automata (keywords, most fields) are then a plain DFA; a large one's rows are capped, for memory.
 */
export const ROW_STATES = 256;

/**
 * Aho–Corasick automaton over lower-cased literals. The trie is stored flat (children of a state are a run in
 * typed arrays, found by a short linear search; the shallowest states have full rows, see ROW_STATES), with
 * failure links, so the whole SigmaHQ Windows ruleset's literals take a few MB instead of a dense table's
 * hundreds. Scanning is linear in the input: each character takes one transition plus amortised failure steps.
 */
export class AhoCorasickMatcher {
  private readonly rootAscii = new Int32Array(128);
  private readonly rootOther = new Map<number, number>();
  private readonly childStart: Int32Array;
  private readonly childCount: Int32Array;
  private readonly childCode: Uint16Array;
  private readonly childTarget: Int32Array;
  /** Per state, the start of its row in `rows` (128 next states, one per ASCII code), or -1. */
  private readonly row: Int32Array;
  private readonly rows: Int32Array;
  private readonly fail: Int32Array;
  /** 1 when the state or a state on its output chain ends a literal: the scan loop only then looks further. */
  private readonly reports: Uint8Array;
  private readonly outputLink: Int32Array;
  private readonly outStart: Int32Array;
  private readonly outIds: Int32Array;

  /** `rowStates`: how many states get a row (at least the root does). */
  constructor(literals: readonly { readonly text: string; readonly id: number }[], rowStates = 1) {
    // 1. The trie. Edges go in one map keyed by state and character, and ends in a linked list, so that
    // building allocates a handful of objects whatever the size (not one map per state).
    const edgeTo = new Map<number, number>();
    const endState: number[] = [];
    let states = 1;
    for (const { text } of literals) {
      let state = 0;
      for (let i = 0; i < text.length; i += 1) {
        const key = state * 0x10000 + text.charCodeAt(i);
        let to = edgeTo.get(key);
        if (to === undefined) {
          to = states;
          states += 1;
          edgeTo.set(key, to);
        }
        state = to;
      }
      endState.push(state);
    }
    // 2. Flatten children: each state's children are a run, found by counting first.
    this.childStart = new Int32Array(states);
    this.childCount = new Int32Array(states);
    for (const key of edgeTo.keys()) {
      const state = Math.floor(key / 0x10000);
      this.childCount[state] = (this.childCount[state] as number) + 1;
    }
    let at = 0;
    for (let s = 0; s < states; s += 1) {
      this.childStart[s] = at;
      at += this.childCount[s] as number;
    }
    this.childCode = new Uint16Array(at);
    this.childTarget = new Int32Array(at);
    const filled = new Int32Array(states);
    for (const [key, to] of edgeTo) {
      const state = Math.floor(key / 0x10000);
      const slot = (this.childStart[state] as number) + (filled[state] as number);
      filled[state] = (filled[state] as number) + 1;
      this.childCode[slot] = key % 0x10000;
      this.childTarget[slot] = to;
      if (state === 0) {
        if (key < 128) this.rootAscii[key] = to;
        else this.rootOther.set(key, to);
      }
    }
    const ends = new Int32Array(states);
    for (const state of endState) ends[state] = (ends[state] as number) + 1;
    this.row = new Int32Array(states).fill(-1);
    const rowCount = Math.max(1, Math.min(states, rowStates));
    this.rows = new Int32Array(rowCount * 128);
    // 3. Failure and output links, breadth-first.
    this.fail = new Int32Array(states);
    this.outputLink = new Int32Array(states).fill(-1);
    this.reports = new Uint8Array(states);
    const queue: number[] = [];
    const children = (state: number): number[] => {
      const start = this.childStart[state] as number;
      return Array.from({ length: this.childCount[state] as number }, (_, k) => start + k);
    };
    for (const edge of children(0)) queue.push(this.childTarget[edge] as number);
    for (let head = 0; head < queue.length; head += 1) {
      const state = queue[head] ?? 0;
      const f = this.fail[state] ?? 0;
      this.outputLink[state] = (ends[f] as number) > 0 ? f : (this.outputLink[f] ?? -1);
      this.reports[state] = (ends[state] as number) > 0 || this.outputLink[state] !== -1 ? 1 : 0;
      for (const edge of children(state)) {
        const code = this.childCode[edge] as number;
        const to = this.childTarget[edge] as number;
        // The failure state of `to` is where the longest proper suffix of its string leads.
        let g = f;
        let target: number;
        for (;;) {
          target = this.step(g, code);
          if (target >= 0 || g === 0) break;
          g = this.fail[g] ?? 0;
        }
        this.fail[to] = Math.max(target, 0);
        queue.push(to);
      }
    }
    // 4. Rows, breadth-first: a failure state is shallower, so its row is already there.
    const order = [0, ...queue].slice(0, rowCount);
    order.forEach((state, n) => {
      const base = n * 128;
      this.row[state] = base;
      const f = this.fail[state] as number;
      for (let code = 0; code < 128; code += 1) {
        const child = this.step(state, code);
        this.rows[base + code] =
          state === 0 || child >= 0 ? child : (this.rows[(this.row[f] as number) + code] as number);
      }
    });
    // 5. Output ids, flat, in the order the literals were given.
    this.outStart = new Int32Array(states + 1);
    let total = 0;
    for (let s = 0; s < states; s += 1) {
      this.outStart[s] = total;
      total += ends[s] as number;
    }
    this.outStart[states] = total;
    this.outIds = new Int32Array(total);
    filled.fill(0);
    literals.forEach(({ id }, n) => {
      const state = endState[n] as number;
      this.outIds[(this.outStart[state] as number) + (filled[state] as number)] = id;
      filled[state] = (filled[state] as number) + 1;
    });
  }

  get stateCount(): number {
    return this.fail.length;
  }

  /** The child of `state` on `code`, or -1 (the root answers 0 for characters it has no child for). */
  private step(state: number, code: number): number {
    if (state === 0) {
      return code < 128 ? (this.rootAscii[code] ?? 0) : (this.rootOther.get(code) ?? 0);
    }
    return this.child(state, code);
  }

  private child(state: number, code: number): number {
    const start = this.childStart[state] as number;
    const end = start + (this.childCount[state] as number);
    const childCode = this.childCode;
    for (let i = start; i < end; i += 1) if (childCode[i] === code) return this.childTarget[i] as number;
    return -1;
  }

  /** The state after `code` from `state`: its child, else the child of the longest suffix that has one. */
  private advance(state: number, code: number): number {
    const row = this.row;
    const fail = this.fail;
    let s = state;
    for (;;) {
      if (code < 128 && (row[s] as number) >= 0) return this.rows[(row[s] as number) + code] as number;
      if (s === 0) return this.rootOther.get(code) ?? 0;
      const next = this.child(s, code);
      if (next >= 0) return next;
      s = fail[s] as number;
    }
  }

  /**
   * Calls `hit(id, end)` for every literal occurring in `input`, `end` the index after it (ids may repeat);
   * `hit` returning true stops the scan, and then so does `scan`.
   */
  scan(input: string, hit: Hit): boolean {
    const reports = this.reports;
    let state = 0;
    for (let i = 0; i < input.length; i += 1) {
      state = this.advance(state, input.charCodeAt(i));
      if (reports[state] === 1 && this.report(state, i + 1, hit)) return true;
    }
    return false;
  }

  /**
   * `scan` of `input` lower-cased, for ASCII input: upper-case letters are folded on the way, without making
   * the lower-cased copy. Returns false, having reported only part of the hits, when `input` is not ASCII.
   */
  scanAscii(input: string, hit: (id: number, end: number) => void): boolean {
    // `advance` inlined: this loop runs over every new value of every indexed field.
    const reports = this.reports;
    const row = this.row;
    const rows = this.rows;
    const fail = this.fail;
    const childStart = this.childStart;
    const childCount = this.childCount;
    const childCode = this.childCode;
    const childTarget = this.childTarget;
    let state = 0;
    for (let i = 0; i < input.length; i += 1) {
      let code = input.charCodeAt(i);
      if (code >= 128) return false;
      if (code >= 65 && code <= 90) code += 32;
      for (;;) {
        const r = row[state] as number;
        if (r >= 0) {
          state = rows[r + code] as number;
          break;
        }
        const start = childStart[state] as number;
        const end = start + (childCount[state] as number);
        let next = -1;
        for (let k = start; k < end; k += 1) {
          if (childCode[k] === code) {
            next = childTarget[k] as number;
            break;
          }
        }
        if (next >= 0) {
          state = next;
          break;
        }
        state = fail[state] as number;
      }
      if (reports[state] === 1) this.report(state, i + 1, hit);
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
      const next = this.step(state, input.charCodeAt(fromEnd ? n - 1 - j : j));
      if (next <= 0) return false;
      state = next;
      if ((this.outStart[state] as number) < (this.outStart[state + 1] as number)) return true;
    }
    return false;
  }

  /** Whether any literal occurs in `input`. */
  contains(input: string): boolean {
    return this.scan(input, stop);
  }

  private report(state: number, at: number, hit: Hit): boolean {
    let s = state;
    while (s > 0) {
      const end = this.outStart[s + 1] ?? 0;
      for (let i = this.outStart[s] ?? 0; i < end; i += 1) if (hit(this.outIds[i] ?? 0, at) === true) return true;
      s = this.outputLink[s] ?? -1;
    }
    return false;
  }
}
