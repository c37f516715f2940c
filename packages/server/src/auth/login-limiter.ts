/**
 * Failed logins counted per client address and per (address, username) in a sliding window. An address
 * guessing many accounts hits the first limit, one guessing one account the second; a locked account does
 * not lock out its owner elsewhere (keys include the address), so the limiter cannot be used to deny
 * service to a known username.
 */
export type LoginLimiterOptions = {
  readonly windowMs: number;
  readonly maxPerAddress: number;
  readonly maxPerAccount: number;
  /** Entries kept at most; the oldest go first (memory stays bounded under a spray of addresses). */
  readonly maxEntries: number;
};

export const LOGIN_LIMITS: LoginLimiterOptions = {
  windowMs: 15 * 60_000,
  maxPerAddress: 20,
  maxPerAccount: 5,
  maxEntries: 50_000,
};

import { ApiError } from "../errors.ts";

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly options: LoginLimiterOptions;

  constructor(options: LoginLimiterOptions = LOGIN_LIMITS) {
    this.options = options;
  }

  /** Milliseconds until a login from this address for this user may be tried again; 0 when allowed now. */
  retryAfterMs(address: string, username: string, now: number): number {
    const byAddress = this.recent(`a:${address}`, now);
    const byAccount = this.recent(`u:${address}:${username.toLowerCase()}`, now);
    const wait = (list: number[], max: number): number =>
      list.length >= max ? list[list.length - max]! + this.options.windowMs - now : 0;
    return Math.max(wait(byAddress, this.options.maxPerAddress), wait(byAccount, this.options.maxPerAccount), 0);
  }

  /** Throws 429 R3_ERR_AUTH_RATE_LIMITED (with `Retry-After`) while `retryAfterMs` is not 0. */
  check(address: string, username: string, now: number, what: string): void {
    const waitMs = this.retryAfterMs(address, username, now);
    if (waitMs === 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    throw new ApiError(
      "R3_ERR_AUTH_RATE_LIMITED",
      `too many ${what}: try again in ${seconds} s`,
      { retryAfterSeconds: seconds },
      { "retry-after": String(seconds) },
    );
  }

  recordFailure(address: string, username: string, now: number): void {
    this.push(`a:${address}`, now);
    this.push(`u:${address}:${username.toLowerCase()}`, now);
  }

  recordSuccess(address: string, username: string): void {
    this.failures.delete(`u:${address}:${username.toLowerCase()}`);
  }

  private recent(key: string, now: number): number[] {
    const list = this.failures.get(key);
    if (list === undefined) return [];
    const cutoff = now - this.options.windowMs;
    while (list.length > 0 && list[0]! <= cutoff) list.shift();
    if (list.length === 0) this.failures.delete(key);
    return list;
  }

  private push(key: string, now: number): void {
    const list = this.recent(key, now);
    list.push(now);
    // Re-inserting keeps the Map in least-recently-failed order for eviction.
    this.failures.delete(key);
    this.failures.set(key, list.slice(-Math.max(this.options.maxPerAddress, this.options.maxPerAccount)));
    while (this.failures.size > this.options.maxEntries) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
  }
}
