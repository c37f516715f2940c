import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { test } from "node:test";
import type { RuleMatch } from "@ring3/detection";
import { ROUTES } from "@ring3/protocol";
import type { Event } from "@ring3/schema";
import { startServer } from "@ring3/server";
import type { RunningServer } from "@ring3/server";
import { AgentLink } from "../src/link/agent-link.ts";
import type { AgentLinkOptions } from "../src/link/agent-link.ts";
import { buildBatch } from "../src/link/batch.ts";
import { CommandJournal } from "../src/link/command-journal.ts";
import { ensureEnrolled, loadLinkState } from "../src/link/enrollment.ts";
import { LinkClient } from "../src/link/link-client.ts";
import { Spool } from "../src/link/spool.ts";
import { ResponseExecutor } from "../src/response/response-executor.ts";
import { eventRecord } from "../src/link/wire-records.ts";
import { ConsoleApi, duplicates, waitUntil } from "./link-harness.ts";

/*
 * The link against the real server (startServer: fastify, SQLite, TLS with its own CA) over real sockets on
 * loopback. Nothing is faked: what the tests count is what the server's API returns.
 */

type Ctx = { after: (fn: () => void | Promise<void>) => void };

function tempDir(t: Ctx, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

type Stack = { server: RunningServer; api: ConsoleApi; ca: string | undefined; dataDir: string; password: string };

async function serverUp(
  t: Ctx,
  options: { plainHttp?: boolean; dataDir?: string; port?: number } = {},
): Promise<Stack> {
  const dataDir = options.dataDir ?? tempDir(t, "ring3-link-server-");
  const server = await startServer({
    dataDir,
    host: "127.0.0.1",
    port: options.port ?? 0,
    plainHttp: options.plainHttp === true,
    webDir: join(dataDir, "no-console"),
  });
  const ca = server.ca === undefined ? undefined : readFileSync(server.ca.certPath, "utf8");
  const password = server.admin?.password;
  assert.ok(password !== undefined, "a fresh data dir creates the admin");
  const api = await ConsoleApi.login(server.url, password, ca);
  t.after(async () => {
    api.close();
    await server.close();
  });
  return { server, api, ca, dataDir, password };
}

let counter = 0;
function testEvent(n: number, fields: Event["fields"] = {}): Event {
  counter += 1;
  return {
    id: `uplink-test-${process.pid}-${counter}`,
    time: new Date(Date.UTC(2026, 2, 1, 12, 0, 0, n)).toISOString(),
    host: "test-host",
    logsource: { product: "linux", category: "process_creation" },
    fields: { Image: "/usr/bin/true", CommandLine: `true marker-${n}`, ProcessId: 1000 + n, ...fields },
  };
}

function linkOptions(stateDir: string, stack: Stack, token: string | undefined, log: string[]): AgentLinkOptions {
  return {
    stateDir,
    serverUrl: stack.server.url,
    enrollToken: token,
    caPem: stack.ca,
    contentVersion: "rules-test",
    serverDetects: false,
    heartbeatIntervalMs: 200,
    log: (message) => log.push(message),
  };
}

test("link: enrolls over TLS with the pinned CA, ships events and alerts once each, heartbeats report the spool", async (t) => {
  const stack = await serverUp(t);
  const stateDir = tempDir(t, "ring3-link-agent-");
  const log: string[] = [];
  const link = AgentLink.open(linkOptions(stateDir, stack, await stack.api.enrollmentToken(), log));
  t.after(() => link.stop(0));
  link.sensorStatus("audit", { state: "started", detail: "rules installed" });
  link.sensorStatus("fanotify", { state: "degraded", reason: "no CAP_SYS_ADMIN" });

  const events = Array.from({ length: 3000 }, (_, n) => testEvent(n));
  for (const e of events) link.event(e);
  // One oversized event: truncated and flagged, not refused, not blocking the queue.
  const huge = testEvent(9999, { CommandLine: "A".repeat(300_000) });
  link.event(huge);
  const match: RuleMatch = {
    ruleId: "b6f3e2a4-2c8e-4b41-9d7e-0f4c8e2a9b11",
    title: "Test rule",
    level: "high",
    status: "test",
    author: "ring3 tests",
    tags: ["attack.execution"],
    techniques: [],
    tactics: ["execution"],
    file: "t.yml",
    event: events[0]!,
    explanation: { condition: "selection", selections: [] },
  };
  link.ruleAlert(match, [{ pid: 1, image: "/sbin/init", commandLine: null }]);

  const state = await waitUntil("enrollment", () => loadLinkState(stateDir));
  // The credential and the pinned CA are the agent's alone.
  assert.equal(statSync(join(stateDir, "link.json")).mode & 0o777, 0o600);
  assert.equal(statSync(join(stateDir, "server-ca.pem")).mode & 0o777, 0o600);
  const stored = await waitUntil("every event stored", async () => {
    const got = await stack.api.events(state.agentId);
    return got.length >= 3001 ? got : undefined;
  });
  assert.equal(stored.length, 3001);
  assert.deepEqual(duplicates(stored.map((e) => e.id)), []);
  assert.deepEqual(new Set(stored.map((e) => e.id)), new Set([...events.map((e) => e.id), huge.id]));
  const big = stored.find((e) => e.id === huge.id)!;
  assert.equal(big.fields.Ring3Truncated, true);
  assert.equal((big.fields.CommandLine as string).length, 64 * 1024);

  const host = await waitUntil("a heartbeat with an empty queue", async () => {
    const h = await stack.api.host(state.agentId);
    return h.queueDepth === 0 && h.contentVersion === "rules-test" ? h : undefined;
  });
  assert.equal(host.dropped.truncated, 1);
  assert.deepEqual(host.sensors.audit, { state: "started", detail: "rules installed" });
  assert.deepEqual(host.sensors.fanotify, { state: "degraded", reason: "no CAP_SYS_ADMIN" });
  assert.equal(host.openAlerts, 1);
  assert.ok(log.some((line) => line.startsWith(`enrolled with ${stack.server.url} as agent ${state.agentId}`)));
  assert.equal(link.stats().uplink?.duplicates, 0);

  // A later run reuses the credential: no token, no new host.
  await link.stop(2000);
  const again = AgentLink.open(linkOptions(stateDir, stack, undefined, log));
  t.after(() => again.stop(0));
  again.event(testEvent(5000));
  await waitUntil("the event of the second run", async () =>
    (await stack.api.events(state.agentId)).length === 3002 ? true : undefined,
  );
  assert.equal((await stack.api.hosts()).length, 1);
});

test("link: a CA that did not issue the server's certificate is refused, and so is a bad token", async (t) => {
  const a = await serverUp(t);
  const b = await serverUp(t);
  const stateDir = tempDir(t, "ring3-link-agent-");
  await assert.rejects(
    ensureEnrolled({
      stateDir,
      serverUrl: a.server.url,
      token: await a.api.enrollmentToken(),
      caPem: b.ca,
      log: () => undefined,
    }),
    (error: Error & { code?: string }) =>
      error.code === "R3_ERR_ENROLL_UNREACHABLE" && /certificate|self.signed|issuer/i.test(error.message),
  );
  await assert.rejects(
    ensureEnrolled({
      stateDir,
      serverUrl: a.server.url,
      token: "r3e_not-a-real-token-at-all",
      caPem: a.ca,
      log: () => undefined,
    }),
    (error: Error & { code?: string }) =>
      error.code === "R3_ERR_ENROLL_REFUSED" && /R3_ERR_ENROLL_TOKEN_INVALID/.test(error.message),
  );
  assert.equal(loadLinkState(stateDir), undefined, "nothing stored after a refusal");
  // Plain http is for loopback servers only.
  await assert.rejects(
    ensureEnrolled({
      stateDir,
      serverUrl: "http://ring3.example.org:8443",
      token: "x".repeat(20),
      caPem: undefined,
      log: () => undefined,
    }),
    /only for a loopback server/,
  );
});

test("link: the server goes away and comes back on the same data dir; what was spooled meanwhile arrives once", async (t) => {
  const first = await serverUp(t, { plainHttp: true });
  const stateDir = tempDir(t, "ring3-link-agent-");
  const log: string[] = [];
  const link = AgentLink.open(linkOptions(stateDir, first, await first.api.enrollmentToken(), log));
  t.after(() => link.stop(0));
  const sent = [testEvent(1)];
  link.event(sent[0]!);
  const state = await waitUntil("enrollment", () => loadLinkState(stateDir));
  await waitUntil("the first event", async () =>
    (await first.api.events(state.agentId)).length === 1 ? true : undefined,
  );

  const port = first.server.port;
  first.api.close();
  await first.server.close();
  for (let n = 2; n <= 1500; n++) {
    const e = testEvent(n);
    sent.push(e);
    link.event(e);
  }
  await waitUntil("the link to notice", () => (link.stats().uplink?.state === "unreachable" ? true : undefined));
  assert.ok(link.stats().spool.pending >= 1499);

  const second = await startServer({
    dataDir: first.dataDir,
    host: "127.0.0.1",
    port,
    plainHttp: true,
    webDir: join(first.dataDir, "none"),
  });
  t.after(() => second.close());
  assert.equal(second.admin, undefined, "the same data: the admin exists already");
  const api = await ConsoleApi.login(second.url, first.password);
  t.after(() => api.close());
  const stored = await waitUntil(
    "everything spooled",
    async () => {
      const got = await api.events(state.agentId);
      return got.length >= sent.length ? got : undefined;
    },
    60_000,
  );
  assert.equal(stored.length, sent.length);
  assert.deepEqual(duplicates(stored.map((e) => e.id)), []);
  assert.ok(log.some((line) => line.startsWith("link: server unreachable")));
  assert.ok(log.some((line) => /link: connected .*records pending/.test(line)));
});

test("link: a batch the server stored before the agent died unacknowledged is resent under its id and stored once", async (t) => {
  const stack = await serverUp(t, { plainHttp: true });
  const stateDir = tempDir(t, "ring3-link-agent-");
  const log: string[] = [];
  const enrolled = await ensureEnrolled({
    stateDir,
    serverUrl: stack.server.url,
    token: await stack.api.enrollmentToken(),
    caPem: undefined,
    log: () => undefined,
  });
  // What the uplink does, stopped where a kill -9 would stop it: claimed, sent, answered, not acknowledged.
  const spool = Spool.open({ dir: join(stateDir, "spool") });
  const events = Array.from({ length: 100 }, (_, n) => testEvent(n));
  for (const e of events) spool.append(eventRecord(e).payload);
  const claim = { first: 1, last: 100 };
  spool.claim(claim);
  const batch = buildBatch(spool.stats().spoolId, claim, spool.read(0, 1000, 1 << 24));
  const client = new LinkClient({ serverUrl: stack.server.url, credential: enrolled.state.credential });
  const answer = await client.request("POST", ROUTES.ingest.path, { body: gzipSync(batch.json), encoding: "gzip" });
  client.close();
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body, { batchId: batch.id, duplicate: false, events: 100, alerts: 0 });
  spool.close();

  const link = AgentLink.open(linkOptions(stateDir, stack, undefined, log));
  t.after(() => link.stop(0));
  const later = testEvent(101);
  link.event(later);
  await waitUntil("the spool to drain", () => (link.stats().spool.pending === 0 ? true : undefined));
  assert.equal(link.stats().uplink?.duplicates, 1, "the resent batch was recognised");
  const stored = await stack.api.events(enrolled.state.agentId);
  assert.equal(stored.length, 101);
  assert.deepEqual(duplicates(stored.map((e) => e.id)), []);
});

test("link: a record the server refuses is cornered by splitting the batch, dropped and counted; the rest arrive", async (t) => {
  const stack = await serverUp(t, { plainHttp: true });
  const stateDir = tempDir(t, "ring3-link-agent-");
  const enrolled = await ensureEnrolled({
    stateDir,
    serverUrl: stack.server.url,
    token: await stack.api.enrollmentToken(),
    caPem: undefined,
    log: () => undefined,
  });
  const spool = Spool.open({ dir: join(stateDir, "spool") });
  const good = Array.from({ length: 100 }, (_, n) => testEvent(n));
  for (const e of good.slice(0, 60)) spool.append(eventRecord(e).payload);
  // An event record without `time` (the WireEvent schema requires it): as if written by a buggy sensor.
  spool.append(Buffer.from(`e${JSON.stringify({ id: "no-time", host: "h", logsource: {}, fields: {} })}`));
  for (const e of good.slice(60)) spool.append(eventRecord(e).payload);
  spool.close();

  const log: string[] = [];
  const link = AgentLink.open(linkOptions(stateDir, stack, undefined, log));
  t.after(() => link.stop(0));
  await waitUntil("the spool to drain", () => (link.stats().spool.pending === 0 ? true : undefined));
  const stored = await stack.api.events(enrolled.state.agentId);
  assert.deepEqual(new Set(stored.map((e) => e.id)), new Set(good.map((e) => e.id)));
  assert.equal(link.stats().uplink?.rejected, 1);
  assert.ok(
    log.some((line) => /refused record 61 \(400 R3_ERR_REQUEST_INVALID/.test(line)),
    log.join("\n"),
  );
  const host = await waitUntil("a heartbeat with the count", async () => {
    const h = await stack.api.host(enrolled.state.agentId);
    return h.dropped.rejected === 1 ? h : undefined;
  });
  assert.equal(host.queueDepth, 0);
});

test("link: a command queued on the server reaches the agent and its result is recorded", async (t) => {
  const stack = await serverUp(t, { plainHttp: true });
  const stateDir = tempDir(t, "ring3-link-agent-");
  const link = AgentLink.open(linkOptions(stateDir, stack, await stack.api.enrollmentToken(), []));
  t.after(() => link.stop(0));
  const state = await waitUntil("enrollment", () => loadLinkState(stateDir));
  await waitUntil("a heartbeat", async () =>
    (await stack.api.host(state.agentId)).state === "online" ? true : undefined,
  );
  const command = await stack.api.command(state.agentId, { action: "list" });
  const done = await waitUntil("the command's result", async () => {
    const c = await stack.api.getCommand(command.id);
    return c.result === undefined ? undefined : c;
  });
  // This link runs without a response executor: the agent says so rather than leaving the command hanging.
  assert.equal(done.status, "failed");
  assert.equal(done.result?.code, "R3_ERR_RESPONSE_UNAVAILABLE");

  // With the agent's response executor attached (as `ring3 agent` does), the command runs for real.
  link.attachExecutor(
    new ResponseExecutor({ stateDir: tempDir(t, "ring3-link-response-"), addon: null, cgroupMount: null }),
  );
  const list = await stack.api.command(state.agentId, { action: "list" });
  const listed = await waitUntil("the list result", async () => {
    const c = await stack.api.getCommand(list.id);
    return c.result === undefined ? undefined : c;
  });
  assert.equal(listed.status, "succeeded");
  assert.equal(listed.result?.ok, true);
  assert.match(listed.result?.message ?? "", /quarantined.*suspended.*isolated/);
});

test("link: a result the agent could not deliver before it stopped is delivered by the next start", async (t) => {
  const stack = await serverUp(t, { plainHttp: true });
  const stateDir = tempDir(t, "ring3-link-agent-");
  const first = AgentLink.open(linkOptions(stateDir, stack, await stack.api.enrollmentToken(), []));
  const state = await waitUntil("enrollment", () => loadLinkState(stateDir));
  await waitUntil("a heartbeat", async () =>
    (await stack.api.host(state.agentId)).state === "online" ? true : undefined,
  );
  // A real kill that takes a while: the target ignores SIGTERM, so it waits out the grace period for SIGKILL.
  const target = spawn("/bin/sh", ["-c", "trap '' TERM; while :; do sleep 1; done"], { stdio: "ignore" });
  t.after(() => target.kill("SIGKILL"));
  first.attachExecutor(new ResponseExecutor({ stateDir: tempDir(t, "ring3-link-response-"), killGraceMs: 1500 }));
  const command = await stack.api.command(state.agentId, { action: "kill", pid: target.pid });
  const journal = join(stateDir, "commands", `${command.id}.json`);
  await waitUntil("the command running", () => (existsSync(journal) ? true : undefined));
  // Stopping with no flush time: the kill finishes, but its result cannot be posted any more.
  await first.stop(0);
  assert.equal((await stack.api.getCommand(command.id)).result, undefined);
  assert.equal((JSON.parse(readFileSync(journal, "utf8")) as { state: string }).state, "finished");

  const second = AgentLink.open(linkOptions(stateDir, stack, undefined, []));
  t.after(() => second.stop(0));
  const done = await waitUntil("the result, delivered by the next start", async () => {
    const c = await stack.api.getCommand(command.id);
    return c.result === undefined ? undefined : c;
  });
  assert.equal(done.status, "succeeded");
  assert.equal(done.result?.details?.escalated, true);
  await waitUntil("the journal entry settled", () => (existsSync(journal) ? undefined : true));
});

test("command journal: a command the agent stopped in is owed as interrupted; a finished one as it ended", (t) => {
  const stateDir = tempDir(t, "ring3-journal-");
  const before = new CommandJournal(stateDir);
  before.started("c1", "isolate", "2026-03-01T12:00:00.000Z");
  const result = {
    action: "list",
    ok: true,
    message: "nothing quarantined",
    startedAt: "2026-03-01T12:00:01.000Z",
    durationMs: 3,
  };
  before.started("c2", "list", result.startedAt);
  before.finished("c2", result);
  before.started("../escape", "kill", "2026-03-01T12:00:02.000Z");
  writeFileSync(join(stateDir, "commands", "torn.json"), '{"id":"torn","sta');
  const log: string[] = [];
  // The next start reads what the last one left.
  const owed = new CommandJournal(stateDir).owed((message) => log.push(message));
  assert.deepEqual(
    owed.map((o) => [o.id, o.result.action, o.result.ok, o.result.code]),
    [
      ["c1", "isolate", false, "R3_ERR_RESPONSE_INTERRUPTED"],
      ["c2", "list", true, undefined],
    ],
  );
  assert.match(owed[0]!.result.message, /may have taken effect/);
  assert.match(log.join("\n"), /unreadable command journal entry torn\.json/);
  before.settled("c1");
  assert.deepEqual(
    new CommandJournal(stateDir).owed(() => undefined).map((o) => o.id),
    ["c2"],
  );
});

test("link: a refused enrollment turns the link off with the reason; events are still spooled", async (t) => {
  const stack = await serverUp(t, { plainHttp: true });
  const stateDir = tempDir(t, "ring3-link-agent-");
  const log: string[] = [];
  const link = AgentLink.open(linkOptions(stateDir, stack, "r3e_this-token-was-never-issued", log));
  t.after(() => link.stop(0));
  await waitUntil("the refusal", () => (log.some((l) => l.startsWith("link: off:")) ? true : undefined));
  assert.match(
    log.find((l) => l.startsWith("link: off:"))!,
    /R3_ERR_ENROLL_TOKEN_INVALID.*events are spooled/,
  );
  link.event(testEvent(1));
  assert.equal(link.stats().spool.pending, 1);
});
