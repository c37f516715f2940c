import assert from "node:assert/strict";
import { test } from "node:test";
import { LoginLimiter } from "../src/auth/login-limiter.ts";
import { hashPassword, verifyPassword } from "../src/auth/passwords.ts";
import { hashSecret, newSecret, secretKind } from "../src/auth/secrets.ts";
import { CommandWaiters } from "../src/command-waiters.ts";
import { ApiError } from "../src/errors.ts";
import { IngestQueue } from "../src/ingest-queue.ts";

test("scrypt password hashes verify the right password only, and a malformed hash never verifies", async () => {
  const stored = await hashPassword("correct horse battery staple");
  assert.match(stored, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(await verifyPassword("correct horse battery staple", stored), true);
  assert.equal(await verifyPassword("correct horse battery stapler", stored), false);
  assert.notEqual(await hashPassword("correct horse battery staple"), stored, "salted");
  for (const bad of [
    "",
    "scrypt$1$1$1$x$y",
    "bcrypt$...",
    `scrypt$${2 ** 30}$8$1$AAAA$AAAA`,
    stored.replace(/\$[^$]+$/, "$short"),
  ]) {
    assert.equal(await verifyPassword("x", bad), false, bad);
  }
});

test("secrets carry their kind's prefix and 256 random bits; the store keeps a SHA-256", () => {
  const a = newSecret("agent");
  const b = newSecret("agent");
  assert.notEqual(a, b);
  assert.equal(secretKind(a), "agent");
  assert.equal(secretKind(newSecret("session")), "session");
  assert.equal(secretKind("r3x_whatever"), undefined);
  assert.equal(Buffer.from(a.slice(4), "base64url").length, 32);
  assert.match(hashSecret(a), /^[0-9a-f]{64}$/);
  assert.equal(hashSecret(a), hashSecret(a));
});

test("the login limiter counts per address and per account in a sliding window, with bounded memory", () => {
  const limiter = new LoginLimiter({ windowMs: 1000, maxPerAddress: 3, maxPerAccount: 2, maxEntries: 10 });
  limiter.recordFailure("1.1.1.1", "alice", 0);
  assert.equal(limiter.retryAfterMs("1.1.1.1", "alice", 1), 0);
  limiter.recordFailure("1.1.1.1", "Alice", 100);
  assert.equal(limiter.retryAfterMs("1.1.1.1", "alice", 200), 800, "usernames compare case-insensitively");
  assert.equal(limiter.retryAfterMs("2.2.2.2", "alice", 200), 0, "another address is not locked out");
  assert.throws(() => limiter.check("1.1.1.1", "alice", 200, "failed logins"), { code: "R3_ERR_AUTH_RATE_LIMITED" });
  limiter.recordFailure("1.1.1.1", "bob", 300);
  assert.ok(limiter.retryAfterMs("1.1.1.1", "carol", 400) > 0, "the address limit covers every account");
  assert.equal(limiter.retryAfterMs("1.1.1.1", "alice", 1101), 0, "the window slides");
  for (let i = 0; i < 100; i++) limiter.recordFailure(`10.0.0.${i}`, "x", 2000);
  assert.equal(limiter.retryAfterMs("10.0.0.0", "x", 2001), 0, "the oldest entries were evicted at maxEntries");
});

test("a command waiter wakes on notify for its host only, on abort, on timeout and on close", async () => {
  const waiters = new CommandWaiters();
  const never = new AbortController().signal;
  let woke = false;
  const a = waiters.wait("host-a", 10_000, never).then(() => (woke = true));
  const b = waiters.wait("host-b", 50, never);
  assert.equal(waiters.size, 2);
  waiters.notify("host-b");
  await b;
  assert.equal(woke, false);
  waiters.notify("host-a");
  await a;
  assert.equal(woke, true);
  const controller = new AbortController();
  const aborted = waiters.wait("host-c", 10_000, controller.signal);
  controller.abort();
  await aborted;
  const started = performance.now();
  await waiters.wait("host-d", 30, never);
  assert.ok(performance.now() - started >= 25);
  const closing = waiters.wait("host-e", 10_000, never);
  waiters.close();
  await closing;
  assert.equal(waiters.size, 0);
  await waiters.wait("host-f", 10_000, never); // after close: answers at once
});

test("the ingest queue runs one batch at a time, lets other work in between, and refuses past its bound", async () => {
  const queue = new IngestQueue({ maxWaitMs: 60_000, maxQueuedEvents: 10 });
  const order: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const first = queue.run(6, async () => {
    order.push("first:start");
    await gate;
    order.push("first:end");
    return 1;
  });
  const second = queue.run(4, () => {
    order.push("second");
    return Promise.resolve(2);
  });
  assert.deepEqual(queue.depth, { batches: 2, events: 10 });
  assert.throws(
    () => queue.run(1, () => Promise.resolve(3)),
    (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, "R3_ERR_SERVER_BUSY");
      assert.ok(Number(error.headers["retry-after"]) >= 5);
      return true;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(order, ["first:start"], "the second waits for the first");
  release();
  // Work that arrives while the first batch is written runs before the second batch starts.
  setImmediate(() => order.push("other work"));
  assert.deepEqual(await Promise.all([first, second]), [1, 2]);
  assert.deepEqual(order, ["first:start", "first:end", "other work", "second"]);
  assert.deepEqual(queue.depth, { batches: 0, events: 0 });
  // A failing job frees its place and the queue goes on.
  await assert.rejects(
    queue.run(10, () => Promise.reject(new Error("disk full"))),
    /disk full/,
  );
  assert.equal(await queue.run(10, () => Promise.resolve("after")), "after");
  // One batch bigger than the bound is still taken when nothing waits (it could never be sent otherwise).
  assert.equal(await queue.run(50, () => Promise.resolve("big")), "big");
});

test("the ingest queue refuses new batches once the oldest waiting one has waited maxWaitMs", async () => {
  const queue = new IngestQueue({ maxWaitMs: 50, maxQueuedEvents: 1_000_000 });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const writing = queue.run(10, () => gate);
  await new Promise((resolve) => setTimeout(resolve, 10)); // the first is being written, not waiting
  const waiting = queue.run(10, () => Promise.resolve());
  const alsoTaken = queue.run(10, () => Promise.resolve());
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.throws(
    () => queue.run(10, () => Promise.resolve()),
    (error: unknown) => error instanceof ApiError && error.code === "R3_ERR_SERVER_BUSY",
  );
  release();
  await Promise.all([writing, waiting, alsoTaken]);
  assert.equal(await queue.run(10, () => Promise.resolve("drained")), "drained", "taken again once drained");
});
