import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import { jsonDepthExceeds } from "../src/body-parser.ts";
import { createServer } from "../src/create-server.ts";
import type { TestServer } from "./server-harness.ts";
import { errorCode, startTestServer } from "./server-harness.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => server.close());

test("the depth scan counts brackets outside strings only, escapes included", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(jsonDepthExceeds(text('{"a":[[1]]}'), 3), false);
  assert.equal(jsonDepthExceeds(text('{"a":[[[1]]]}'), 3), true);
  assert.equal(jsonDepthExceeds(text(`{"a":"${"[".repeat(1000)}"}`), 3), false, "brackets in a string do not nest");
  assert.equal(jsonDepthExceeds(text('{"a":"\\"[[[[[[","b":1}'), 3), false, "an escaped quote does not end the string");
  assert.equal(jsonDepthExceeds(text('{"a":"\\\\","b":[[[[1]]]]}'), 3), true, "an escaped backslash does");
});

test("a failing store degrades to 500 R3_ERR_INTERNAL without a stack or the internal message; other routes keep working", async () => {
  // The failure is injected at the storage boundary (a disk error), around the real store.
  const failing = new Proxy(server.store, {
    get(target, property, receiver) {
      if (property === "listHosts")
        return () => Promise.reject(new Error("SQLITE_IOERR: disk I/O error at /secret/path"));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const app = await createServer({
    store: failing,
    dataDir: server.dataDir,
    plainHttp: true,
    maintenanceIntervalMs: 0,
    now: server.clock.now,
  });
  try {
    const response = await app.inject({
      method: "GET",
      url: ROUTES.listHosts.path,
      headers: { authorization: `Bearer ${server.sessions.viewer}` },
    });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(response.json(), { error: { code: "R3_ERR_INTERNAL", message: "internal server error" } });
    assert.doesNotMatch(response.body, /SQLITE|secret|at .*\.ts/);
    const me = await app.inject({
      method: "GET",
      url: ROUTES.me.path,
      headers: { authorization: `Bearer ${server.sessions.viewer}` },
    });
    assert.equal(me.statusCode, 200);
  } finally {
    await app.close();
  }
});

test("huge and odd strings in paths, queries and headers get 4xx, never 5xx", async () => {
  const cases = [
    { method: "GET" as const, url: ROUTES.getAlert.path.replace(":id", "a".repeat(5000)) },
    { method: "GET" as const, url: `${ROUTES.listAlerts.path}?q=${"x".repeat(10_000)}` },
    { method: "GET" as const, url: `${ROUTES.listAlerts.path}?sort=__proto__` },
    { method: "GET" as const, url: `${ROUTES.listAlerts.path}?limit=1e309` },
    { method: "GET" as const, url: "/api/v1/alerts/%E0%A4%A" },
    { method: "GET" as const, url: ROUTES.getHost.path.replace(":id", "..%2F..%2Fetc%2Fpasswd") },
  ];
  for (const c of cases) {
    const response = await server.call({ ...c, as: server.sessions.viewer });
    assert.ok(
      response.statusCode >= 400 && response.statusCode < 500,
      `${c.url.slice(0, 80)} → ${response.statusCode}`,
    );
    assert.match(errorCode(response), /^R3_ERR_/);
  }
  const badAuth = await server.call({
    method: "GET",
    url: ROUTES.me.path,
    headers: { authorization: `Bearer ${"A".repeat(100_000)}` },
  });
  assert.equal(badAuth.statusCode, 401);
  const badCookie = await server.call({
    method: "GET",
    url: ROUTES.me.path,
    headers: { cookie: `r3_session=${"%".repeat(5000)}` },
  });
  assert.equal(badCookie.statusCode, 401);
});

test("a field filter value of 4 KiB of regex metacharacters is searched literally and quickly", async () => {
  const started = performance.now();
  const response = await server.call({
    method: "POST",
    url: ROUTES.searchEvents.path,
    as: server.sessions.viewer,
    payload: { filters: [{ field: "CommandLine", op: "contains", value: "(a+)+$".repeat(600).slice(0, 4096) }] },
  });
  assert.equal(response.statusCode, 200, response.body);
  assert.ok(performance.now() - started < 2000);
});

test("every error body has exactly the ErrorBody shape", async () => {
  const responses = [
    await server.call({ method: "GET", url: ROUTES.me.path }),
    await server.call({ method: "POST", url: ROUTES.login.path, payload: { username: "x" } }),
    await server.call({ method: "GET", url: "/api/v1/none", as: server.sessions.viewer }),
  ];
  for (const response of responses) {
    const body = response.json<{ error: Record<string, unknown> }>();
    assert.deepEqual(Object.keys(body), ["error"]);
    for (const key of Object.keys(body.error)) assert.ok(["code", "message", "details"].includes(key));
    assert.match(String(response.headers["content-type"]), /^application\/json/);
    assert.equal(response.headers["x-content-type-options"], "nosniff");
  }
});
