import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import type { Alert, AttackCoverage, RuleList } from "@ring3/protocol";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { createServer } from "../src/create-server.ts";
import type { TestServer } from "./server-harness.ts";
import { batch, errorCode, gzipped, processEvent, startTestServer } from "./server-harness.ts";

const CURL_RULE = `title: Curl fetches a shell script
id: 5b0b7a52-0000-4000-8000-000000000001
status: test
level: high
author: ring3 tests
tags: [attack.t1105, attack.command-and-control]
logsource: { product: linux, category: process_creation }
detection:
  sel:
    Image|endswith: /curl
    CommandLine|contains: .sh
  condition: sel
`;

const WHOAMI_RULE = `title: whoami
id: 5b0b7a52-0000-4000-8000-000000000002
status: test
level: low
logsource: { product: linux, category: process_creation }
detection:
  sel:
    Image|endswith: /whoami
  condition: sel
`;

const SPREAD_CORRELATION = `title: One user runs whoami on three hosts
id: 5b0b7a52-0000-4000-8000-000000000003
status: test
level: critical
correlation:
  type: event_count
  rules: [5b0b7a52-0000-4000-8000-000000000002]
  group-by: [User]
  timespan: 10m
  condition: { gte: 3 }
`;

const BROKEN_RULE = `title: broken
id: 5b0b7a52-0000-4000-8000-000000000009
logsource: { product: linux, category: process_creation }
detection:
  sel:
    Image|nosuchmodifier: x
  condition: sel
`;

let rulesDir: string;
let server: TestServer;
before(async () => {
  rulesDir = await mkdtemp(join(tmpdir(), "ring3-server-rules-"));
  await mkdir(join(rulesDir, "linux"));
  await writeFile(join(rulesDir, "linux", "curl.yml"), CURL_RULE);
  await writeFile(join(rulesDir, "linux", "whoami.yml"), WHOAMI_RULE);
  await writeFile(join(rulesDir, "linux", "spread.yml"), SPREAD_CORRELATION);
  await writeFile(join(rulesDir, "linux", "broken.yml"), BROKEN_RULE);
  server = await startTestServer({ rulesDirs: [rulesDir] });
});
after(async () => {
  await server.close();
  await rm(rulesDir, { recursive: true, force: true });
});

const alertsOf = async (query: string) =>
  (await server.call({ method: "GET", url: `${ROUTES.listAlerts.path}?${query}`, as: server.sessions.viewer })).json<{
    items: Alert[];
  }>().items;

test("events a log-only host sends with detect: true run through the server's rules", async () => {
  const agent = await server.enroll("log-only");
  const hit = processEvent({ fields: { Image: "/usr/bin/curl", CommandLine: "curl http://x/a.sh" } });
  const miss = processEvent({ fields: { Image: "/usr/bin/curl", CommandLine: "curl http://x/a.txt" } });
  const response = await server.call({
    method: "POST",
    url: ROUTES.ingest.path,
    as: agent.credential,
    ...gzipped(batch([hit, miss], [], { detect: true })),
  });
  assert.equal(response.statusCode, 200, response.body);
  const alerts = await alertsOf(`hostId=${agent.hostId}`);
  assert.equal(alerts.length, 1);
  const alert = alerts[0]!;
  assert.equal(alert.ruleId, "5b0b7a52-0000-4000-8000-000000000001");
  assert.equal(alert.level, "high");
  assert.equal(alert.author, "ring3 tests");
  assert.equal(alert.eventId, hit.id);
  assert.deepEqual(alert.techniques, ["T1105"]);
  assert.ok(alert.explanation !== undefined && alert.explanation.selections.length > 0);

  // Resent (the agent lost the acknowledgement): stored once, not detected twice.
  const retry = batch([hit], [], { detect: true });
  await server.call({ method: "POST", url: ROUTES.ingest.path, as: agent.credential, ...gzipped(retry) });
  await server.call({ method: "POST", url: ROUTES.ingest.path, as: agent.credential, ...gzipped(retry) });
  const after = await alertsOf(`hostId=${agent.hostId}`);
  assert.equal(after.length, 1);
  assert.equal(after[0]!.count, 1, "the same rule on the same event is one sighting");
});

test("events of a host that detects itself (no detect flag) raise no rule alerts on the server", async () => {
  const agent = await server.enroll("self-detecting");
  const event = processEvent({ fields: { Image: "/usr/bin/curl", CommandLine: "curl http://x/b.sh" } });
  await server.call({ method: "POST", url: ROUTES.ingest.path, as: agent.credential, ...gzipped(batch([event])) });
  assert.equal((await alertsOf(`hostId=${agent.hostId}`)).length, 0);
});

test("a correlation counts matches across hosts, whether they detect themselves or not", async () => {
  const hosts = [await server.enroll("spread-1"), await server.enroll("spread-2"), await server.enroll("spread-3")];
  for (const [i, host] of hosts.entries()) {
    const event = processEvent({
      time: `2026-03-01T11:5${i}:00.000Z`,
      host: `spread-${i + 1}`,
      fields: { Image: "/usr/bin/whoami", User: "mallory" },
    });
    const response = await server.call({
      method: "POST",
      url: ROUTES.ingest.path,
      as: host.credential,
      ...gzipped(batch([event], [], i === 0 ? { detect: true } : {})),
    });
    assert.equal(response.statusCode, 200);
  }
  const correlated = await alertsOf("ruleId=5b0b7a52-0000-4000-8000-000000000003");
  assert.equal(correlated.length, 1);
  assert.equal(correlated[0]!.level, "critical");
  assert.equal(correlated[0]!.hostId, hosts[2]!.hostId, "attributed to the host whose event completed it");
  const hostsInvolved = new Set(
    correlated[0]!.explanation?.selections.map((s) => (s.fields[0] as { host: string }).host),
  );
  assert.deepEqual([...hostsInvolved].sort(), ["spread-1", "spread-2", "spread-3"]);
  // whoami is consumed by the correlation: it raises no alert of its own.
  assert.equal((await alertsOf("ruleId=5b0b7a52-0000-4000-8000-000000000002")).length, 0);
});

test("the rules route lists rules and correlations with their diagnostics", async () => {
  const response = await server.call({ method: "GET", url: ROUTES.listRules.path, as: server.sessions.admin });
  assert.equal(response.statusCode, 200, response.body);
  const list = response.json<RuleList>();
  assert.deepEqual(list.dirs, [rulesDir]);
  assert.deepEqual(list.rules.map((r) => [r.kind, r.title, r.enabled]).sort(), [
    ["correlation", "One user runs whoami on three hosts", true],
    ["rule", "Curl fetches a shell script", true],
    ["rule", "whoami", true],
  ]);
  const broken = list.diagnostics.find((d) => d.file.endsWith("broken.yml"));
  assert.ok(broken !== undefined, "the broken rule's diagnostic is listed");
  assert.equal(broken.severity, "error");
});

test("disabling a rule stops it on the server and survives a restart; unknown rules are 404", async () => {
  const id = "5b0b7a52-0000-4000-8000-000000000001";
  const off = await server.call({
    method: "PATCH",
    url: ROUTES.updateRule.path.replace(":id", id),
    as: server.sessions.admin,
    payload: { enabled: false },
  });
  assert.equal(off.statusCode, 200, off.body);
  assert.equal(off.json<{ enabled: boolean }>().enabled, false);
  const agent = await server.enroll("after-disable");
  const event = processEvent({ fields: { Image: "/usr/bin/curl", CommandLine: "curl http://x/c.sh" } });
  await server.call({
    method: "POST",
    url: ROUTES.ingest.path,
    as: agent.credential,
    ...gzipped(batch([event], [], { detect: true })),
  });
  assert.equal((await alertsOf(`hostId=${agent.hostId}`)).length, 0);

  const state = JSON.parse(await readFile(join(server.dataDir, "server-rules.json"), "utf8")) as { disabled: string[] };
  assert.deepEqual(state.disabled, [id]);
  const restarted = await createServer({
    store: server.store,
    dataDir: server.dataDir,
    plainHttp: true,
    rulesDirs: [rulesDir],
    maintenanceIntervalMs: 0,
    now: server.clock.now,
  });
  const rules = (
    await restarted.inject({
      method: "GET",
      url: ROUTES.listRules.path,
      headers: { authorization: `Bearer ${server.sessions.admin}` },
    })
  ).json<RuleList>();
  assert.equal(rules.rules.find((r) => r.id === id)?.enabled, false);
  await restarted.close();
  const audit = (
    await server.call({ method: "GET", url: `${ROUTES.auditLog.path}?limit=1000`, as: server.sessions.admin })
  ).json<{ items: { action: string; target?: string }[] }>();
  assert.ok(audit.items.some((a) => a.action === "rule.disable" && a.target === id));

  const missing = await server.call({
    method: "PATCH",
    url: ROUTES.updateRule.path.replace(":id", "no-such-rule"),
    as: server.sessions.admin,
    payload: { enabled: false },
  });
  assert.equal(missing.statusCode, 404);
  assert.equal(errorCode(missing), "R3_ERR_RULE_NOT_FOUND");
  const bad = await server.call({
    method: "PATCH",
    url: ROUTES.updateRule.path.replace(":id", id),
    as: server.sessions.admin,
    payload: { enabled: "no" },
  });
  assert.equal(bad.statusCode, 400);

  const on = await server.call({
    method: "PATCH",
    url: ROUTES.updateRule.path.replace(":id", id),
    as: server.sessions.admin,
    payload: { enabled: true },
  });
  assert.equal(on.json<{ enabled: boolean }>().enabled, true);
});

test("a rule's detail carries its YAML, tags and references, for every role", async () => {
  const response = await server.call({
    method: "GET",
    url: ROUTES.getRule.path.replace(":id", "5b0b7a52-0000-4000-8000-000000000001"),
    as: server.sessions.viewer,
  });
  assert.equal(response.statusCode, 200, response.body);
  const rule = response.json<{ title: string; yaml: string; tags: string[]; references: string[]; kind: string }>();
  assert.equal(rule.title, "Curl fetches a shell script");
  assert.equal(rule.kind, "rule");
  assert.match(rule.yaml, /Image\|endswith: \/curl/);
  assert.deepEqual(rule.tags, ["attack.t1105", "attack.command-and-control"]);
  assert.deepEqual(rule.references, []);
  const correlation = await server.call({
    method: "GET",
    url: ROUTES.getRule.path.replace(":id", "5b0b7a52-0000-4000-8000-000000000003"),
    as: server.sessions.viewer,
  });
  assert.equal(correlation.json<{ kind: string }>().kind, "correlation");
  const missing = await server.call({
    method: "GET",
    url: ROUTES.getRule.path.replace(":id", encodeURIComponent("A title / with spaces")),
    as: server.sessions.viewer,
  });
  assert.equal(missing.statusCode, 404);
  assert.equal(errorCode(missing), "R3_ERR_RULE_NOT_FOUND");
});

test("testing a rule runs it alone over the stored events of the last hours", async () => {
  const agent = await server.enroll("rule-test-host");
  const events = [
    processEvent({
      time: "2026-03-01T11:30:00.000Z",
      fields: { Image: "/usr/bin/curl", CommandLine: "curl http://x/t1.sh" },
    }),
    processEvent({
      time: "2026-03-01T11:31:00.000Z",
      fields: { Image: "/usr/bin/curl", CommandLine: "curl http://x/t2.txt" },
    }),
    processEvent({
      time: "2026-02-20T11:31:00.000Z",
      fields: { Image: "/usr/bin/curl", CommandLine: "curl http://x/old.sh" },
    }),
  ];
  assert.equal(
    (await server.call({ method: "POST", url: ROUTES.ingest.path, as: agent.credential, ...gzipped(batch(events)) }))
      .statusCode,
    200,
  );
  const run = await server.call({
    method: "POST",
    url: ROUTES.testRule.path.replace(":id", "5b0b7a52-0000-4000-8000-000000000001"),
    as: server.sessions.admin,
    payload: { hours: 2 },
  });
  assert.equal(run.statusCode, 200, run.body);
  const result = run.json<{
    eventsScanned: number;
    matches: number;
    truncated: boolean;
    samples: { id: string }[];
    from: string;
    to: string;
  }>();
  assert.ok(result.eventsScanned >= 2);
  assert.ok(result.samples.some((s) => s.id === events[0]!.id));
  assert.equal(
    result.samples.some((s) => s.id === events[1]!.id || s.id === events[2]!.id),
    false,
  );
  assert.equal(result.matches, result.samples.length);
  assert.equal(result.truncated, false);
  assert.equal(Date.parse(result.to) - Date.parse(result.from), 2 * 3600_000);

  const correlation = await server.call({
    method: "POST",
    url: ROUTES.testRule.path.replace(":id", "5b0b7a52-0000-4000-8000-000000000003"),
    as: server.sessions.admin,
    payload: { hours: 2 },
  });
  assert.equal(correlation.statusCode, 409);
  assert.equal(errorCode(correlation), "R3_ERR_RULE_NOT_TESTABLE");
  const tooLong = await server.call({
    method: "POST",
    url: ROUTES.testRule.path.replace(":id", "x"),
    as: server.sessions.admin,
    payload: { hours: 10_000 },
  });
  assert.equal(tooLong.statusCode, 400);
});

test(
  "ATT&CK coverage: the catalog's matrix, the techniques the enabled rules tag, the techniques that alerted",
  { skip: sharedDataDir() === undefined ? SHARED_DATA_MISSING : false },
  async () => {
    const response = await server.call({ method: "GET", url: ROUTES.attackCoverage.path, as: server.sessions.viewer });
    assert.equal(response.statusCode, 200, response.body.slice(0, 300));
    const body = response.json<AttackCoverage>();
    assert.match(body.version, /^\d+\.\d+$/);
    assert.equal(body.tactics.length, 14);
    assert.ok(body.techniques.some((t) => t.id === "T1105" && t.tactics.includes("command-and-control")));
    assert.ok(body.techniques.some((t) => t.parent === "T1059"));
    assert.deepEqual(body.coverage["T1105"]?.rules, ["Curl fetches a shell script"]);
    assert.ok((body.coverage["T1105"]?.alerts ?? 0) >= 1, "the curl alerts of the earlier tests count");
  },
);

test("ATT&CK coverage without a catalog → 503 R3_ERR_ATTACK_CATALOG_MISSING", async () => {
  const app = await createServer({
    store: server.store,
    dataDir: server.dataDir,
    plainHttp: true,
    maintenanceIntervalMs: 0,
    now: server.clock.now,
    attackCatalogPath: join(server.dataDir, "absent.json"),
  });
  try {
    const response = await app.inject({
      method: "GET",
      url: ROUTES.attackCoverage.path,
      headers: { authorization: `Bearer ${server.sessions.viewer}` },
    });
    assert.equal(response.statusCode, 503);
    assert.equal(errorCode(response), "R3_ERR_ATTACK_CATALOG_MISSING");
  } finally {
    await app.close();
  }
});
