import assert from "node:assert/strict";
import { test } from "node:test";
import type { RuleMatch } from "@ring3/detection";
import { LIMITS } from "@ring3/protocol";
import type { Event } from "@ring3/schema";
import { Backoff } from "../src/link/backoff.ts";
import { BATCH_LIMITS, batchId, buildBatch } from "../src/link/batch.ts";
import { contentVersion } from "../src/link/link-setup.ts";
import {
  agentAlertRecord,
  alertId,
  eventRecord,
  recordJson,
  recordKind,
  ruleAlertRecord,
} from "../src/link/wire-records.ts";

const event = (fields: Event["fields"], raw?: unknown): Event => ({
  id: "host-1-42",
  time: "2026-03-01T12:00:00.000Z",
  host: "host",
  logsource: { product: "linux", category: "process_creation" },
  fields,
  ...(raw === undefined ? {} : { raw }),
});

const parsed = (payload: Buffer): Record<string, unknown> & { fields: Record<string, unknown> } =>
  JSON.parse(recordJson(payload)) as Record<string, unknown> & { fields: Record<string, unknown> };

test("records: an event within the limits is spooled as its own JSON, marked as an event", () => {
  const e = event({ Image: "/usr/bin/id", CommandLine: "id -u", ProcessId: 42 }, { source: "audit" });
  const fitted = eventRecord(e);
  assert.equal(fitted.truncated, false);
  assert.equal(recordKind(fitted.payload), "event");
  assert.equal(recordJson(fitted.payload), JSON.stringify(e));
});

test("records: a field value over maxFieldValueChars is cut, and the event says so", () => {
  const long = "A".repeat(LIMITS.maxFieldValueChars + 500);
  const fitted = eventRecord(event({ CommandLine: long, Image: "/bin/sh" }));
  assert.equal(fitted.truncated, true);
  const out = parsed(fitted.payload);
  assert.equal((out.fields.CommandLine as string).length, LIMITS.maxFieldValueChars);
  assert.equal(out.fields.Image, "/bin/sh");
  assert.equal(out.fields.Ring3Truncated, true);
  assert.equal(
    out.fields.Ring3OriginalBytes,
    Buffer.byteLength(JSON.stringify(event({ CommandLine: long, Image: "/bin/sh" }))),
  );
});

test("records: an event over maxEventBytes loses raw first, then value length, then trailing fields, and always fits", () => {
  const bigRaw = { lines: Array.from({ length: 5000 }, (_, i) => `type=SYSCALL msg=audit(1:${i}) ${"x".repeat(80)}`) };
  const a = eventRecord(event({ Image: "/bin/sh" }, bigRaw));
  assert.equal(a.truncated, true);
  assert.equal(parsed(a.payload).raw, undefined, "raw went first");
  assert.equal(parsed(a.payload).fields.Image, "/bin/sh");

  const manyValues: Record<string, string> = {};
  for (let i = 0; i < 20; i++) manyValues[`F${i}`] = "v".repeat(30_000);
  const b = eventRecord(event(manyValues));
  assert.ok(b.payload.length - 1 <= LIMITS.maxEventBytes);
  assert.equal(Object.keys(parsed(b.payload).fields).length, 22, "every field kept, values cut shorter");

  const manyFields: Record<string, string> = {};
  for (let i = 0; i < 50_000; i++) manyFields[`Field${i}`] = "abcdefgh";
  const c = eventRecord(event(manyFields));
  assert.ok(c.payload.length - 1 <= LIMITS.maxEventBytes);
  assert.equal(parsed(c.payload).fields.Field0, "abcdefgh", "the first fields are kept");
  assert.equal(parsed(c.payload).fields.Ring3Truncated, true);

  // Deterministic: the same event always becomes the same record (a resent batch is byte-identical).
  assert.deepEqual(eventRecord(event(manyFields)).payload, c.payload);
});

test("records: names and strings over the WireEvent schema's lengths are cut", () => {
  const e: Event = { ...event({ ["N".repeat(300)]: 1 }), id: "i".repeat(300), logsource: { service: "s".repeat(200) } };
  const out = parsed(eventRecord(e).payload);
  assert.equal((out.id as string).length, 256);
  assert.deepEqual(
    Object.keys(out.fields)
      .filter((k) => k.startsWith("N"))
      .map((k) => k.length),
    [256],
  );
  assert.equal((out.logsource as { service: string }).service.length, 128);
});

const match = (overrides: Partial<RuleMatch> = {}): RuleMatch => ({
  ruleId: "5f1e3c1a-9f55-4a34-8a4e-0d3f4b1f7a10",
  title: "Suspicious shell",
  level: "high",
  status: "test",
  author: "ring3",
  tags: ["attack.execution", "attack.t1059.004"],
  techniques: ["T1059.004"],
  tactics: ["execution"],
  file: "x.yml",
  event: event({ Image: "/bin/sh" }),
  explanation: {
    condition: "selection",
    selections: [
      {
        name: "selection",
        fields: [{ field: "Image", modifiers: ["endswith"], patterns: ["/sh"], values: ["/bin/sh"] }],
      },
    ],
  },
  ...overrides,
});

test("records: a rule alert carries a deterministic id, the rule's author, ATT&CK and ancestry, within the schema's bounds", () => {
  const payload = ruleAlertRecord(match(), [{ pid: 1, image: "/sbin/init", commandLine: null }]);
  assert.equal(recordKind(payload), "alert");
  const alert = JSON.parse(recordJson(payload)) as Record<string, unknown>;
  assert.equal(alert.id, alertId("5f1e3c1a-9f55-4a34-8a4e-0d3f4b1f7a10", "host-1-42"));
  assert.match(alert.id, /^[A-Za-z0-9._:-]{1,128}$/);
  assert.notEqual(alertId("r", "e1"), alertId("r", "e2"));
  assert.notEqual(alertId("r1", "e"), alertId("r", "1e"), "the separator keeps (rule, event) pairs apart");
  assert.equal(alert.author, "ring3");
  assert.equal(alert.eventId, "host-1-42");
  assert.deepEqual(alert.techniques, ["T1059.004"]);
  assert.deepEqual(alert.ancestry, [{ pid: 1, image: "/sbin/init", commandLine: null }]);
  assert.equal((alert.explanation as { condition: string }).condition, "selection");

  const wild = JSON.parse(
    recordJson(ruleAlertRecord(match({ level: "severe", tags: Array.from({ length: 100 }, (_, i) => `t${i}`) }), [])),
  ) as { level: string; tags: string[] };
  assert.equal(wild.level, "medium", "a level outside Sigma's set becomes medium");
  assert.equal(wild.tags.length, 64);
});

test("records: the agent's own alerts name their event type as the rule", () => {
  const e = event({ EventType: "KernelModuleLoadedAfterStart", ModuleName: "evil" });
  const alert = JSON.parse(
    recordJson(
      agentAlertRecord(e, { title: "module", level: "high", techniques: ["T1547.006"], tactics: ["persistence"] }),
    ),
  ) as Record<string, unknown>;
  assert.equal(alert.ruleId, "ring3.KernelModuleLoadedAfterStart");
  assert.deepEqual(alert.tags, ["attack.t1547.006", "attack.persistence"]);
  assert.equal(alert.id, alertId("ring3.KernelModuleLoadedAfterStart", e.id));
});

test("batch: records become an IngestBatch whose id is a function of the spool and the range", () => {
  const records = [
    { seq: 7, payload: eventRecord(event({ A: 1 })).payload },
    { seq: 8, payload: ruleAlertRecord(match(), []) },
    { seq: 9, payload: Buffer.from("?{}") },
    { seq: 10, payload: eventRecord({ ...event({ B: 2 }), id: "e2" }).payload },
  ];
  const batch = buildBatch("0123456789abcdef", { first: 7, last: 10 }, records);
  assert.equal(batch.id, "0123456789abcdef.7-10");
  assert.equal(batch.id, batchId("0123456789abcdef", 7, 10));
  assert.match(batch.id, /^[A-Za-z0-9._:-]{8,128}$/);
  assert.equal(batch.skipped, 1);
  const body = JSON.parse(batch.json) as {
    batchId: string;
    events: { id: string }[];
    alerts: unknown[];
    detect?: boolean;
  };
  assert.equal(body.batchId, batch.id);
  assert.deepEqual(
    body.events.map((e) => e.id),
    ["host-1-42", "e2"],
  );
  assert.equal(body.alerts.length, 1);
  assert.equal(body.detect, undefined);
  assert.equal(
    (JSON.parse(buildBatch("0123456789abcdef", { first: 7, last: 10 }, records, true).json) as { detect: boolean })
      .detect,
    true,
  );
  // The byte budget stays under both protocol limits.
  assert.ok(BATCH_LIMITS.maxPayloadBytes < LIMITS.maxBodyBytes && BATCH_LIMITS.maxPayloadBytes < LIMITS.maxBatchBytes);
});

test("backoff: doubles from the initial delay to the cap, with jitter within [half, all], and resets", () => {
  const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => low.next()),
    [50, 100, 200, 400, 500, 500],
  );
  const high = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => high.next()),
    [100, 200, 400, 800, 1000, 1000],
  );
  high.reset();
  assert.equal(high.next(), 100);
});

test("content version: names the rule set by count and hash, independent of the directory it was read from", () => {
  const a = contentVersion([
    { path: "/x/a.yml", text: "title: a" },
    { path: "/x/b.yml", text: "title: b" },
  ]);
  const b = contentVersion([
    { path: "/elsewhere/b.yml", text: "title: b" },
    { path: "/elsewhere/a.yml", text: "title: a" },
  ]);
  assert.equal(a, b);
  assert.match(a, /^rules-2-[0-9a-f]{12}$/);
  assert.notEqual(
    a,
    contentVersion([
      { path: "/x/a.yml", text: "title: A" },
      { path: "/x/b.yml", text: "title: b" },
    ]),
  );
  assert.equal(contentVersion([]), "none");
});
