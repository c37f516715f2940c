import { setImmediate as nextTurn } from "node:timers/promises";
import { ApiError } from "./errors.ts";

type Job<T, R> = {
  readonly events: number;
  /** `performance.now()` when accepted. */
  readonly queuedAt: number;
  readonly item: T;
  readonly resolve: (value: R) => void;
  readonly reject: (error: Error) => void;
};

/**
 * Ingest writes one group of batches at a time, each group in its own turn of the event loop. The SQLite
 * store is synchronous: a write holds the loop for its whole duration, so without this every request that
 * arrived meanwhile (a heartbeat, a console page) would wait behind every batch ahead of it. Here a heartbeat
 * waits for one group at most.
 *
 * A group is every batch waiting when its turn comes, up to `maxGroupEvents` events and `maxGroupBatches`
 * batches, written by `write` in one transaction: a fleet sends hundreds of batches of ten events a second,
 * and one commit each (its WAL pages of every index touched) cost more than the rows. Each batch still gets
 * its own outcome. The bounds keep one group's write short, which is what a heartbeat waits for.
 *
 * The queue is bounded in time and in memory: when the oldest batch waiting has waited more than `maxWaitMs`
 * (the queue is not draining as fast as it fills: measured, not estimated) or the batches waiting hold more
 * than `maxQueuedEvents`, ingest answers 503 with `Retry-After` instead of queuing. The agent keeps the batch
 * in its spool and resends it later (batches are idempotent): nothing is lost, and an agent's connection is
 * not held for long by a batch, so its heartbeats keep arriving in time and an overloaded server does not see
 * its fleet as silent.
 */
export type IngestQueueLimits = {
  readonly maxWaitMs: number;
  readonly maxQueuedEvents: number;
  readonly maxGroupEvents: number;
  readonly maxGroupBatches: number;
};

/**
 * Writes a group; one outcome per item, in order. Throwing fails every item of the group with that error
 * (a commit that failed stored none of them).
 */
export type GroupWriter<T, R> = (items: readonly T[]) => Promise<readonly PromiseSettledResult<R>[]>;

export class IngestQueue<T, R> {
  private readonly jobs: Job<T, R>[] = [];
  private readonly limits: IngestQueueLimits;
  private readonly write: GroupWriter<T, R>;
  private queuedEvents = 0;
  private writing = 0;
  private draining = false;

  constructor(limits: IngestQueueLimits, write: GroupWriter<T, R>) {
    this.limits = limits;
    this.write = write;
  }

  /** Batches and events accepted and not yet stored (the group being written included). */
  get depth(): { batches: number; events: number } {
    return { batches: this.jobs.length + this.writing, events: this.queuedEvents };
  }

  /**
   * Stores `item` (of `events` events) with the group its turn comes in; refuses at once when the queue is
   * full. A batch bigger than the bound is taken when nothing waits: refused, it could never be sent.
   */
  run(events: number, item: T): Promise<R> {
    const now = performance.now();
    const waitedMs = now - (this.jobs[0]?.queuedAt ?? now);
    if (
      this.queuedEvents > 0 &&
      (this.queuedEvents + events > this.limits.maxQueuedEvents || waitedMs > this.limits.maxWaitMs)
    ) {
      // Spread the retries: a fleet told the same delay all at once would come back all at once.
      const retryAfter = 5 + Math.floor(Math.random() * 25);
      throw new ApiError(
        "R3_ERR_SERVER_BUSY",
        `ingest is ${this.queuedEvents} events behind: keep the batch and resend it in ${retryAfter} s`,
        { queuedEvents: this.queuedEvents, waitedMs: Math.round(waitedMs), retryAfterSeconds: retryAfter },
        { "retry-after": String(retryAfter) },
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.queuedEvents += events;
      this.jobs.push({ events, queuedAt: now, item, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.jobs.length > 0) {
      // Let the I/O that arrived meanwhile (heartbeats above all) run before the next write.
      await nextTurn();
      const group = this.takeGroup();
      this.writing = group.length;
      let outcomes: readonly PromiseSettledResult<R>[];
      try {
        outcomes = await this.write(group.map((job) => job.item));
        if (outcomes.length !== group.length)
          throw new Error(`the group writer answered ${outcomes.length} outcomes for ${group.length} batches`);
      } catch (error) {
        outcomes = group.map(() => ({ status: "rejected", reason: error }));
      }
      // Freed before the callers hear back, so their next batches see the room they left.
      this.writing = 0;
      group.forEach((job, i) => {
        this.queuedEvents -= job.events;
        const outcome = outcomes[i]!;
        if (outcome.status === "fulfilled") job.resolve(outcome.value);
        else job.reject(outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason)));
      });
    }
    this.draining = false;
  }

  /** The batches at the head of the queue that fit one group (the first always does). */
  private takeGroup(): Job<T, R>[] {
    let events = this.jobs[0]!.events;
    let count = 1;
    while (count < this.jobs.length && count < this.limits.maxGroupBatches) {
      const next = this.jobs[count]!.events;
      if (events + next > this.limits.maxGroupEvents) break;
      events += next;
      count += 1;
    }
    return this.jobs.splice(0, count);
  }
}
