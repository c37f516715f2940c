/** How many automatic actions of one kind may run in a window. */
export type RateLimit = { readonly max: number; readonly perMs: number };

/**
 * Automatic responses only (an operator's command is never throttled): a rule that matches a thousand times
 * a minute must not become a thousand kills or a host isolated over and over. A sliding window per key.
 */
export class RateLimiter {
  private readonly limits: Readonly<Record<string, RateLimit>>;
  private readonly fallback: RateLimit;
  private readonly history = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(limits: Readonly<Record<string, RateLimit>>, fallback: RateLimit, now: () => number = Date.now) {
    this.limits = limits;
    this.fallback = fallback;
    this.now = now;
  }

  /** Takes one slot for `key`; false when the window is full (nothing is taken then). */
  take(key: string): boolean {
    const limit = this.limits[key] ?? this.fallback;
    const now = this.now();
    const recent = (this.history.get(key) ?? []).filter((t) => now - t < limit.perMs);
    if (recent.length >= limit.max) {
      this.history.set(key, recent);
      return false;
    }
    recent.push(now);
    this.history.set(key, recent);
    return true;
  }
}
