import { setImmediate as nextTurn } from "node:timers/promises";
import { ApiError } from "./errors.ts";

type Job<T, R> = {
  /** What the item weighs against the bounds: a batch's events, 1 for a heartbeat. */
  readonly units: number;
  /** `performance.now()` when accepted. */
  readonly queuedAt: number;
  readonly item: T;
  readonly resolve: (value: R) => void;
  readonly reject: (error: Error) => void;
};

/**
 * The server's writes of agent traffic (ingest batches, heartbeats) are queued and committed in groups, one
 * group at a time, each in its own turn of the event loop. The SQLite store is synchronous: a write holds the
 * loop for its whole duration, so without this every request that arrived meanwhile (a heartbeat, a console
 * page) would wait behind every write ahead of it. Here a request waits for one group at most.
 *
 * A group is every item waiting when its turn comes, up to `maxGroupUnits` and `maxGroupItems`, written by
 * `write` in one transaction: a fleet of 10,000 agents sends a thousand batches and some 330 heartbeats a
 * second, and a commit each (the WAL pages of every index it touched, then their checkpoint) cost more than
 * the rows. Each item still gets its own outcome. The bounds keep one group's write short.
 *
 * Groups start at most one per `minIntervalMs` unless the next one is already full: a loop that is quick
 * enough to answer every request alone would otherwise commit each alone, and the commits were the largest
 * part of the server's CPU in `npm run bench:fleet` (at 7,500 agents, ~150 µs each and ~1,000 a second).
 * An idle server does not wait: the first write after a pause starts at once.
 *
 * The queue is bounded in time and in memory: when the oldest item waiting has waited more than `maxWaitMs`
 * (the queue is not draining as fast as it fills: measured, not estimated) or the items waiting weigh more
 * than `maxQueuedUnits`, `run` answers 503 with `Retry-After` instead of queuing. The agent keeps a batch in
 * its spool and resends it later (batches are idempotent), and sends its next heartbeat at its next interval:
 * nothing is lost, and an agent's connection is not held for long, so an overloaded server does not see its
 * fleet as silent.
 */
export type WriteQueueLimits = {
  readonly maxWaitMs: number;
  readonly maxQueuedUnits: number;
  readonly maxGroupUnits: number;
  readonly maxGroupItems: number;
  readonly minIntervalMs: number;
};

/**
 * Writes a group; one outcome per item, in order. Throwing fails every item of the group with that error
 * (a commit that failed stored none of them).
 */
export type GroupWriter<T, R> = (items: readonly T[]) => Promise<readonly PromiseSettledResult<R>[]>;

/** What a refusal says is behind, e.g. "ingest is 5000 events behind: keep the batch and resend it". */
export type BusyMessage = (queuedUnits: number) => string;

export class WriteQueue<T, R> {
  private readonly jobs: Job<T, R>[] = [];
  private readonly limits: WriteQueueLimits;
  private readonly write: GroupWriter<T, R>;
  private readonly busy: BusyMessage;
  private queuedUnits = 0;
  private writing = 0;
  private draining = false;
  /** `performance.now()` when the last group's write started. */
  private lastWriteAt = -Infinity;
  /** Ends the wait for the interval early: set while the drain waits. */
  private wake: (() => void) | undefined;

  constructor(limits: WriteQueueLimits, write: GroupWriter<T, R>, busy: BusyMessage) {
    this.limits = limits;
    this.write = write;
    this.busy = busy;
  }

  /** Items and their units accepted and not yet written (the group being written included). */
  get depth(): { items: number; units: number } {
    return { items: this.jobs.length + this.writing, units: this.queuedUnits };
  }

  /**
   * Writes `item` (of `units`) with the group its turn comes in; refuses at once when the queue is full.
   * An item heavier than the bound is taken when nothing waits: refused, it could never be sent.
   */
  run(units: number, item: T): Promise<R> {
    const now = performance.now();
    const waitedMs = now - (this.jobs[0]?.queuedAt ?? now);
    if (
      this.queuedUnits > 0 &&
      (this.queuedUnits + units > this.limits.maxQueuedUnits || waitedMs > this.limits.maxWaitMs)
    ) {
      // Spread the retries: a fleet told the same delay all at once would come back all at once.
      const retryAfter = 5 + Math.floor(Math.random() * 25);
      throw new ApiError(
        "R3_ERR_SERVER_BUSY",
        `${this.busy(this.queuedUnits)} in ${retryAfter} s`,
        { queued: this.queuedUnits, waitedMs: Math.round(waitedMs), retryAfterSeconds: retryAfter },
        { "retry-after": String(retryAfter) },
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.queuedUnits += units;
      this.jobs.push({ units, queuedAt: now, item, resolve, reject });
      if (!this.draining) void this.drain();
      else if (this.wake !== undefined && this.groupFull()) this.wake();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.jobs.length > 0) {
      // Let the I/O that arrived meanwhile (heartbeats above all) run before the next write.
      await nextTurn();
      const early = this.lastWriteAt + this.limits.minIntervalMs - performance.now();
      if (early > 0 && !this.groupFull()) await this.waitUntilFull(early);
      const group = this.takeGroup();
      this.writing = group.length;
      this.lastWriteAt = performance.now();
      let outcomes: readonly PromiseSettledResult<R>[];
      try {
        outcomes = await this.write(group.map((job) => job.item));
        if (outcomes.length !== group.length)
          throw new Error(`the group writer answered ${outcomes.length} outcomes for ${group.length} items`);
      } catch (error) {
        outcomes = group.map(() => ({ status: "rejected", reason: error }));
      }
      // Freed before the callers hear back, so their next items see the room they left.
      this.writing = 0;
      group.forEach((job, i) => {
        this.queuedUnits -= job.units;
        const outcome = outcomes[i]!;
        if (outcome.status === "fulfilled") job.resolve(outcome.value);
        else job.reject(outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason)));
      });
    }
    this.draining = false;
  }

  /** Until `ms` have passed or the items waiting fill a group, whichever comes first. */
  private waitUntilFull(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Whether the items waiting fill a group already (waiting longer would not make it bigger). */
  private groupFull(): boolean {
    return this.jobs.length >= this.limits.maxGroupItems || this.queuedUnits >= this.limits.maxGroupUnits;
  }

  /** The items at the head of the queue that fit one group (the first always does). */
  private takeGroup(): Job<T, R>[] {
    let units = this.jobs[0]!.units;
    let count = 1;
    while (count < this.jobs.length && count < this.limits.maxGroupItems) {
      const next = this.jobs[count]!.units;
      if (units + next > this.limits.maxGroupUnits) break;
      units += next;
      count += 1;
    }
    return this.jobs.splice(0, count);
  }
}
