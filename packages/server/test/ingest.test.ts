import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { LIMITS, ROUTES } from "@ring3/protocol";
import { createServer } from "../src/create-server.ts";
import type { TestServer } from "./server-harness.ts";
import { agentAlert, batch, errorCode, gzipped, processEvent, startTestServer } from "./server-harness.ts";

let server: TestServer;
let agent: { hostId: string; credential: string };
before(async () => {
  server = await startTestServer();
  agent = await server.enroll("ingest-host");
});
after(async () => server.close());

const ingest = (body: unknown, raw?: { payload: Buffer | string; headers: Record<string, string> }) =>
  server.call({ method: "POST", url: ROUTES.ingest.path, as: agent.credential, ...(raw ?? gzipped(body)) });

const searchHost = async (filters: unknown[] = []) => {
  const response = await server.call({
    method: "POST",
    url: ROUTES.searchEvents.path,
    as: server.sessions.viewer,
    payload: { hostId: agent.hostId, filters, limit: 1000 },
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<{ items: { id: string; hostId: string }[] }>().items;
};

test("a gzip batch is stored, attributed to the agent's host, and acknowledged with counts", async () => {
  const events = [processEvent({ fields: { CommandLine: "curl marker-one" } }), processEvent()];
  const response = await ingest(batch(events, [agentAlert(events[0]!)]));
  assert.equal(response.statusCode, 200, response.body);
  const ack = response.json<{ duplicate: boolean; events: number; alerts: number }>();
  assert.deepEqual(
    { duplicate: ack.duplicate, events: ack.events, alerts: ack.alerts },
    { duplicate: false, events: 2, alerts: 1 },
  );
  const found = await searchHost([{ field: "CommandLine", op: "contains", value: "marker-one" }]);
  assert.equal(found.length, 1);
  assert.equal(found[0]!.hostId, agent.hostId);
});

test("an uncompressed JSON batch is accepted too", async () => {
  const body = batch([processEvent({ fields: { CommandLine: "plain-json-marker" } })]);
  const response = await ingest(undefined, {
    payload: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  assert.equal(response.statusCode, 200, response.body);
  assert.equal((await searchHost([{ field: "CommandLine", op: "contains", value: "plain-json-marker" }])).length, 1);
});

test("a retried batch (same batchId) is acknowledged as a duplicate and stored once", async () => {
  const body = batch([processEvent({ fields: { CommandLine: "retry-marker" } })]);
  const first = await ingest(body);
  const second = await ingest(body);
  assert.equal(first.statusCode, 200);
  assert.equal(second.statusCode, 200);
  assert.equal(first.json<{ duplicate: boolean }>().duplicate, false);
  assert.equal(second.json<{ duplicate: boolean }>().duplicate, true);
  assert.equal((await searchHost([{ field: "CommandLine", op: "contains", value: "retry-marker" }])).length, 1);
});

test("repeats of one rule on one host and image group into one alert with a count", async () => {
  const events = [1, 2, 3].map(() => processEvent({ fields: { Image: "/usr/bin/wget", CommandLine: "wget x" } }));
  const alerts = events.map((e) => agentAlert(e, { ruleId: "rule-wget", title: "wget" }));
  assert.equal((await ingest(batch(events.slice(0, 2), alerts.slice(0, 2)))).statusCode, 200);
  assert.equal((await ingest(batch(events.slice(2), alerts.slice(2)))).statusCode, 200);
  const list = await server.call({
    method: "GET",
    url: `${ROUTES.listAlerts.path}?ruleId=rule-wget`,
    as: server.sessions.viewer,
  });
  const items = list.json<{ items: { count: number; groupKey: string }[] }>().items;
  assert.equal(items.length, 1);
  assert.equal(items[0]!.count, 3);
  assert.match(items[0]!.groupKey, /\/usr\/bin\/wget$/);
});

test("a gzip bomb (small body, huge when inflated) → 413 R3_ERR_INGEST_TOO_LARGE, nothing stored", async () => {
  // Both inflate paths: a tiny body (inflated on the loop) and one over 16 KiB (in the thread pool).
  for (const noise of ["", randomBytes(30_000).toString("base64")]) {
    const padding = noise + " ".repeat(LIMITS.maxBatchBytes);
    const inflated = Buffer.from(
      JSON.stringify(batch([processEvent({ fields: { CommandLine: `bomb-marker${padding}` } })])),
    );
    const payload = gzipSync(inflated);
    assert.ok(payload.length < LIMITS.maxBodyBytes / 50);
    const response = await ingest(undefined, {
      payload,
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
    assert.equal(response.statusCode, 413);
    assert.equal(errorCode(response), "R3_ERR_INGEST_TOO_LARGE");
  }
  assert.equal((await searchHost([{ field: "CommandLine", op: "contains", value: "bomb-marker" }])).length, 0);
});

test("invalid gzip → 400 R3_ERR_REQUEST_MALFORMED", async () => {
  const response = await ingest(undefined, {
    payload: Buffer.from("this is not gzip at all"),
    headers: { "content-type": "application/json", "content-encoding": "gzip" },
  });
  assert.equal(response.statusCode, 400);
  assert.equal(errorCode(response), "R3_ERR_REQUEST_MALFORMED");
});

test("a truncated gzip stream → 400 R3_ERR_REQUEST_MALFORMED", async () => {
  const whole = gzipped(batch([processEvent()])).payload;
  const response = await ingest(undefined, {
    payload: whole.subarray(0, whole.length - 12),
    headers: { "content-type": "application/json", "content-encoding": "gzip" },
  });
  assert.equal(response.statusCode, 400);
  assert.equal(errorCode(response), "R3_ERR_REQUEST_MALFORMED");
});

test("an unsupported Content-Encoding → 415", async () => {
  const response = await ingest(undefined, {
    payload: Buffer.from("{}"),
    headers: { "content-type": "application/json", "content-encoding": "br" },
  });
  assert.equal(response.statusCode, 415);
  assert.equal(errorCode(response), "R3_ERR_REQUEST_UNSUPPORTED_MEDIA");
});

test("one event over LIMITS.maxEventBytes → 413 R3_ERR_INGEST_EVENT_TOO_LARGE naming it; the batch is not stored", async () => {
  const small = processEvent({ fields: { CommandLine: "oversize-companion" } });
  const big = processEvent({ fields: { Nested: { blob: "y".repeat(LIMITS.maxEventBytes) } } });
  const response = await ingest(batch([small, big]));
  assert.equal(response.statusCode, 413);
  assert.equal(errorCode(response), "R3_ERR_INGEST_EVENT_TOO_LARGE");
  assert.equal(response.json<{ error: { details: { index: number } } }>().error.details.index, 1);
  assert.equal((await searchHost([{ field: "CommandLine", op: "contains", value: "oversize-companion" }])).length, 0);
});

test("a field value over LIMITS.maxFieldValueChars → 413 R3_ERR_INGEST_EVENT_TOO_LARGE", async () => {
  const response = await ingest(
    batch([processEvent({ fields: { CommandLine: "z".repeat(LIMITS.maxFieldValueChars + 1) } })]),
  );
  assert.equal(response.statusCode, 413);
  assert.equal(errorCode(response), "R3_ERR_INGEST_EVENT_TOO_LARGE");
  assert.equal(response.json<{ error: { details: { field: string } } }>().error.details.field, "CommandLine");
});

test("more than LIMITS.maxEventsPerBatch events → 413 R3_ERR_INGEST_TOO_MANY_EVENTS", async () => {
  const events = Array.from({ length: LIMITS.maxEventsPerBatch + 1 }, (_, i) => ({
    id: `many-${i}`,
    time: "2026-03-01T11:00:00.000Z",
    host: "h",
    logsource: {},
    fields: {},
  }));
  const response = await ingest(batch(events));
  assert.equal(response.statusCode, 413);
  assert.equal(errorCode(response), "R3_ERR_INGEST_TOO_MANY_EVENTS");
});

test("schema violations → 400 with where: a short batchId, an event without time, an unknown level", async () => {
  const cases = [
    { ...batch([processEvent()]), batchId: "short" },
    batch([{ ...processEvent(), time: undefined as unknown as string }]),
    batch([processEvent()], [{ ...agentAlert(processEvent()), level: "apocalyptic" as "high" }]),
    { ...batch([]), extra: true },
  ];
  for (const body of cases) {
    const response = await ingest(body);
    assert.equal(response.statusCode, 400, JSON.stringify(body).slice(0, 200));
    assert.equal(errorCode(response), "R3_ERR_REQUEST_INVALID");
    const issues = response.json<{ error: { details: { issues: { path: string }[] } } }>().error.details.issues;
    assert.ok(issues.length > 0);
  }
});

test("a revoked-looking or unknown agent credential cannot ingest", async () => {
  const response = await server.call({
    method: "POST",
    url: ROUTES.ingest.path,
    as: "r3a_notarealcredential",
    ...gzipped(batch([processEvent()])),
  });
  assert.equal(response.statusCode, 401);
});

test("ingest counters appear in /metrics", async () => {
  const metrics = (await server.call({ method: "GET", url: "/metrics" })).body;
  assert.match(metrics, /ring3_ingest_batches_total\{outcome="stored"\} [1-9]/);
  assert.match(metrics, /ring3_ingest_batches_total\{outcome="duplicate"\} [1-9]/);
  assert.match(metrics, /ring3_ingest_rejected_total\{code="R3_ERR_INGEST_EVENT_TOO_LARGE"\} 2/);
  assert.match(metrics, /ring3_ingest_batch_duration_seconds_count [1-9]/);
});

test("a backlog past ingestMaxWaitMs answers 503 R3_ERR_SERVER_BUSY with Retry-After; the resent batch is stored", async () => {
  const busy = await createServer({
    store: server.store,
    dataDir: server.dataDir,
    plainHttp: true,
    maintenanceIntervalMs: 0,
    now: server.clock.now,
    ingestMaxWaitMs: 0,
  });
  try {
    const bodies = Array.from({ length: 30 }, (_, i) =>
      batch(Array.from({ length: 20 }, (_, k) => processEvent({ fields: { CommandLine: `busy-marker ${i}-${k}` } }))),
    );
    const send = (body: unknown) =>
      busy.inject({
        method: "POST",
        url: ROUTES.ingest.path,
        headers: { authorization: `Bearer ${agent.credential}`, ...gzipped(body).headers },
        payload: gzipped(body).payload,
      });
    const responses = await Promise.all(bodies.map(send));
    const refused = responses.flatMap((r, i) => (r.statusCode === 503 ? [i] : []));
    assert.ok(refused.length > 0, "some batches were deferred");
    assert.ok(responses.every((r) => r.statusCode === 200 || r.statusCode === 503));
    for (const i of refused) {
      assert.equal(errorCode(responses[i]!), "R3_ERR_SERVER_BUSY");
      assert.ok(Number(responses[i]!.headers["retry-after"]) >= 5);
    }
    for (const i of refused) assert.equal((await send(bodies[i])).statusCode, 200, "resent when the queue is empty");
    assert.equal(
      (await searchHost([{ field: "CommandLine", op: "startswith", value: "busy-marker" }])).length,
      30 * 20,
    );
  } finally {
    await busy.close();
  }
});

test("concurrent batches are stored as groups, and each request gets its own answer", async () => {
  const grouping = await createServer({
    store: server.store,
    dataDir: server.dataDir,
    plainHttp: true,
    maintenanceIntervalMs: 0,
    now: server.clock.now,
  });
  try {
    const bodies = Array.from({ length: 12 }, (_, i) =>
      batch(
        Array.from({ length: i + 1 }, (_, k) => processEvent({ fields: { CommandLine: `group-marker ${i}-${k}` } })),
      ),
    );
    // The third batch sent twice in the same burst: stored by one request, a duplicate for the other.
    const sent = [...bodies, bodies[2]];
    const responses = await Promise.all(
      sent.map((body) =>
        grouping.inject({
          method: "POST",
          url: ROUTES.ingest.path,
          headers: { authorization: `Bearer ${agent.credential}`, ...gzipped(body).headers },
          payload: gzipped(body).payload,
        }),
      ),
    );
    const acks = responses.map((r) => {
      assert.equal(r.statusCode, 200, r.body);
      return r.json<{ batchId: string; duplicate: boolean; events: number }>();
    });
    acks.forEach((ack, i) => {
      assert.equal(ack.batchId, (sent[i] as { batchId: string }).batchId);
      assert.equal(ack.events, i === 12 ? 3 : i + 1, "each request's own count");
    });
    assert.deepEqual(
      [acks[2]!.duplicate, acks[12]!.duplicate].sort(),
      [false, true],
      "the batch sent twice is stored once",
    );
    assert.equal(acks.filter((ack) => ack.duplicate).length, 1);
    const metrics = (await grouping.inject({ method: "GET", url: "/metrics" })).body;
    const batchesWritten = Number(/ring3_ingest_group_batches_sum (\d+)/.exec(metrics)?.[1]);
    const groups = Number(/ring3_ingest_group_batches_count (\d+)/.exec(metrics)?.[1]);
    assert.equal(batchesWritten, 13);
    assert.ok(groups >= 1 && groups < 13, `13 batches in ${groups} transactions`);
    assert.equal(
      (await searchHost([{ field: "CommandLine", op: "startswith", value: "group-marker" }])).length,
      (12 * 13) / 2,
    );
  } finally {
    await grouping.close();
  }
});

test("a gzip body over 16 KiB (inflated off the event loop) is stored; corrupted, it is 400", async () => {
  const noise = (i: number) => randomBytes(900).toString("base64") + i;
  const body = batch(
    Array.from({ length: 40 }, (_, i) => processEvent({ fields: { CommandLine: `large-marker ${noise(i)}` } })),
  );
  const { payload, headers } = gzipped(body);
  assert.ok(payload.length > 16 * 1024, `${payload.length} bytes compressed`);
  const stored = await ingest(undefined, { payload, headers });
  assert.equal(stored.statusCode, 200, stored.body);
  assert.equal((await searchHost([{ field: "CommandLine", op: "startswith", value: "large-marker" }])).length, 40);
  const corrupted = Buffer.from(payload);
  corrupted.fill(0x41, 5000, 6000);
  const refused = await ingest(undefined, { payload: corrupted, headers });
  assert.equal(refused.statusCode, 400);
  assert.equal(errorCode(refused), "R3_ERR_REQUEST_MALFORMED");
});
