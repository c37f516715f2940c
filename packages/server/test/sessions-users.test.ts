import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import type { TestServer } from "./server-harness.ts";
import { errorCode, startTestServer } from "./server-harness.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => server.close());

const login = (username: string, password: string, remoteAddress = "10.0.0.1") =>
  server.app.inject({ method: "POST", url: ROUTES.login.path, payload: { username, password }, remoteAddress });

test("login returns the user and a session usable as an HttpOnly SameSite=Strict cookie and as Bearer", async () => {
  const response = await login("analyst-user", server.password);
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json<{ user: { username: string; role: string }; token: string; expiresAt: string }>();
  assert.equal(body.user.username, "analyst-user");
  assert.equal(body.user.role, "analyst");
  assert.equal("passwordHash" in body.user, false);
  const cookie = String(response.headers["set-cookie"]);
  assert.match(cookie, /^r3_session=r3s_[A-Za-z0-9_-]+;/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(cookie, /Path=\//);
  assert.equal(Date.parse(body.expiresAt) - server.clock.ms, 12 * 3600_000);

  const viaCookie = await server.app.inject({
    method: "GET",
    url: ROUTES.me.path,
    headers: { cookie: `other=1; r3_session=${body.token}` },
  });
  assert.equal(viaCookie.statusCode, 200);
  assert.equal(viaCookie.json<{ username: string }>().username, "analyst-user");
  const viaBearer = await server.call({ method: "GET", url: ROUTES.me.path, as: body.token });
  assert.equal(viaBearer.statusCode, 200);
});

test("a wrong password and an unknown user get the same 401 R3_ERR_AUTH_INVALID_CREDENTIALS", async () => {
  const wrong = await login("viewer-user", "not the password", "10.0.0.2");
  const unknown = await login("nobody", "whatever", "10.0.0.2");
  for (const response of [wrong, unknown]) {
    assert.equal(response.statusCode, 401);
    assert.equal(errorCode(response), "R3_ERR_AUTH_INVALID_CREDENTIALS");
    assert.equal(response.headers["set-cookie"], undefined);
  }
  assert.equal(
    wrong.json<{ error: { message: string } }>().error.message,
    unknown.json<{ error: { message: string } }>().error.message,
  );
});

test("repeated failed logins for one account from one address → 429 with Retry-After; other addresses still work", async () => {
  for (let i = 0; i < 5; i++) assert.equal((await login("admin-user", `guess-${i}`, "10.9.9.9")).statusCode, 401);
  const limited = await login("admin-user", server.password, "10.9.9.9");
  assert.equal(limited.statusCode, 429);
  assert.equal(errorCode(limited), "R3_ERR_AUTH_RATE_LIMITED");
  assert.ok(Number(limited.headers["retry-after"]) > 0);
  // The owner elsewhere is not locked out by someone else's guessing.
  assert.equal((await login("admin-user", server.password, "10.1.1.1")).statusCode, 200);
  // The window slides: after it, the address may try again.
  server.clock.advance(16 * 60);
  assert.equal((await login("admin-user", server.password, "10.9.9.9")).statusCode, 200);
});

test("logout ends the session and clears the cookie", async () => {
  const token = (await login("viewer-user", server.password, "10.0.0.3")).json<{ token: string }>().token;
  const out = await server.call({ method: "POST", url: ROUTES.logout.path, as: token });
  assert.equal(out.statusCode, 200);
  assert.match(String(out.headers["set-cookie"]), /r3_session=;.*Max-Age=0/);
  const after = await server.call({ method: "GET", url: ROUTES.me.path, as: token });
  assert.equal(after.statusCode, 401);
  assert.equal(errorCode(after), "R3_ERR_AUTH_REQUIRED");
});

test("an expired session is refused", async () => {
  const token = (await login("viewer-user", server.password, "10.0.0.4")).json<{ token: string }>().token;
  server.clock.advance(12 * 3600 + 1);
  const response = await server.call({ method: "GET", url: ROUTES.me.path, as: token });
  assert.equal(response.statusCode, 401);
  server.clock.advance(-(12 * 3600 + 1));
});

test("login input: missing fields, extra fields and oversized values → 400", async () => {
  for (const payload of [
    { username: "admin-user" },
    { username: "admin-user", password: "x", remember: true },
    { username: "a".repeat(10_000), password: "x" },
    { username: "admin-user", password: "p".repeat(100_000) },
  ]) {
    const response = await server.app.inject({ method: "POST", url: ROUTES.login.path, payload });
    assert.equal(response.statusCode, 400);
    assert.equal(errorCode(response), "R3_ERR_REQUEST_INVALID");
  }
});

test("an admin creates, lists and deletes users; every change is in the audit log", async () => {
  const created = await server.call({
    method: "POST",
    url: ROUTES.createUser.path,
    as: server.sessions.admin,
    payload: { username: "new.analyst@example", password: "a long enough password", role: "analyst" },
  });
  assert.equal(created.statusCode, 200, created.body);
  const user = created.json<{ id: string; username: string; role: string }>();
  assert.equal(user.role, "analyst");
  assert.equal("passwordHash" in user, false);
  assert.equal((await login("new.analyst@example", "a long enough password", "10.0.0.5")).statusCode, 200);

  const list = await server.call({ method: "GET", url: ROUTES.listUsers.path, as: server.sessions.admin });
  assert.ok(list.json<{ username: string }[]>().some((u) => u.username === "new.analyst@example"));

  const deleted = await server.call({
    method: "DELETE",
    url: ROUTES.deleteUser.path.replace(":id", user.id),
    as: server.sessions.admin,
  });
  assert.equal(deleted.statusCode, 200);
  assert.equal((await login("new.analyst@example", "a long enough password", "10.0.0.5")).statusCode, 401);

  const audit = await server.call({
    method: "GET",
    url: `${ROUTES.auditLog.path}?limit=1000`,
    as: server.sessions.admin,
  });
  const actions = audit.json<{ items: { action: string; actor: string; target?: string }[] }>().items;
  assert.ok(actions.some((a) => a.action === "user.create" && a.actor === "admin-user" && a.target === user.id));
  assert.ok(actions.some((a) => a.action === "user.delete" && a.target === user.id));
  assert.ok(actions.some((a) => a.action === "auth.login_failed"));
});

test("user creation refuses duplicates (409), short passwords and odd usernames (400)", async () => {
  const dup = await server.call({
    method: "POST",
    url: ROUTES.createUser.path,
    as: server.sessions.admin,
    payload: { username: "viewer-user", password: "a long enough password", role: "viewer" },
  });
  assert.equal(dup.statusCode, 409);
  assert.equal(errorCode(dup), "R3_ERR_USER_EXISTS");
  for (const payload of [
    { username: "shorty", password: "short", role: "viewer" },
    { username: "bad name", password: "a long enough password", role: "viewer" },
    { username: "root", password: "a long enough password", role: "superuser" },
  ]) {
    const response = await server.call({
      method: "POST",
      url: ROUTES.createUser.path,
      as: server.sessions.admin,
      payload,
    });
    assert.equal(response.statusCode, 400);
  }
});

test("an admin cannot delete itself (409) nor a missing user (404)", async () => {
  const self = await server.call({
    method: "DELETE",
    url: ROUTES.deleteUser.path.replace(":id", server.userIds.admin),
    as: server.sessions.admin,
  });
  assert.equal(self.statusCode, 409);
  assert.equal(errorCode(self), "R3_ERR_USER_SELF_DELETE");
  const missing = await server.call({
    method: "DELETE",
    url: ROUTES.deleteUser.path.replace(":id", "no-such-user"),
    as: server.sessions.admin,
  });
  assert.equal(missing.statusCode, 404);
  assert.equal(errorCode(missing), "R3_ERR_USER_NOT_FOUND");
});

test("the audit log pages with a cursor", async () => {
  const first = (
    await server.call({ method: "GET", url: `${ROUTES.auditLog.path}?limit=2`, as: server.sessions.admin })
  ).json<{
    items: { id: string }[];
    nextCursor?: string;
  }>();
  assert.equal(first.items.length, 2);
  assert.ok(first.nextCursor !== undefined);
  const second = (
    await server.call({
      method: "GET",
      url: `${ROUTES.auditLog.path}?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`,
      as: server.sessions.admin,
    })
  ).json<{ items: { id: string }[] }>();
  assert.ok(second.items.length > 0);
  assert.equal(
    second.items.some((i) => first.items.some((f) => f.id === i.id)),
    false,
  );
});
