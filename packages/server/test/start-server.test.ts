import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import { hashSecret, newSecret } from "../src/auth/secrets.ts";
import { createServer, ServerConfigError } from "../src/create-server.ts";
import { startServer } from "../src/start-server.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import type { Store } from "../src/store/store.ts";

let dataDir: string;
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "ring3-start-test-"));
});
after(async () => rm(dataDir, { recursive: true, force: true }));

/** An HTTPS request that trusts only `ca` (as a pinned agent does). */
function pinnedRequest(
  url: string,
  ca: string,
  options: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        ca,
        headers: options.body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}

test("first start: a CA and server certificate in the data dir, HTTPS that a pinned client trusts, an admin printed once", async () => {
  const server = await startServer({ dataDir, host: "127.0.0.1", port: 0, maintenanceIntervalMs: 0 });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.ca !== undefined);
    assert.equal(server.ca.created, true);
    const caPem = await readFile(server.ca.certPath, "utf8");
    const ca = new X509Certificate(caPem);
    assert.equal(ca.ca, true);
    assert.equal(ca.fingerprint256, server.ca.fingerprint256);
    assert.equal((await stat(join(dataDir, "tls", "ca.key"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, "tls", "server.key"))).mode & 0o777, 0o600);

    assert.ok(server.admin !== undefined);
    assert.equal(server.admin.username, "admin");
    assert.ok(server.admin.password.length >= 20);

    const health = await pinnedRequest(`${server.url}/healthz`, caPem);
    assert.equal(health.status, 200);
    const login = await pinnedRequest(`${server.url}${ROUTES.login.path}`, caPem, {
      method: "POST",
      body: { username: "admin", password: server.admin.password },
    });
    assert.equal(login.status, 200, login.body);
    const cookie = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${server.url}${ROUTES.login.path}`,
        { method: "POST", ca: caPem, headers: { "content-type": "application/json" } },
        (res) => {
          res.resume();
          resolve(String(res.headers["set-cookie"]));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ username: "admin", password: server.admin!.password }));
    });
    assert.match(cookie, /; Secure/, "over HTTPS the session cookie is Secure");

    // A client that does not pin the CA refuses the server.
    await assert.rejects(
      new Promise((resolve, reject) => request(`${server.url}/healthz`, resolve).on("error", reject).end()),
      /self-signed|unable to verify|certificate/i,
    );
  } finally {
    await server.close();
  }
});

test("the next start reuses the data: same CA, same users, no new admin password", async () => {
  const fingerprint = new X509Certificate(await readFile(join(dataDir, "tls", "ca.pem"))).fingerprint256;
  const server = await startServer({ dataDir, host: "127.0.0.1", port: 0, maintenanceIntervalMs: 0 });
  try {
    assert.equal(server.admin, undefined);
    assert.equal(server.ca?.created, false);
    assert.equal(server.ca?.fingerprint256, fingerprint);
    assert.equal(await server.store.countUsers(), 1);
  } finally {
    await server.close();
  }
});

test("the enrollment answer carries the CA the agent pins", async () => {
  const server = await startServer({ dataDir, host: "127.0.0.1", port: 0, maintenanceIntervalMs: 0 });
  try {
    const caPem = await readFile(join(dataDir, "tls", "ca.pem"), "utf8");
    const token = (
      await server.app.inject({
        method: "POST",
        url: ROUTES.createEnrollmentToken.path,
        headers: { authorization: `Bearer ${await adminSession(server.store)}` },
        payload: { ttlSeconds: 600 },
      })
    ).json<{ token: string }>().token;
    assert.ok(server.app.ring3.context.settings.tls);
    const enrolled = await pinnedRequest(`${server.url}${ROUTES.enroll.path}`, caPem, {
      method: "POST",
      body: { token, hostname: "pinned", machineId: "m", os: "linux", agentVersion: "0.1.0" },
    });
    assert.equal(enrolled.status, 200, enrolled.body);
    assert.equal((JSON.parse(enrolled.body) as { caCertPem: string }).caCertPem, caPem);
  } finally {
    await server.close();
  }
});

test("plain HTTP is refused on a non-loopback address and served on loopback when asked", async () => {
  const store = await openSqliteStore({ path: join(dataDir, "plain.db") });
  try {
    await assert.rejects(
      createServer({ store, dataDir, plainHttp: true, host: "0.0.0.0", maintenanceIntervalMs: 0 }),
      (error: unknown) => error instanceof ServerConfigError && error.code === "R3_ERR_SERVER_PLAIN_HTTP_REFUSED",
    );
    await assert.rejects(
      createServer({ store, dataDir, plainHttp: true, host: "192.168.1.10", maintenanceIntervalMs: 0 }),
      ServerConfigError,
    );
  } finally {
    await store.close();
  }
  const server = await startServer({
    dataDir: join(dataDir, "plain"),
    host: "::1",
    port: 0,
    plainHttp: true,
    maintenanceIntervalMs: 0,
  });
  try {
    assert.match(server.url, /^http:\/\/\[::1\]:\d+$/);
    assert.equal(server.ca, undefined);
    const response = await fetch(`${server.url}/healthz`);
    assert.equal(response.status, 200);
  } finally {
    await server.close();
  }
});

test("the console bundle is served at / with a CSP, its client-side routes fall back to index.html, the API stays JSON", async () => {
  const web = join(dataDir, "web-dist");
  await mkdir(join(web, "assets"), { recursive: true });
  await writeFile(
    join(web, "index.html"),
    "<!doctype html><title>ring3</title><script type=module src=/assets/app.js></script>",
  );
  await writeFile(join(web, "assets", "app.js"), "console.log('ring3')");
  const store = await openSqliteStore({ path: join(dataDir, "console.db") });
  const app = await createServer({ store, dataDir, plainHttp: true, webDir: web, maintenanceIntervalMs: 0 });
  try {
    const index = await app.inject({ method: "GET", url: "/" });
    assert.equal(index.statusCode, 200);
    assert.match(index.body, /<title>ring3<\/title>/);
    assert.match(String(index.headers["content-security-policy"]), /default-src 'self'/);
    const asset = await app.inject({ method: "GET", url: "/assets/app.js" });
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers["content-type"]), /javascript/);
    const deepLink = await app.inject({ method: "GET", url: "/alerts/a-1?tab=event" });
    assert.equal(deepLink.statusCode, 200);
    assert.match(deepLink.body, /<title>ring3<\/title>/);
    const api = await app.inject({ method: "GET", url: "/api/v1/not-a-route" });
    assert.equal(api.statusCode, 404);
    assert.equal(api.json<{ error: { code: string } }>().error.code, "R3_ERR_ROUTE_NOT_FOUND");
    const traversal = await app.inject({ method: "GET", url: "/assets/..%2f..%2fconsole.db" });
    assert.ok(!traversal.body.includes("SQLite format"), "no file outside the bundle is served");
  } finally {
    await app.close();
    await store.close();
  }
});

/** A session for the first admin, straight in the store (the test does not know its password). */
async function adminSession(store: Store): Promise<string> {
  const admin = (await store.listUsers()).find((u) => u.role === "admin")!;
  const token = newSecret("session");
  await store.createSession({
    tokenHash: hashSecret(token),
    userId: admin.id,
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  });
  return token;
}

test("a server that cannot listen creates no admin (its one-time password would be lost)", async () => {
  const first = await startServer({
    dataDir: join(dataDir, "first"),
    host: "127.0.0.1",
    port: 0,
    plainHttp: true,
    maintenanceIntervalMs: 0,
  });
  try {
    const secondDir = join(dataDir, "second");
    await assert.rejects(
      startServer({
        dataDir: secondDir,
        host: "127.0.0.1",
        port: first.port,
        plainHttp: true,
        maintenanceIntervalMs: 0,
      }),
      /EADDRINUSE/,
    );
    const store = await openSqliteStore({ path: join(secondDir, "ring3.db") });
    try {
      assert.equal(await store.countUsers(), 0);
    } finally {
      await store.close();
    }
    const retried = await startServer({
      dataDir: secondDir,
      host: "127.0.0.1",
      port: 0,
      plainHttp: true,
      maintenanceIntervalMs: 0,
    });
    assert.ok(retried.admin !== undefined, "the next successful start creates it");
    await retried.close();
  } finally {
    await first.close();
  }
});
