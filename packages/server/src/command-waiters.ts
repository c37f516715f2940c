/**
 * Long-polls of connected agents waiting for commands, by host. Queuing a command for a host wakes its
 * waiter at once, so delivery latency is a round trip, not a poll interval.
 */
export class CommandWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private closed = false;

  get size(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }

  /** Resolves on `notify(hostId)`, after `ms`, when `signal` aborts or on `close()`; whichever comes first. */
  wait(hostId: string, ms: number, signal: AbortSignal): Promise<void> {
    if (this.closed || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiting.get(hostId);
      if (set === undefined) {
        set = new Set();
        this.waiting.set(hostId, set);
      }
      const hostSet = set;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        hostSet.delete(done);
        if (hostSet.size === 0 && this.waiting.get(hostId) === hostSet) this.waiting.delete(hostId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      hostSet.add(done);
    });
  }

  notify(hostId: string): void {
    for (const done of [...(this.waiting.get(hostId) ?? [])]) done();
  }

  /** Server shutdown: every waiter answers now (with whatever is queued) so connections can close. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiting.values()]) for (const done of [...set]) done();
  }
}
