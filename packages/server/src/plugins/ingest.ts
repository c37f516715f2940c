import type { FastifyInstance } from "fastify";
import { LIMITS, ROUTES } from "@ring3/protocol";
import type { IngestBatch, IngestResponse, WireEvent } from "@ring3/protocol";
import type { PluginOptions, ServerContext } from "../context.ts";
import type { ServerAlert } from "../detection/server-detection.ts";
import { ApiError } from "../errors.ts";
import { alertGroupKey, eventImage } from "../group-key.ts";
import { addRoute } from "../route.ts";
import type { AgentIdentity, IngestResult } from "../store/store.ts";

/**
 * Events and alerts from agents, in batches (gzip-decoded by the body parser with a decoded-size cap).
 * Idempotent by `batchId`: a retried batch is acknowledged as a duplicate and stored once.
 */
export function ingestPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.ingest, async ({ body, principal, request }) => {
    const started = performance.now();
    try {
      if (body.events.length > LIMITS.maxEventsPerBatch) {
        throw new ApiError(
          "R3_ERR_INGEST_TOO_MANY_EVENTS",
          `${body.events.length} events in one batch; at most ${LIMITS.maxEventsPerBatch}: split it`,
          { events: body.events.length, limit: LIMITS.maxEventsPerBatch },
        );
      }
      // A body smaller than either limit cannot hold an event or a value over it (the usual case: skip the walk).
      if (request.bodyBytes > Math.min(LIMITS.maxEventBytes, LIMITS.maxFieldValueChars))
        body.events.forEach(checkEventSize);
      return await ctx.ingestQueue.run(body.events.length, { agent: principal.agent, batch: body });
    } catch (error) {
      ctx.metrics.rejected.inc({ code: error instanceof ApiError ? error.code : "R3_ERR_INTERNAL" });
      throw error;
    } finally {
      ctx.metrics.batchSeconds.observe((performance.now() - started) / 1000);
    }
  });
  done();
}

/** A batch as the ingest queue holds it until its group is written. */
export type AgentBatch = { readonly agent: AgentIdentity; readonly batch: IngestBatch };

/**
 * The ingest queue's group writer: stores the batches in one commit, then does each stored batch's follow-up
 * (metrics, live alerts, server-side detection) in order, only after the commit. Each batch gets its own
 * answer: one that failed fails its request alone.
 */
export async function storeBatches(
  ctx: ServerContext,
  items: readonly AgentBatch[],
): Promise<PromiseSettledResult<IngestResponse>[]> {
  const receivedAt = ctx.now().toISOString();
  const results = await ctx.store.ingestBatches(
    items.map(({ agent, batch }) => {
      const byId = new Map<string, WireEvent>();
      if (batch.alerts.length > 0) for (const event of batch.events) byId.set(event.id, event);
      return {
        hostId: agent.id,
        batchId: batch.batchId,
        receivedAt,
        events: batch.events,
        alerts: batch.alerts.map((alert) => ({
          ...alert,
          groupKey: alertGroupKey(alert.ruleId, agent.id, eventImage(byId.get(alert.eventId)?.fields)),
        })),
      };
    }),
  );
  ctx.metrics.groupBatches.observe(items.length);
  const outcomes: PromiseSettledResult<IngestResponse>[] = [];
  for (const [i, { agent, batch }] of items.entries()) {
    const stored = results[i]!;
    if (stored.status === "rejected") {
      outcomes.push(stored);
      continue;
    }
    try {
      outcomes.push({ status: "fulfilled", value: await afterCommit(ctx, agent, batch, stored.value) });
    } catch (error) {
      outcomes.push({ status: "rejected", reason: error });
    }
  }
  return outcomes;
}

async function afterCommit(
  ctx: ServerContext,
  agent: AgentIdentity,
  batch: IngestBatch,
  result: IngestResult,
): Promise<IngestResponse> {
  ctx.metrics.batches.inc({ outcome: result.duplicate ? "duplicate" : "stored" });
  if (!result.duplicate) {
    ctx.metrics.events.inc({}, result.events);
    ctx.metrics.alerts.inc({ source: "agent" }, result.alerts);
    for (const alert of result.newAlerts) ctx.hub.publish({ type: "alert", alert });
    // After the store, not before: a retried batch must not feed the correlation engine twice.
    await storeServerAlerts(ctx, ctx.detection.detect(agent.id, batch.events, batch.detect === true));
  }
  return { batchId: batch.batchId, duplicate: result.duplicate, events: result.events, alerts: result.alerts };
}

/**
 * One event's serialised size against `LIMITS.maxEventBytes`, and each top-level string field against
 * `LIMITS.maxFieldValueChars`. The agent truncates before sending, so an event over either is a bug or an
 * attack: the batch is refused with the event's index, and nothing of it is stored.
 */
function checkEventSize(event: WireEvent, index: number): void {
  for (const [field, value] of Object.entries(event.fields)) {
    if (typeof value === "string" && value.length > LIMITS.maxFieldValueChars) {
      throw new ApiError(
        "R3_ERR_INGEST_EVENT_TOO_LARGE",
        `event ${index}: field ${field.slice(0, 64)} has ${value.length} characters; at most ${LIMITS.maxFieldValueChars}`,
        { index, field: field.slice(0, 256), chars: value.length, limit: LIMITS.maxFieldValueChars },
      );
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(event), "utf8");
  if (bytes > LIMITS.maxEventBytes) {
    throw new ApiError(
      "R3_ERR_INGEST_EVENT_TOO_LARGE",
      `event ${index} is ${bytes} bytes; at most ${LIMITS.maxEventBytes}`,
      {
        index,
        bytes,
        limit: LIMITS.maxEventBytes,
      },
    );
  }
}

/** Stores alerts the server's engine raised and announces them on the live stream. */
export async function storeServerAlerts(ctx: ServerContext, alerts: readonly ServerAlert[]): Promise<void> {
  for (const { hostId, alert } of alerts) {
    const stored = await ctx.store.insertServerAlert(hostId, alert);
    ctx.metrics.alerts.inc({ source: "server" });
    ctx.hub.publish({ type: "alert", alert: stored });
  }
}
