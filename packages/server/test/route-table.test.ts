import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LIMITS, ROUTES } from "@ring3/protocol";
import type { RouteName, RouteSpec } from "@ring3/protocol";
import type { TestServer } from "./server-harness.ts";
import { errorCode, startTestServer } from "./server-harness.ts";

/**
 * Properties every route of `ROUTES` must have, checked route by route: it is registered, it refuses
 * missing, unknown and wrong-kind credentials and too-low roles, and it answers bad, oversized and hostile
 * bodies with 4xx codes. Each route's success path is in the test file of its area.
 */

const ROUTE_NAMES = Object.keys(ROUTES) as RouteName[];
const fill = (spec: RouteSpec, id = "x1"): string => spec.path.replace(":id", id);

let server: TestServer;
let agentCredential: string;
before(async () => {
  server = await startTestServer();
  agentCredential = (await server.enroll()).credential;
});
after(async () => server.close());

/** A credential of the route's own kind with enough rights. */
function rightful(spec: RouteSpec): string | undefined {
  if (spec.auth.kind === "agent") return agentCredential;
  if (spec.auth.kind === "user") return server.sessions[spec.auth.role];
  return undefined;
}

test("the server registers exactly the API routes of ROUTES", () => {
  const registered = new Set(server.app.ring3.routes.filter((r) => !r.startsWith("HEAD ")));
  for (const name of ROUTE_NAMES) {
    const spec = ROUTES[name];
    assert.ok(registered.has(`${spec.method} ${spec.path}`), `${name}: ${spec.method} ${spec.path} is not registered`);
  }
  const declared = new Set(ROUTE_NAMES.map((n) => `${ROUTES[n].method} ${ROUTES[n].path}`));
  for (const route of registered) {
    if (route.split(" ")[1]!.startsWith("/api/"))
      assert.ok(declared.has(route), `${route} is registered but not in ROUTES`);
  }
});

describe("authentication on every route", () => {
  for (const name of ROUTE_NAMES) {
    const spec: RouteSpec = ROUTES[name];
    if (spec.auth.kind === "public") continue;
    test(`${name}: no credential → 401`, async () => {
      const response = await server.call({ method: spec.method, url: fill(spec) });
      assert.equal(response.statusCode, 401);
      assert.equal(errorCode(response), "R3_ERR_AUTH_REQUIRED");
    });
    test(`${name}: an unknown credential → 401`, async () => {
      const forged = spec.auth.kind === "agent" ? "r3a_forgedcredential0000000000" : "r3s_forgedsession00000000000000";
      const response = await server.call({ method: spec.method, url: fill(spec), as: forged });
      assert.equal(response.statusCode, 401);
      assert.equal(errorCode(response), "R3_ERR_AUTH_REQUIRED");
    });
    test(`${name}: a credential of the other kind → 403`, async () => {
      const other = spec.auth.kind === "agent" ? server.sessions.admin : agentCredential;
      const response = await server.call({ method: spec.method, url: fill(spec), as: other });
      assert.equal(response.statusCode, 403);
      assert.equal(errorCode(response), "R3_ERR_AUTH_FORBIDDEN");
    });
    const auth = spec.auth;
    if (auth.kind === "user" && auth.role !== "viewer") {
      const lower = auth.role === "admin" ? (["viewer", "analyst"] as const) : (["viewer"] as const);
      for (const role of lower) {
        test(`${name}: a ${role} (needs ${auth.role}) → 403`, async () => {
          const response = await server.call({ method: spec.method, url: fill(spec), as: server.sessions[role] });
          assert.equal(response.statusCode, 403);
          assert.equal(errorCode(response), "R3_ERR_AUTH_FORBIDDEN");
        });
      }
    }
  }
});

describe("bad, oversized and hostile bodies on every route that takes one", () => {
  for (const name of ROUTE_NAMES) {
    const spec: RouteSpec = ROUTES[name];
    if (spec.body === undefined) continue;
    const send = (payload: string | Buffer, headers: Record<string, string> = {}) =>
      server.call({
        method: spec.method,
        url: fill(spec),
        as: rightful(spec),
        payload,
        headers: { "content-type": "application/json", ...headers },
      });
    test(`${name}: a body of the wrong shape → 400 R3_ERR_REQUEST_INVALID`, async () => {
      const response = await send("[1,2,3]");
      assert.equal(response.statusCode, 400);
      assert.equal(errorCode(response), "R3_ERR_REQUEST_INVALID");
    });
    test(`${name}: invalid JSON → 400 R3_ERR_REQUEST_MALFORMED`, async () => {
      const response = await send('{"a": ');
      assert.equal(response.statusCode, 400);
      assert.equal(errorCode(response), "R3_ERR_REQUEST_MALFORMED");
    });
    test(`${name}: a body over LIMITS.maxBodyBytes → 413`, async () => {
      const response = await send(JSON.stringify({ pad: "x".repeat(LIMITS.maxBodyBytes) }));
      assert.equal(response.statusCode, 413);
      assert.equal(errorCode(response), name === "ingest" ? "R3_ERR_INGEST_TOO_LARGE" : "R3_ERR_REQUEST_TOO_LARGE");
    });
    test(`${name}: JSON nested 100,000 deep → 400 R3_ERR_REQUEST_TOO_DEEP`, async () => {
      const response = await send(`{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
      assert.equal(response.statusCode, 400);
      assert.equal(errorCode(response), "R3_ERR_REQUEST_TOO_DEEP");
    });
    test(`${name}: __proto__ keys → 400`, async () => {
      const response = await send('{"__proto__": {"admin": true}}');
      assert.equal(response.statusCode, 400);
      assert.match(errorCode(response), /^R3_ERR_REQUEST_/);
    });
    test(`${name}: a form body → 415 R3_ERR_REQUEST_UNSUPPORTED_MEDIA`, async () => {
      const response = await send("a=1", { "content-type": "application/x-www-form-urlencoded" });
      assert.equal(response.statusCode, 415);
      assert.equal(errorCode(response), "R3_ERR_REQUEST_UNSUPPORTED_MEDIA");
    });
  }
});

describe("bad path parameters and queries", () => {
  for (const name of ROUTE_NAMES) {
    const spec: RouteSpec = ROUTES[name];
    // Rule refs may be titles (any text); only routes whose id follows the Id pattern can have a bad one.
    const params: { properties?: { id?: { pattern?: string } } } | undefined = spec.params;
    if (params?.properties?.id?.pattern === undefined) continue;
    test(`${name}: an id outside the Id pattern → 400`, async () => {
      const response = await server.call({
        method: spec.method,
        url: fill(spec, "bad%20id%3Cscript%3E"),
        as: rightful(spec),
        ...(spec.body === undefined ? {} : { payload: {} }),
      });
      assert.equal(response.statusCode, 400);
      assert.equal(errorCode(response), "R3_ERR_REQUEST_INVALID");
    });
  }
  const badQueries: Partial<Record<RouteName, string>> = {
    auditLog: "limit=0",
    hostTimeline: "limit=100000",
    processTree: "pid=-1",
    listAlerts: "level=catastrophic",
    listCommands: "limit=abc",
    pollCommands: "waitSeconds=3600",
    overview: "from=yesterday",
  };
  for (const [name, query] of Object.entries(badQueries) as [RouteName, string][]) {
    test(`${name}: ?${query} → 400`, async () => {
      const spec: RouteSpec = ROUTES[name];
      const response = await server.call({ method: spec.method, url: `${fill(spec)}?${query}`, as: rightful(spec) });
      assert.equal(response.statusCode, 400);
      assert.equal(errorCode(response), "R3_ERR_REQUEST_INVALID");
    });
  }
});

test("an unknown API route is a JSON 404 with a code", async () => {
  const response = await server.call({ method: "GET", url: "/api/v1/nothing-here", as: server.sessions.admin });
  assert.equal(response.statusCode, 404);
  assert.equal(errorCode(response), "R3_ERR_ROUTE_NOT_FOUND");
});
