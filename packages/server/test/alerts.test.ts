import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import type { Alert } from "@ring3/protocol";
import type { TestServer } from "./server-harness.ts";
import { agentAlert, batch, errorCode, gzipped, processEvent, startTestServer } from "./server-harness.ts";

let server: TestServer;
let agent: { hostId: string; credential: string };
const ids: string[] = [];

before(async () => {
  server = await startTestServer();
  agent = await server.enroll("alert-host");
  const specs = [
    { rule: "rule-a", level: "high", image: "/usr/bin/nc", tactic: "execution" },
    { rule: "rule-b", level: "low", image: "/usr/bin/ls", tactic: "discovery" },
    { rule: "rule-c", level: "critical", image: "/usr/bin/sh", tactic: "execution" },
  ] as const;
  const events = specs.map((s, i) => processEvent({ time: `2026-03-01T11:0${i}:00.000Z`, fields: { Image: s.image } }));
  const alerts = specs.map((s, i) =>
    agentAlert(events[i]!, {
      id: `a-${s.rule}`,
      ruleId: s.rule,
      title: `Title ${s.rule}`,
      level: s.level,
      tactics: [s.tactic],
      techniques: ["T1059"],
      explanation: { condition: "sel", selections: [{ name: "sel", fields: [{ field: "Image", values: [s.image] }] }] },
    }),
  );
  const response = await server.call({
    method: "POST",
    url: ROUTES.ingest.path,
    as: agent.credential,
    ...gzipped(batch(events, alerts)),
  });
  assert.equal(response.statusCode, 200, response.body);
  const list = (await server.call({ method: "GET", url: ROUTES.listAlerts.path, as: server.sessions.viewer })).json<{
    items: Alert[];
  }>();
  ids.push(...list.items.map((a) => a.id));
});
after(async () => server.close());

const list = async (query: string) => {
  const response = await server.call({
    method: "GET",
    url: `${ROUTES.listAlerts.path}?${query}`,
    as: server.sessions.viewer,
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<{ items: Alert[]; nextCursor?: string }>();
};
const alertId = async (rule: string) => (await list(`ruleId=${rule}`)).items[0]!.id;

test("alerts list, filter by level, status and text, sort and page", async () => {
  assert.equal((await list("")).items.length, 3);
  assert.deepEqual(
    (await list("level=high&level=critical&sort=level&order=desc")).items.map((a) => a.ruleId),
    ["rule-c", "rule-a"],
  );
  assert.deepEqual(
    (await list("q=rule-b")).items.map((a) => a.ruleId),
    ["rule-b"],
  );
  assert.deepEqual(
    (await list("sort=lastSeen&order=asc")).items.map((a) => a.ruleId),
    ["rule-a", "rule-b", "rule-c"],
  );
  const page = await list("limit=2&sort=lastSeen&order=asc");
  assert.equal(page.items.length, 2);
  const rest = await list(`limit=2&sort=lastSeen&order=asc&cursor=${encodeURIComponent(page.nextCursor!)}`);
  assert.deepEqual(
    rest.items.map((a) => a.ruleId),
    ["rule-c"],
  );
  assert.equal((await list("status=new")).items.length, 3);
  const alert = (await list("ruleId=rule-a")).items[0]!;
  assert.equal(alert.hostId, agent.hostId);
  assert.equal(alert.hostname, "alert-host");
  assert.equal(alert.status, "new");
  assert.equal(alert.count, 1);
});

test("alert detail carries the event and the comments", async () => {
  const id = await alertId("rule-a");
  const comment = await server.call({
    method: "POST",
    url: ROUTES.commentAlert.path.replace(":id", id),
    as: server.sessions.analyst,
    payload: { text: "looking into it" },
  });
  assert.equal(comment.statusCode, 200, comment.body);
  const detail = await server.call({
    method: "GET",
    url: ROUTES.getAlert.path.replace(":id", id),
    as: server.sessions.viewer,
  });
  assert.equal(detail.statusCode, 200, detail.body);
  const body = detail.json<{
    alert: Alert;
    event?: { fields: { Image: string } };
    comments: { text: string; author: string }[];
  }>();
  assert.equal(body.event?.fields.Image, "/usr/bin/nc");
  assert.deepEqual(
    body.comments.map((c) => [c.author, c.text]),
    [["analyst-user", "looking into it"]],
  );
  assert.equal(body.alert.explanation?.selections[0]?.name, "sel");
});

test("lifecycle: new → in_progress with an assignee → resolved; the live view and audit log see it", async () => {
  const id = await alertId("rule-b");
  const update = await server.call({
    method: "PATCH",
    url: ROUTES.updateAlert.path.replace(":id", id),
    as: server.sessions.analyst,
    payload: { status: "in_progress", assignee: "analyst-user" },
  });
  assert.equal(update.statusCode, 200, update.body);
  assert.equal(update.json<Alert>().status, "in_progress");
  assert.equal(update.json<Alert>().assignee, "analyst-user");
  const resolved = await server.call({
    method: "PATCH",
    url: ROUTES.updateAlert.path.replace(":id", id),
    as: server.sessions.analyst,
    payload: { status: "resolved", assignee: null },
  });
  assert.equal(resolved.json<Alert>().status, "resolved");
  assert.equal(resolved.json<Alert>().assignee, undefined);
  const audit = (
    await server.call({ method: "GET", url: `${ROUTES.auditLog.path}?limit=1000`, as: server.sessions.admin })
  ).json<{
    items: { action: string; target?: string; actor: string }[];
  }>();
  assert.equal(
    audit.items.filter((a) => a.action === "alert.update" && a.target === id && a.actor === "analyst-user").length,
    2,
  );
});

test("alert updates refuse empty and unknown changes (400) and unknown alerts (404)", async () => {
  const id = await alertId("rule-a");
  for (const payload of [{}, { status: "done" }, { status: "resolved", severity: "low" }]) {
    const response = await server.call({
      method: "PATCH",
      url: ROUTES.updateAlert.path.replace(":id", id),
      as: server.sessions.analyst,
      payload,
    });
    assert.equal(response.statusCode, 400);
  }
  for (const [method, url, payload] of [
    ["PATCH", ROUTES.updateAlert.path, { status: "resolved" }],
    ["GET", ROUTES.getAlert.path, undefined],
    ["POST", ROUTES.commentAlert.path, { text: "x" }],
  ] as const) {
    const response = await server.call({
      method,
      url: url.replace(":id", "no-such-alert"),
      as: server.sessions.analyst,
      ...(payload === undefined ? {} : { payload }),
    });
    assert.equal(response.statusCode, 404);
    assert.equal(errorCode(response), "R3_ERR_ALERT_NOT_FOUND");
  }
  const empty = await server.call({
    method: "POST",
    url: ROUTES.commentAlert.path.replace(":id", id),
    as: server.sessions.analyst,
    payload: { text: "" },
  });
  assert.equal(empty.statusCode, 400);
});

test("bulk update changes many alerts at once", async () => {
  const response = await server.call({
    method: "POST",
    url: ROUTES.bulkUpdateAlerts.path,
    as: server.sessions.analyst,
    payload: { ids: [await alertId("rule-a"), await alertId("rule-c")], update: { status: "false_positive" } },
  });
  assert.equal(response.statusCode, 200, response.body);
  assert.deepEqual(response.json(), { updated: 2 });
  assert.equal((await list("status=false_positive")).items.length, 2);
  const bad = await server.call({
    method: "POST",
    url: ROUTES.bulkUpdateAlerts.path,
    as: server.sessions.analyst,
    payload: { ids: [], update: { status: "new" } },
  });
  assert.equal(bad.statusCode, 400);
});

test("a suppression hides matching alerts until it expires, and can be deleted", async () => {
  const created = await server.call({
    method: "POST",
    url: ROUTES.createSuppression.path,
    as: server.sessions.analyst,
    payload: { ruleId: "rule-noisy", reason: "known admin tool", expiresAt: "2026-03-02T12:00:00.000Z" },
  });
  assert.equal(created.statusCode, 200, created.body);
  const suppression = created.json<{ id: string; createdBy: string }>();
  assert.equal(suppression.createdBy, "analyst-user");
  const listed = (
    await server.call({ method: "GET", url: ROUTES.listSuppressions.path, as: server.sessions.viewer })
  ).json<{ id: string }[]>();
  assert.ok(listed.some((s) => s.id === suppression.id));

  const event = processEvent({ fields: { Image: "/usr/bin/noisy" } });
  await server.call({
    method: "POST",
    url: ROUTES.ingest.path,
    as: agent.credential,
    ...gzipped(batch([event], [agentAlert(event, { id: "noisy-1", ruleId: "rule-noisy" })])),
  });
  const noisy = (await list("ruleId=rule-noisy")).items;
  assert.equal(
    noisy.every((a) => a.status !== "new"),
    true,
    "a suppressed alert never surfaces as new",
  );

  const removed = await server.call({
    method: "DELETE",
    url: ROUTES.deleteSuppression.path.replace(":id", suppression.id),
    as: server.sessions.analyst,
  });
  assert.equal(removed.statusCode, 200);
  const again = await server.call({
    method: "DELETE",
    url: ROUTES.deleteSuppression.path.replace(":id", suppression.id),
    as: server.sessions.analyst,
  });
  assert.equal(again.statusCode, 404);
  assert.equal(errorCode(again), "R3_ERR_SUPPRESSION_NOT_FOUND");
  const invalid = await server.call({
    method: "POST",
    url: ROUTES.createSuppression.path,
    as: server.sessions.analyst,
    payload: { ruleId: "x", expiresAt: "2026-03-02T12:00:00.000Z" },
  });
  assert.equal(invalid.statusCode, 400, "a suppression needs a reason");
});

test("the overview counts alerts by level and hosts by state over the last 24 hours", async () => {
  const response = await server.call({ method: "GET", url: ROUTES.overview.path, as: server.sessions.viewer });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json<{
    from: string;
    to: string;
    alerts: { byLevel: Record<string, number>; topRules: { ruleId: string }[] };
    hosts: { total: number; online: number; silent: number; isolated: number };
  }>();
  assert.equal(body.to, new Date(server.clock.ms).toISOString());
  assert.equal(Date.parse(body.to) - Date.parse(body.from), 24 * 3600_000);
  assert.equal(body.alerts.byLevel["critical"], 1);
  assert.equal(body.alerts.byLevel["high"], 1);
  assert.ok(body.alerts.topRules.length > 0);
  assert.deepEqual(body.hosts, {
    total: 1,
    online: 1,
    silent: 0,
    isolated: 0,
    byHealth: { online: 1, degraded: 0, isolated: 0, silent: 0 },
  });
  const ranged = await server.call({
    method: "GET",
    url: `${ROUTES.overview.path}?from=2026-02-01T00:00:00.000Z&to=2026-02-02T00:00:00.000Z`,
    as: server.sessions.viewer,
  });
  assert.deepEqual(ranged.json<{ alerts: { byLevel: Record<string, number> } }>().alerts.byLevel["critical"] ?? 0, 0);
});
