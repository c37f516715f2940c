/**
 * Exponential backoff with jitter: the n-th consecutive failure waits between half and all of
 * `min(maxMs, initialMs · 2^n)`. The random half spreads a fleet of agents that lost the server at the same
 * moment, so they do not all come back in the same second; the fixed half keeps one agent from retrying
 * at once when the draw is near zero.
 */
export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: { initialMs?: number; maxMs?: number; random?: () => number } = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt, counting one more failure. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
