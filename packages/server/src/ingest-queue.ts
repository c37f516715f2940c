import { setImmediate as nextTurn } from "node:timers/promises";
import { ApiError } from "./errors.ts";

type Job = {
  readonly events: number;
  /** `performance.now()` when accepted. */
  readonly queuedAt: number;
  readonly work: () => Promise<unknown>;
  readonly settle: (outcome: { ok: true; value: unknown } | { ok: false; error: unknown }) => void;
};

/**
 * Ingest runs one batch at a time, each in its own turn of the event loop. The SQLite store is synchronous:
 * a batch holds the loop for its whole write, so without this every request that arrived meanwhile (a
 * heartbeat, a console page) would wait behind every batch ahead of it. Here a heartbeat waits for one batch
 * at most.
 *
 * The queue is bounded in time and in memory: when the oldest batch waiting has waited more than `maxWaitMs`
 * (the queue is not draining as fast as it fills: measured, not estimated) or the batches waiting hold more
 * than `maxQueuedEvents`, ingest answers 503 with `Retry-After` instead of queuing. The agent keeps the batch in its spool and resends it later (batches are
 * idempotent): nothing is lost, and an agent's connection is not held for long by a batch, so its heartbeats
 * keep arriving in time and an overloaded server does not see its fleet as silent.
 */
export type IngestQueueLimits = { readonly maxWaitMs: number; readonly maxQueuedEvents: number };

export class IngestQueue {
  private readonly jobs: Job[] = [];
  private readonly limits: IngestQueueLimits;
  private queuedEvents = 0;
  private writing = false;
  private draining = false;

  constructor(limits: IngestQueueLimits) {
    this.limits = limits;
  }

  /** Batches and events accepted and not yet stored (the one being written included). */
  get depth(): { batches: number; events: number } {
    return { batches: this.jobs.length + (this.writing ? 1 : 0), events: this.queuedEvents };
  }

  /**
   * Runs `work` when its turn comes; refuses at once when the queue is full. A batch bigger than the bound is
   * taken when nothing waits: refused, it could never be sent.
   */
  run<T>(events: number, work: () => Promise<T>): Promise<T> {
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
    return new Promise<T>((resolve, reject) => {
      this.queuedEvents += events;
      this.jobs.push({
        events,
        queuedAt: now,
        work,
        settle: (outcome) => {
          if (outcome.ok) resolve(outcome.value as T);
          else reject(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error)));
        },
      });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.jobs.length > 0) {
      // Let the I/O that arrived meanwhile (heartbeats above all) run before the next write.
      await nextTurn();
      const job = this.jobs.shift()!;
      this.writing = true;
      let outcome: Parameters<Job["settle"]>[0];
      try {
        outcome = { ok: true, value: await job.work() };
      } catch (error) {
        outcome = { ok: false, error };
      }
      // Freed before the caller hears back, so its next batch sees the room it left.
      this.writing = false;
      this.queuedEvents -= job.events;
      job.settle(outcome);
    }
    this.draining = false;
  }
}
