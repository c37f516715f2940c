import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { HOST_HEALTHS, ROUTES } from "@ring3/protocol";
import type { HostPage } from "@ring3/protocol";
import type { TestServer } from "./server-harness.ts";
import { batch, errorCode, gzipped, processEvent, startTestServer } from "./server-harness.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => server.close());

const enrollBody = (token: string, hostname = "enrolled-host") => ({
  token,
  hostname,
  machineId: `m-${hostname}`,
  os: "linux",
  osVersion: "6.8",
  agentVersion: "0.1.0",
});

const heartbeat = (overrides: Record<string, unknown> = {}) => ({
  time: new Date(server.clock.ms).toISOString(),
  agentVersion: "0.1.0",
  contentVersion: "rules-2026.03",
  sensors: { connector: { state: "started" }, audit: { state: "degraded", reason: "no CAP_AUDIT_READ" } },
  queueDepth: 7,
  spoolBytes: 1024,
  dropped: { overrun: 2 },
  isolated: false,
  ...overrides,
});

async function newToken(body: Record<string, unknown> = { ttlSeconds: 3600 }): Promise<{ id: string; token: string }> {
  const response = await server.call({
    method: "POST",
    url: ROUTES.createEnrollmentToken.path,
    as: server.sessions.admin,
    payload: body,
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<{ id: string; token: string }>();
}

test("an enrollment token is shown once, listed without its secret, and buys a working agent credential", async () => {
  const created = await newToken({ ttlSeconds: 600, description: "lab", maxUses: 10 });
  assert.match(created.token, /^r3e_/);
  const list = await server.call({ method: "GET", url: ROUTES.listEnrollmentTokens.path, as: server.sessions.admin });
  const listed = list.json<Record<string, unknown>[]>().find((t) => t["id"] === created.id);
  assert.ok(listed !== undefined);
  assert.equal(JSON.stringify(list.json()).includes(created.token), false);
  assert.equal(listed["uses"], 0);

  const enrolled = await server.call({ method: "POST", url: ROUTES.enroll.path, payload: enrollBody(created.token) });
  assert.equal(enrolled.statusCode, 200, enrolled.body);
  const body = enrolled.json<{
    agentId: string;
    credential: string;
    heartbeatIntervalSeconds: number;
    caCertPem?: string;
  }>();
  assert.match(body.credential, /^r3a_/);
  assert.equal(body.heartbeatIntervalSeconds, 30);
  assert.equal(body.caCertPem, undefined, "plain HTTP has no CA to hand out");

  const beat = await server.call({
    method: "POST",
    url: ROUTES.heartbeat.path,
    as: body.credential,
    payload: heartbeat(),
  });
  assert.equal(beat.statusCode, 200, beat.body);
  assert.equal(beat.json<{ pendingCommands: number }>().pendingCommands, 0);

  const host = (
    await server.call({
      method: "GET",
      url: ROUTES.getHost.path.replace(":id", body.agentId),
      as: server.sessions.viewer,
    })
  ).json<Record<string, unknown>>();
  assert.equal(host["hostname"], "enrolled-host");
  assert.equal(host["state"], "online");
  assert.equal(host["queueDepth"], 7);
  assert.deepEqual(host["dropped"], { overrun: 2 });
  assert.equal((host["sensors"] as Record<string, { state: string }>)["audit"]?.state, "degraded");
  assert.equal(host["contentVersion"], "rules-2026.03");
});

test("expired, revoked and used-up tokens are refused with 401 R3_ERR_ENROLL_TOKEN_INVALID", async () => {
  const expiring = await newToken({ ttlSeconds: 60 });
  server.clock.advance(61);
  const expired = await server.call({
    method: "POST",
    url: ROUTES.enroll.path,
    payload: enrollBody(expiring.token, "late"),
    remoteAddress: "10.2.0.1",
  });
  assert.equal(expired.statusCode, 401);
  assert.equal(errorCode(expired), "R3_ERR_ENROLL_TOKEN_INVALID");

  const revoking = await newToken();
  const revoke = await server.call({
    method: "DELETE",
    url: ROUTES.revokeEnrollmentToken.path.replace(":id", revoking.id),
    as: server.sessions.admin,
  });
  assert.equal(revoke.statusCode, 200);
  const revoked = await server.call({
    method: "POST",
    url: ROUTES.enroll.path,
    payload: enrollBody(revoking.token, "r"),
    remoteAddress: "10.2.0.2",
  });
  assert.equal(revoked.statusCode, 401);

  const once = await newToken({ ttlSeconds: 600, maxUses: 1 });
  assert.equal(
    (
      await server.call({
        method: "POST",
        url: ROUTES.enroll.path,
        payload: enrollBody(once.token, "o1"),
        remoteAddress: "10.2.0.3",
      })
    ).statusCode,
    200,
  );
  const second = await server.call({
    method: "POST",
    url: ROUTES.enroll.path,
    payload: enrollBody(once.token, "o2"),
    remoteAddress: "10.2.0.3",
  });
  assert.equal(second.statusCode, 401);

  const missing = await server.call({
    method: "DELETE",
    url: ROUTES.revokeEnrollmentToken.path.replace(":id", "nope"),
    as: server.sessions.admin,
  });
  assert.equal(missing.statusCode, 404);
  assert.equal(errorCode(missing), "R3_ERR_ENROLLMENT_TOKEN_NOT_FOUND");
});

test("refused enrollments from one address are rate limited (the audit log cannot be flooded)", async () => {
  let last = 0;
  for (let i = 0; i < 7; i++) {
    last = (
      await server.call({
        method: "POST",
        url: ROUTES.enroll.path,
        payload: enrollBody(`r3e_guess_${"x".repeat(20)}${i}`),
        remoteAddress: "10.3.0.1",
      })
    ).statusCode;
  }
  assert.equal(last, 429);
});

test("token creation input: ttl out of range and unknown fields → 400", async () => {
  for (const payload of [{ ttlSeconds: 5 }, { ttlSeconds: 3600, scope: "all" }, { ttlSeconds: "3600x" }]) {
    const response = await server.call({
      method: "POST",
      url: ROUTES.createEnrollmentToken.path,
      as: server.sessions.admin,
      payload,
    });
    assert.equal(response.statusCode, 400);
  }
});

test("a silent host is marked silent with a host-silent alert; a heartbeat brings it back online", async () => {
  const agent = await server.enroll("quiet-host");
  assert.equal(
    (await server.call({ method: "POST", url: ROUTES.heartbeat.path, as: agent.credential, payload: heartbeat() }))
      .statusCode,
    200,
  );
  server.clock.advance(60);
  await server.app.ring3.maintenance.tick();
  const stillOnline = (
    await server.call({
      method: "GET",
      url: ROUTES.getHost.path.replace(":id", agent.hostId),
      as: server.sessions.viewer,
    })
  ).json<{ state: string }>();
  assert.equal(stillOnline.state, "online");

  server.clock.advance(60); // 120 s > 3 × 30 s
  await server.app.ring3.maintenance.tick();
  const silent = (
    await server.call({
      method: "GET",
      url: ROUTES.getHost.path.replace(":id", agent.hostId),
      as: server.sessions.viewer,
    })
  ).json<{ state: string }>();
  assert.equal(silent.state, "silent");
  const alerts = (
    await server.call({
      method: "GET",
      url: `${ROUTES.listAlerts.path}?hostId=${agent.hostId}`,
      as: server.sessions.viewer,
    })
  ).json<{
    items: { ruleId: string; level: string; status: string }[];
  }>();
  assert.deepEqual(
    alerts.items.map((a) => [a.ruleId, a.level, a.status]),
    [["ring3.host-silent", "high", "new"]],
  );
  // A second sweep raises nothing new for the same silence.
  await server.app.ring3.maintenance.tick();
  const again = (
    await server.call({
      method: "GET",
      url: `${ROUTES.listAlerts.path}?hostId=${agent.hostId}`,
      as: server.sessions.viewer,
    })
  ).json<{ items: { count: number }[] }>();
  assert.equal(again.items.length, 1);
  assert.equal(again.items[0]!.count, 1);

  assert.equal(
    (await server.call({ method: "POST", url: ROUTES.heartbeat.path, as: agent.credential, payload: heartbeat() }))
      .statusCode,
    200,
  );
  const back = (
    await server.call({
      method: "GET",
      url: ROUTES.getHost.path.replace(":id", agent.hostId),
      as: server.sessions.viewer,
    })
  ).json<{ state: string }>();
  assert.equal(back.state, "online");
});

test("heartbeat input: negative queue depth, unknown sensor state, extra fields → 400", async () => {
  const agent = await server.enroll("hb-bad");
  for (const payload of [
    heartbeat({ queueDepth: -1 }),
    heartbeat({ sensors: { x: { state: "exploded" } } }),
    heartbeat({ uptime: 5 }),
    heartbeat({ time: "now" }),
  ]) {
    const response = await server.call({ method: "POST", url: ROUTES.heartbeat.path, as: agent.credential, payload });
    assert.equal(response.statusCode, 400);
    assert.equal(errorCode(response), "R3_ERR_REQUEST_INVALID");
  }
});

test("hosts are listed; an unknown host is 404 on detail, timeline and process tree", async () => {
  const list = await server.call({ method: "GET", url: ROUTES.listHosts.path, as: server.sessions.viewer });
  assert.equal(list.statusCode, 200);
  assert.ok(list.json<HostPage>().items.some((h) => h.hostname === "enrolled-host"));
  for (const url of [ROUTES.getHost.path, ROUTES.hostTimeline.path, ROUTES.processTree.path]) {
    const response = await server.call({
      method: "GET",
      url: url.replace(":id", "no-such-host"),
      as: server.sessions.viewer,
    });
    assert.equal(response.statusCode, 404);
    assert.equal(errorCode(response), "R3_ERR_HOST_NOT_FOUND");
  }
});

test("the host list pages in hostname order, filters by health and hostname, and counts the whole fleet", async () => {
  const ids: string[] = [];
  for (const name of ["page-c", "page-a", "page-b"]) {
    const agent = await server.enroll(name);
    ids.push(agent.hostId);
    const sensors = name === "page-b" ? { audit: { state: "stopped" } } : { audit: { state: "started" } };
    const beat = await server.call({
      method: "POST",
      url: ROUTES.heartbeat.path,
      as: agent.credential,
      payload: heartbeat({ sensors }),
    });
    assert.equal(beat.statusCode, 200, beat.body);
  }
  const get = async (query: string) => {
    const response = await server.call({
      method: "GET",
      url: `${ROUTES.listHosts.path}?${query}`,
      as: server.sessions.viewer,
    });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<HostPage>();
  };
  const first = await get("q=PAGE-&limit=2");
  assert.deepEqual(
    first.items.map((h) => h.hostname),
    ["page-a", "page-b"],
  );
  assert.ok(first.nextCursor !== undefined);
  const second = await get(`q=page-&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`);
  assert.deepEqual(
    second.items.map((h) => [h.hostname, h.health]),
    [["page-c", "online"]],
  );
  assert.equal(second.nextCursor, undefined);
  const degraded = await get("health=degraded&health=silent&q=page");
  assert.deepEqual(
    degraded.items.map((h) => h.hostname),
    ["page-b"],
  );
  // The counts are the fleet's, whatever the filter: the console's chips show what each filter would list.
  assert.equal(degraded.fleet.total, first.fleet.total);
  assert.ok(degraded.fleet.byHealth.degraded >= 1);
  assert.equal(
    degraded.fleet.total,
    HOST_HEALTHS.reduce((sum, health) => sum + degraded.fleet.byHealth[health], 0),
  );

  for (const query of ["health=sleepy", "limit=0", "limit=1001", "q=" + "x".repeat(300), "cursor=not-a-cursor"]) {
    const response = await server.call({
      method: "GET",
      url: `${ROUTES.listHosts.path}?${query}`,
      as: server.sessions.viewer,
    });
    assert.equal(response.statusCode, 400, query);
  }
  const anonymous = await server.call({ method: "GET", url: ROUTES.listHosts.path });
  assert.equal(anonymous.statusCode, 401);
});

test("a host's timeline and process tree are built from its events", async () => {
  const agent = await server.enroll("tree-host");
  const parent = processEvent({
    time: "2026-03-01T11:00:00.000Z",
    fields: { ProcessId: 100, ParentProcessId: 1, Image: "/usr/bin/bash", CommandLine: "bash" },
  });
  const child = processEvent({
    time: "2026-03-01T11:00:01.000Z",
    fields: { ProcessId: 101, ParentProcessId: 100, Image: "/usr/bin/curl", CommandLine: "curl x" },
  });
  const ingest = await server.call({
    method: "POST",
    url: ROUTES.ingest.path,
    as: agent.credential,
    ...gzipped(batch([parent, child])),
  });
  assert.equal(ingest.statusCode, 200, ingest.body);

  const timeline = await server.call({
    method: "GET",
    url: `${ROUTES.hostTimeline.path.replace(":id", agent.hostId)}?limit=10`,
    as: server.sessions.viewer,
  });
  assert.equal(timeline.statusCode, 200, timeline.body);
  const items = timeline.json<{ items: { kind: string; event?: { id: string } }[] }>().items;
  assert.deepEqual(
    items.map((i) => i.event?.id),
    [child.id, parent.id],
  );

  const tree = await server.call({
    method: "GET",
    url: `${ROUTES.processTree.path.replace(":id", agent.hostId)}?pid=101`,
    as: server.sessions.viewer,
  });
  assert.equal(tree.statusCode, 200, tree.body);
  const nodes = tree.json<{ focusPid?: number; nodes: { pid: number; ppid?: number; image?: string }[] }>().nodes;
  assert.ok(nodes.some((n) => n.pid === 100 && n.image === "/usr/bin/bash"));
  assert.ok(nodes.some((n) => n.pid === 101 && n.ppid === 100));
});

test("event search filters by logsource and fields and pages", async () => {
  const agent = await server.enroll("search-host");
  const events = Array.from({ length: 5 }, (_, i) =>
    processEvent({
      time: `2026-03-01T10:00:0${i}.000Z`,
      fields: { CommandLine: `search-marker ${i}`, User: i % 2 === 0 ? "even" : "odd" },
    }),
  );
  assert.equal(
    (await server.call({ method: "POST", url: ROUTES.ingest.path, as: agent.credential, ...gzipped(batch(events)) }))
      .statusCode,
    200,
  );
  const search = (payload: Record<string, unknown>) =>
    server.call({
      method: "POST",
      url: ROUTES.searchEvents.path,
      as: server.sessions.viewer,
      payload: { hostId: agent.hostId, ...payload },
    });
  const evens = (await search({ filters: [{ field: "User", op: "eq", value: "EVEN" }] })).json<{ items: unknown[] }>();
  assert.equal(evens.items.length, 3);
  const page1 = (await search({ limit: 2 })).json<{ items: { id: string }[]; nextCursor?: string }>();
  assert.equal(page1.items.length, 2);
  assert.ok(page1.nextCursor !== undefined);
  const page2 = (await search({ limit: 2, cursor: page1.nextCursor })).json<{ items: { id: string }[] }>();
  assert.equal(page2.items.length, 2);
  assert.equal(
    page2.items.some((e) => page1.items.some((p) => p.id === e.id)),
    false,
  );
  const none = (await search({ logsource: { category: "network_connection" } })).json<{ items: unknown[] }>();
  assert.equal(none.items.length, 0);
  const bad = await search({ filters: [{ field: "User", op: "regex", value: "(a+)+$" }] });
  assert.equal(bad.statusCode, 400);
  const tooMany = await search({ filters: Array.from({ length: 33 }, () => ({ field: "User", op: "exists" })) });
  assert.equal(tooMany.statusCode, 400);
});
