import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import type { Command } from "@ring3/protocol";
import type { TestServer } from "./server-harness.ts";
import { errorCode, startTestServer } from "./server-harness.ts";

let server: TestServer;
let agent: { hostId: string; credential: string };
let other: { hostId: string; credential: string };
before(async () => {
  server = await startTestServer();
  agent = await server.enroll("cmd-host");
  other = await server.enroll("other-host");
});
after(async () => server.close());

const queue = (hostId: string, payload: Record<string, unknown>) =>
  server.call({
    method: "POST",
    url: ROUTES.createCommand.path.replace(":id", hostId),
    as: server.sessions.analyst,
    payload,
  });
const poll = (credential: string, waitSeconds: number) =>
  server.call({ method: "GET", url: `${ROUTES.pollCommands.path}?waitSeconds=${waitSeconds}`, as: credential });
/** The command as the console reads it. */
const getCommand = async (id: string) =>
  (
    await server.call({ method: "GET", url: ROUTES.getCommand.path.replace(":id", id), as: server.sessions.viewer })
  ).json<Command>();
const result = (credential: string, id: string, ok = true) =>
  server.call({
    method: "POST",
    url: ROUTES.commandResult.path.replace(":id", id),
    as: credential,
    payload: {
      action: "kill",
      ok,
      message: ok ? "killed 1 process" : "no such process",
      startedAt: new Date(server.clock.ms).toISOString(),
      durationMs: 3,
      ...(ok ? {} : { code: "R3_ERR_RESPONSE_NO_PROCESS" }),
    },
  });

test("a long-poll waiting for commands answers as soon as one is queued, then the result completes it", async () => {
  const started = performance.now();
  const waiting = poll(agent.credential, 30);
  await new Promise((r) => setTimeout(r, 100));
  const created = await queue(agent.hostId, {
    request: { action: "kill", pid: 4242, tree: true },
    timeoutSeconds: 60,
    alertId: "a-1",
  });
  assert.equal(created.statusCode, 200, created.body);
  const command = created.json<Command>();
  assert.equal(command.status, "queued");
  assert.equal(command.requestedBy, "analyst-user");
  assert.equal(command.deadline, new Date(server.clock.ms + 60_000).toISOString());

  const delivered = await waiting;
  const elapsed = performance.now() - started;
  assert.equal(delivered.statusCode, 200, delivered.body);
  assert.ok(elapsed < 5000, `the long-poll answered after ${elapsed} ms, not at once`);
  assert.deepEqual(
    delivered.json<{ commands: { id: string; request: unknown }[] }>().commands.map((c) => [c.id, c.request]),
    [[command.id, { action: "kill", pid: 4242, tree: true }]],
  );
  const afterDelivery = await getCommand(command.id);
  assert.equal(afterDelivery.status, "delivered");

  const done = await result(agent.credential, command.id);
  assert.equal(done.statusCode, 200, done.body);
  const final = await getCommand(command.id);
  assert.equal(final.status, "succeeded");
  assert.equal(final.result?.message, "killed 1 process");

  const audit = (
    await server.call({ method: "GET", url: `${ROUTES.auditLog.path}?limit=1000`, as: server.sessions.admin })
  ).json<{
    items: { action: string; actor: string; target?: string; details?: { request?: unknown } }[];
  }>();
  const create = audit.items.find((a) => a.action === "command.create" && a.target === command.id);
  assert.equal(create?.actor, "analyst-user");
  assert.deepEqual(create?.details?.request, { action: "kill", pid: 4242, tree: true });
  assert.equal(
    audit.items.find((a) => a.action === "command.result" && a.target === command.id)?.actor,
    `agent:${agent.hostId}`,
  );
});

test("a queued command waits for the next poll; waitSeconds=0 answers at once; a failed result is recorded", async () => {
  const empty = await poll(agent.credential, 0);
  assert.deepEqual(empty.json(), { commands: [] });
  const command = (await queue(agent.hostId, { request: { action: "list" } })).json<Command>();
  const beat = await server.call({
    method: "POST",
    url: ROUTES.heartbeat.path,
    as: agent.credential,
    payload: {
      time: new Date(server.clock.ms).toISOString(),
      agentVersion: "0.1.0",
      contentVersion: "c",
      sensors: {},
      queueDepth: 0,
      dropped: {},
      isolated: false,
    },
  });
  assert.equal(beat.json<{ pendingCommands: number }>().pendingCommands, 1);
  const got = (await poll(agent.credential, 0)).json<{ commands: { id: string }[] }>();
  assert.deepEqual(
    got.commands.map((c) => c.id),
    [command.id],
  );
  assert.equal((await result(agent.credential, command.id, false)).statusCode, 200);
  const final = await getCommand(command.id);
  assert.equal(final.status, "failed");
  assert.equal(final.result?.code, "R3_ERR_RESPONSE_NO_PROCESS");
});

test("another host can neither receive nor answer a host's command", async () => {
  const command = (await queue(agent.hostId, { request: { action: "suspend", pid: 77 } })).json<Command>();
  assert.deepEqual((await poll(other.credential, 0)).json(), { commands: [] });
  const forged = await result(other.credential, command.id);
  assert.equal(forged.statusCode, 404);
  assert.equal(errorCode(forged), "R3_ERR_COMMAND_NOT_FOUND");
  await poll(agent.credential, 0);
  assert.equal((await result(agent.credential, command.id)).statusCode, 200);
});

test("a command without a result by its deadline times out, in the audit log as the server's doing", async () => {
  const command = (
    await queue(agent.hostId, { request: { action: "isolate", allow: ["10.0.0.1:8443"] }, timeoutSeconds: 10 })
  ).json<Command>();
  server.clock.advance(11);
  await server.app.ring3.maintenance.tick();
  const final = await getCommand(command.id);
  assert.equal(final.status, "timed_out");
  assert.deepEqual((await poll(agent.credential, 0)).json(), { commands: [] }, "an expired command is never delivered");
  const audit = (
    await server.call({ method: "GET", url: `${ROUTES.auditLog.path}?limit=1000`, as: server.sessions.admin })
  ).json<{
    items: { action: string; actor: string; target?: string }[];
  }>();
  assert.equal(audit.items.find((a) => a.action === "command.timeout" && a.target === command.id)?.actor, "server");
});

test("commands list by host and page; unknown ids are 404", async () => {
  const list = await server.call({
    method: "GET",
    url: `${ROUTES.listCommands.path}?hostId=${agent.hostId}&limit=2`,
    as: server.sessions.viewer,
  });
  assert.equal(list.statusCode, 200);
  const page = list.json<{ items: Command[]; nextCursor?: string }>();
  assert.equal(page.items.length, 2);
  assert.ok(page.items.every((c) => c.hostId === agent.hostId));
  assert.ok(page.nextCursor !== undefined);
  const missing = await server.call({
    method: "GET",
    url: ROUTES.getCommand.path.replace(":id", "nope"),
    as: server.sessions.viewer,
  });
  assert.equal(missing.statusCode, 404);
  const noHost = await queue("no-such-host", { request: { action: "list" } });
  assert.equal(noHost.statusCode, 404);
  assert.equal(errorCode(noHost), "R3_ERR_HOST_NOT_FOUND");
});

test("command input: unknown action, pid out of range, a block without a sha256 → 400", async () => {
  for (const request of [
    { action: "format-disk" },
    { action: "kill", pid: 0 },
    { action: "kill", pid: 99_999_999 },
    { action: "block", sha256: "abc" },
  ]) {
    const response = await queue(agent.hostId, { request });
    assert.equal(response.statusCode, 400, JSON.stringify(request));
    assert.equal(errorCode(response), "R3_ERR_REQUEST_INVALID");
  }
});

test("closing the server answers waiting long-polls at once", async () => {
  const waiting = poll(agent.credential, 60);
  await new Promise((r) => setTimeout(r, 100));
  const started = performance.now();
  await server.app.close();
  const response = await waiting;
  assert.ok(performance.now() - started < 5000);
  assert.equal(response.statusCode, 200);
});
