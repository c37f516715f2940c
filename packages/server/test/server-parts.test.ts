import assert from "node:assert/strict";
import { test } from "node:test";
import { LoginLimiter } from "../src/auth/login-limiter.ts";
import { hashPassword, verifyPassword } from "../src/auth/passwords.ts";
import { hashSecret, newSecret, secretKind } from "../src/auth/secrets.ts";
import { CommandWaiters } from "../src/command-waiters.ts";
import { ApiError } from "../src/errors.ts";
import { WriteQueue } from "../src/write-queue.ts";
import type { WriteQueueLimits } from "../src/write-queue.ts";

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

/**
 * Until the writer has been handed `count` groups. A fixed sleep is not enough: when the event loop stalls
 * longer than the sleep (a loaded CI machine), the timer fires before the queue's own turn, and the batches
 * the test queues next join the first group instead of waiting.
 */
async function groupsHanded(groups: readonly unknown[], count: number): Promise<void> {
  while (groups.length < count) await new Promise((resolve) => setImmediate(resolve));
}

/** A write queue whose writer records each group and waits for `release` before answering it. */
function gatedQueue(limits: Partial<WriteQueueLimits> = {}) {
  const groups: string[][] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  const queue = new WriteQueue<string, string>(
    { maxWaitMs: 60_000, maxQueuedUnits: 1_000, maxGroupUnits: 100, maxGroupItems: 10, minIntervalMs: 0, ...limits },
    async (items) => {
      groups.push([...items]);
      await gate;
      if (items.includes("fail-all")) throw new Error("disk full");
      return items.map((item) =>
        item.startsWith("bad")
          ? { status: "rejected", reason: new Error(`${item} refused`) }
          : { status: "fulfilled", value: `${item} stored` },
      );
    },
    (units) => `${units} units behind: resend`,
  );
  return {
    queue,
    groups,
    close: () => {
      gate = new Promise<void>((resolve) => (release = resolve));
    },
    open: () => release(),
  };
}

test("the write queue writes the batches waiting as one group, each answered with its own outcome", async () => {
  const { queue, groups, close, open } = gatedQueue();
  close();
  const first = queue.run(5, "first");
  await groupsHanded(groups, 1); // its group is being written
  assert.deepEqual(groups, [["first"]]);
  // These arrive while it is written: they wait, then go in one group, each with its own answer.
  const waiting = ["a", "bad-b", "c"].map((item) => queue.run(5, item));
  assert.deepEqual(queue.depth, { items: 4, units: 20 });
  const order: string[] = [];
  setImmediate(() => order.push("other work"));
  open();
  assert.equal(await first, "first stored");
  const settled = await Promise.allSettled(waiting);
  order.push("second group answered");
  assert.deepEqual(groups, [["first"], ["a", "bad-b", "c"]]);
  assert.deepEqual(
    settled.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message)),
    ["a stored", "bad-b refused", "c stored"],
  );
  assert.deepEqual(order, ["other work", "second group answered"], "I/O runs between two group writes");
  assert.deepEqual(queue.depth, { items: 0, units: 0 });
  // A writer that throws (a failed commit) fails its whole group; the queue goes on.
  const failed = await Promise.allSettled([queue.run(1, "x"), queue.run(1, "fail-all")]);
  assert.deepEqual(
    failed.map((s) => s.status === "rejected" && (s.reason as Error).message),
    ["disk full", "disk full"],
  );
  assert.equal(await queue.run(1, "after"), "after stored");
});

test("the write queue bounds a group by events and by batches; a batch over the bound goes alone", async () => {
  const { queue, groups, close, open } = gatedQueue({ maxGroupUnits: 10, maxGroupItems: 3 });
  close();
  const blocker = queue.run(1, "blocker");
  await groupsHanded(groups, 1);
  const runs = [
    queue.run(4, "e4-a"),
    queue.run(4, "e4-b"),
    queue.run(4, "e4-c"), // 12 events with the two before: next group
    queue.run(1, "e1-a"),
    queue.run(1, "e1-b"), // the fourth batch of the group: next group
    queue.run(30, "big"),
    queue.run(1, "e1-c"),
  ];
  open();
  await Promise.all([blocker, ...runs]);
  assert.deepEqual(groups, [["blocker"], ["e4-a", "e4-b"], ["e4-c", "e1-a", "e1-b"], ["big"], ["e1-c"]]);
});

test("the write queue starts groups at most once per minIntervalMs, sooner when the items waiting fill one", async () => {
  const { queue, groups } = gatedQueue({ minIntervalMs: 60_000, maxGroupItems: 2 });
  assert.equal(await queue.run(1, "a"), "a stored", "an idle queue writes at once");
  const b = queue.run(1, "b");
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(groups, [["a"]], "b waits for company");
  // c fills the group: b and c are written without waiting out the minute; so are d and e after them.
  const rest = [b, queue.run(1, "c"), queue.run(1, "d"), queue.run(1, "e")];
  const late = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error("the full groups waited out the interval")), 10_000).unref();
  });
  assert.deepEqual(await Promise.race([Promise.all(rest), late]), ["b stored", "c stored", "d stored", "e stored"]);
  assert.deepEqual(groups, [["a"], ["b", "c"], ["d", "e"]]);
});

test("the write queue refuses past its bound of events waiting", async () => {
  const { queue, close, open } = gatedQueue({ maxQueuedUnits: 10 });
  close();
  const first = queue.run(6, "first");
  const second = queue.run(4, "second");
  assert.deepEqual(queue.depth, { items: 2, units: 10 });
  assert.throws(
    () => queue.run(1, "third"),
    (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, "R3_ERR_SERVER_BUSY");
      assert.match(error.message, /^10 units behind: resend in \d+ s$/);
      assert.ok(Number(error.headers["retry-after"]) >= 5);
      return true;
    },
  );
  open();
  assert.deepEqual(await Promise.all([first, second]), ["first stored", "second stored"]);
  // One batch bigger than the bound is still taken when nothing waits (it could never be sent otherwise).
  assert.equal(await queue.run(50, "big"), "big stored");
});

test("the write queue refuses new batches once the oldest waiting one has waited maxWaitMs", async () => {
  const { queue, groups, close, open } = gatedQueue({ maxWaitMs: 50 });
  close();
  const writing = queue.run(10, "writing");
  await groupsHanded(groups, 1); // the first is being written, not waiting
  const waiting = queue.run(10, "waiting");
  const alsoTaken = queue.run(10, "also");
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.throws(
    () => queue.run(10, "refused"),
    (error: unknown) => error instanceof ApiError && error.code === "R3_ERR_SERVER_BUSY",
  );
  open();
  await Promise.all([writing, waiting, alsoTaken]);
  assert.equal(await queue.run(10, "drained"), "drained stored", "taken again once drained");
});
