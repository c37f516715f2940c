import assert from "node:assert/strict";
import { request } from "node:http";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import type { TestServer } from "./server-harness.ts";
import { agentAlert, batch, gzipped, processEvent, startTestServer } from "./server-harness.ts";

let server: TestServer;
let base: string;
before(async () => {
  server = await startTestServer({ maxStreams: 2 });
  await server.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});
after(async () => server.close());

/** Opens the live stream over a real socket (inject cannot hold a response open). */
function openStream(token: string | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${ROUTES.stream.path}`,
      { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      resolve,
    );
    req.on("error", reject);
    req.end();
  });
}

/** Reads SSE messages until `predicate` holds for one. */
function nextMessage(
  stream: IncomingMessage,
  predicate: (event: string, data: unknown) => boolean,
): Promise<{ event: string; data: unknown }> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`no matching message; got ${buffer.slice(0, 500)}`)), 5000);
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) {
          const parsed: unknown = JSON.parse(data);
          if (predicate(event, parsed)) {
            clearTimeout(timer);
            resolve({ event, data: parsed });
          }
        }
      }
    });
  });
}

test("the live stream pushes new alerts and host changes as Server-Sent Events", async () => {
  const stream = await openStream(server.sessions.viewer);
  assert.equal(stream.statusCode, 200);
  assert.match(String(stream.headers["content-type"]), /^text\/event-stream/);
  const hostMessage = nextMessage(stream, (event) => event === "host");
  const agent = await server.enroll("live-host");
  const host = await hostMessage;
  assert.equal((host.data as { host: { id: string } }).host.id, agent.hostId);

  // A sensor that stops is news to the console; the same heartbeat again is not (a large fleet beats often).
  const degradedMessage = nextMessage(stream, (event) => event === "host");
  const beat = (audit: "started" | "stopped") => ({
    time: new Date(server.clock.ms).toISOString(),
    agentVersion: (host.data as { host: { agentVersion: string } }).host.agentVersion,
    contentVersion: "c1",
    sensors: { connector: { state: "started" }, audit: { state: audit } },
    queueDepth: 0,
    dropped: {},
    isolated: false,
  });
  for (const audit of ["started", "stopped"] as const) {
    const response = await server.call({
      method: "POST",
      url: ROUTES.heartbeat.path,
      as: agent.credential,
      payload: beat(audit),
    });
    assert.equal(response.statusCode, 200, response.body);
  }
  const degraded = (await degradedMessage).data as { host: { id: string; health: string } };
  assert.deepEqual([degraded.host.id, degraded.host.health], [agent.hostId, "degraded"]);

  const alertMessage = nextMessage(stream, (event) => event === "alert");
  const event = processEvent();
  await server.call({
    method: "POST",
    url: ROUTES.ingest.path,
    as: agent.credential,
    ...gzipped(batch([event], [agentAlert(event, { ruleId: "live-rule" })])),
  });
  const alert = await alertMessage;
  assert.equal((alert.data as { type: string; alert: { ruleId: string; hostId: string } }).alert.ruleId, "live-rule");
  assert.equal((alert.data as { alert: { hostId: string } }).alert.hostId, agent.hostId);
  stream.destroy();
});

test("the live stream needs a session, and at most maxStreams are open at once", async () => {
  const anonymous = await openStream(undefined);
  assert.equal(anonymous.statusCode, 401);
  anonymous.resume();
  const streams = [await openStream(server.sessions.viewer), await openStream(server.sessions.viewer)];
  const third = await openStream(server.sessions.viewer);
  assert.equal(third.statusCode, 503);
  third.resume();
  for (const s of streams) s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const again = await openStream(server.sessions.viewer);
  assert.equal(again.statusCode, 200);
  again.destroy();
});

test("/metrics speaks the Prometheus text format with ingest, hosts, alerts, store and process figures", async () => {
  const response = await server.call({ method: "GET", url: "/metrics" });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const text = response.body;
  for (const name of [
    "ring3_ingest_batches_total",
    "ring3_ingest_events_total",
    "ring3_ingest_batch_duration_seconds_bucket",
    "ring3_hosts",
    "ring3_alerts_last_24h",
    "ring3_store_events",
    "ring3_store_bytes",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
  ]) {
    assert.match(text, new RegExp(`^${name}`, "m"), `${name} missing`);
  }
  assert.match(text, /^ring3_hosts\{state="online"\} \d+$/m);
  assert.match(text, /^ring3_hosts_isolated \d+$/m);
  assert.match(text, /^ring3_hosts_health\{health="degraded"\} \d+$/m);
  // This process's descriptors, as /proc counts them: the store's files and the test's sockets at least.
  const open = Number(/^process_open_fds (\d+)$/m.exec(text)?.[1]);
  const max = Number(/^process_max_fds (\d+)$/m.exec(text)?.[1]);
  assert.ok(open > 3 && open <= max, `open ${open}, max ${max}`);
  assert.match(text, /^ring3_alerts_last_24h\{level="medium"\} [1-9]/m);
  assert.match(text, /^ring3_ingest_batch_duration_seconds_bucket\{le="\+Inf"\} [1-9]/m);
  // Every sample line is `name{labels} value`.
  for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
    assert.match(line, /^[a-z_:][a-z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$/i, line);
  }
});

test("/healthz answers ok with the store engine", async () => {
  const response = await server.call({ method: "GET", url: "/healthz" });
  assert.equal(response.statusCode, 200);
  assert.equal(response.json<{ status: string }>().status, "ok");
});
