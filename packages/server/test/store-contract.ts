/**
 * The contract every Store adapter passes: `runStoreContract(name, open)` registers one node:test suite that
 * exercises every method of `Store` against a fresh store from `open()` per test. Engine-agnostic: it speaks
 * only the interface (errors by their `code`), so PostgreSQL or ClickHouse adapters run the same suite.
 *
 * Times are fixed (from T0) and every "now" is passed in, as the interface asks, so results do not depend
 * on the clock.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type {
  ActionResult,
  Alert,
  EventSearch,
  FieldFilter,
  Heartbeat,
  Host,
  StoredEvent,
  WireAlert,
  WireEvent,
} from "@ring3/protocol";
import type { HeartbeatRecord, PageResult, Store } from "../src/store/store.ts";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");
/** The ISO time `seconds` after T0. */
export const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();
const ms = (iso: string): number => Date.parse(iso);

let serial = 0;
const unique = (prefix: string): string => `${prefix}-${++serial}-${Math.random().toString(36).slice(2, 8)}`;

export function event(
  id: string,
  seconds: number,
  fields: Record<string, unknown>,
  logsource: WireEvent["logsource"] = { product: "linux", category: "process_creation" },
  host = "host-a",
): WireEvent {
  return { id, time: at(seconds), host, logsource, fields };
}

export function alert(
  id: string,
  eventId: string,
  seconds: number,
  overrides: Partial<WireAlert> & { groupKey?: string } = {},
): WireAlert & { groupKey: string } {
  return {
    id,
    time: at(seconds),
    eventId,
    ruleId: "rule-1",
    title: "Suspicious shell",
    level: "high",
    tags: ["attack.execution"],
    techniques: ["T1059"],
    tactics: ["execution"],
    groupKey: "group-1",
    ...overrides,
  };
}

/** A heartbeat of an agent of the version newHost enrolls, every sensor started unless overridden. */
function heartbeat(overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    time: at(0),
    agentVersion: "0.1.0",
    contentVersion: "c",
    sensors: { audit: { state: "started" } },
    queueDepth: 0,
    dropped: {},
    isolated: false,
    ...overrides,
  };
}

/** One heartbeat stored alone. */
async function beatOnce(
  store: Store,
  hostId: string,
  heartbeat: Heartbeat,
  receivedAt: string,
): Promise<HeartbeatRecord | undefined> {
  const records = await store.recordHeartbeats([{ hostId, heartbeat, receivedAt }]);
  assert.equal(records.length, 1);
  return records[0];
}

async function newHost(store: Store, hostname = "host-a", enrolledSeconds = 0): Promise<string> {
  const host = await store.createHost({
    hostname,
    machineId: unique("machine"),
    os: "linux",
    osVersion: "6.8",
    agentVersion: "0.1.0",
    credentialHash: unique("credential"),
    enrolledAt: at(enrolledSeconds),
  });
  return host.id;
}

async function ingest(
  store: Store,
  hostId: string,
  events: readonly WireEvent[],
  alerts: readonly (WireAlert & { groupKey: string })[] = [],
  options: { batchId?: string; receivedAt?: string } = {},
) {
  return store.ingestBatch({
    hostId,
    batchId: options.batchId ?? unique("batch"),
    receivedAt: options.receivedAt ?? at(10_000),
    events,
    alerts,
  });
}

/** Every item of a listing, following cursors (and failing on a cursor loop). */
async function everything<T>(
  page: (cursor: string | undefined) => Promise<PageResult<T>>,
  maxPages = 1000,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < maxPages; pages += 1) {
    const result = await page(cursor);
    items.push(...result.items);
    if (result.nextCursor === undefined) return items;
    assert.notEqual(result.nextCursor, cursor, "a cursor must move forward");
    cursor = result.nextCursor;
  }
  assert.fail("more pages than expected");
}

const searchAll = (store: Store, query: EventSearch): Promise<StoredEvent[]> =>
  everything((cursor) => store.searchEvents({ ...query, ...(cursor === undefined ? {} : { cursor }) }));

const ids = (items: readonly { id: string }[]): string[] => items.map((item) => item.id);

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string }) => {
    assert.equal(error.code, code);
    return true;
  });
}

/** Newest first, as every event listing orders: by time, then the later ingested first. */
function assertNewestFirst(events: readonly StoredEvent[]): void {
  for (let i = 1; i < events.length; i += 1) {
    assert.ok(ms((events[i - 1] as StoredEvent).time) >= ms((events[i] as StoredEvent).time), "newest first");
  }
}

/** The reference semantics of a field filter, written independently of any adapter. */
function referenceMatch(fields: Record<string, unknown>, filter: FieldFilter): boolean {
  const raw = fields[filter.field];
  const scalars = (Array.isArray(raw) ? raw : [raw]).filter(
    (v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean",
  );
  const texts = scalars.map((v) => (typeof v === "string" ? v.toLowerCase() : String(v)));
  if (filter.op === "exists") {
    const present = raw !== undefined && raw !== null;
    return filter.value === false ? !present : present;
  }
  const needle = typeof filter.value === "string" ? filter.value.toLowerCase() : String(filter.value);
  const test = (t: string): boolean =>
    filter.op === "contains"
      ? t.includes(needle)
      : filter.op === "startswith"
        ? t.startsWith(needle)
        : filter.op === "endswith"
          ? t.endsWith(needle)
          : t === needle;
  return filter.op === "neq" ? !texts.some(test) : texts.some(test);
}

export function runStoreContract(name: string, open: () => Promise<Store>): void {
  const withStore = (title: string, body: (store: Store) => Promise<void>): void => {
    test(title, async () => {
      const store = await open();
      try {
        await body(store);
      } finally {
        await store.close();
      }
    });
  };

  describe(`store contract: ${name}`, () => {
    // ---- users, sessions, audit -------------------------------------------------------------------------------

    withStore("users: create, find by name case-insensitively, get, list, count, delete", async (store) => {
      assert.equal(await store.countUsers(), 0);
      const alice = await store.createUser({ username: "alice", passwordHash: "scrypt$a", role: "admin" });
      const bob = await store.createUser({ username: "bob", passwordHash: "scrypt$b", role: "viewer" });
      assert.equal(alice.username, "alice");
      assert.equal(alice.role, "admin");
      assert.ok(!Number.isNaN(ms(alice.createdAt)));
      assert.deepEqual(await store.getUser(alice.id), alice);
      const credentials = await store.findUserCredentials("ALICE");
      assert.equal(credentials?.id, alice.id);
      assert.equal(credentials?.passwordHash, "scrypt$a");
      assert.equal(await store.findUserCredentials("carol"), undefined);
      assert.deepEqual(ids(await store.listUsers()).sort(), [alice.id, bob.id].sort());
      assert.equal(await store.countUsers(), 2);
      assert.equal(await store.deleteUser(bob.id), true);
      assert.equal(await store.deleteUser(bob.id), false);
      assert.equal(await store.getUser(bob.id), undefined);
      assert.equal(await store.countUsers(), 1);
    });

    withStore("users: a taken name (in any case) is a conflict", async (store) => {
      await store.createUser({ username: "alice", passwordHash: "h", role: "admin" });
      await rejectsWith(
        store.createUser({ username: "Alice", passwordHash: "h", role: "viewer" }),
        "R3_ERR_STORE_CONFLICT",
      );
      assert.equal(await store.countUsers(), 1);
    });

    withStore("sessions: valid until they expire, gone when deleted or when their user is", async (store) => {
      const user = await store.createUser({ username: "analyst", passwordHash: "h", role: "analyst" });
      await store.createSession({ tokenHash: "session-1", userId: user.id, expiresAt: at(3600) });
      await store.createSession({ tokenHash: "session-2", userId: user.id, expiresAt: at(3600) });
      assert.equal((await store.getSessionUser("session-1", at(3599)))?.id, user.id);
      assert.equal(await store.getSessionUser("session-1", at(3600)), undefined, "expired at expiresAt");
      assert.equal(await store.getSessionUser("unknown", at(0)), undefined);
      await store.deleteSession("session-1");
      assert.equal(await store.getSessionUser("session-1", at(0)), undefined);
      await store.deleteUser(user.id);
      assert.equal(await store.getSessionUser("session-2", at(0)), undefined);
    });

    withStore("audit: appended entries list newest first, paged by cursor, details kept", async (store) => {
      for (let i = 0; i < 25; i += 1) {
        const entry = await store.appendAudit({
          time: at(i),
          actor: "admin",
          action: "alert.update",
          target: `alert-${i}`,
          details: { step: i, nested: { ok: true } },
        });
        assert.ok(entry.id.length > 0);
      }
      await store.appendAudit({ time: at(99), actor: "system", action: "server.start" });
      const first = await store.listAudit({ limit: 10 });
      assert.equal(first.items.length, 10);
      assert.equal(first.items[0]?.action, "server.start");
      assert.equal(first.items[0]?.target, undefined);
      assert.deepEqual(first.items[1]?.details, { step: 24, nested: { ok: true } });
      const entries = await everything((cursor) =>
        store.listAudit({ limit: 7, ...(cursor === undefined ? {} : { cursor }) }),
      );
      assert.equal(entries.length, 26);
      assert.equal(new Set(ids(entries)).size, 26);
      assert.deepEqual(
        entries.slice(1).map((e) => e.target),
        Array.from({ length: 25 }, (_, i) => `alert-${24 - i}`),
      );
      await rejectsWith(store.listAudit({ cursor: "not-a-cursor" }), "R3_ERR_STORE_BAD_CURSOR");
    });

    // ---- enrollment ---------------------------------------------------------------------------------------------

    withStore("enrollment tokens: created, listed, consumed up to maxUses", async (store) => {
      const token = await store.createEnrollmentToken({
        description: "lab",
        createdBy: "admin",
        createdAt: at(0),
        expiresAt: at(3600),
        maxUses: 2,
        secretHash: "secret-1",
      });
      assert.deepEqual(
        { uses: token.uses, revoked: token.revoked, maxUses: token.maxUses, description: token.description },
        { uses: 0, revoked: false, maxUses: 2, description: "lab" },
      );
      assert.deepEqual(ids(await store.listEnrollmentTokens()), [token.id]);
      assert.equal((await store.consumeEnrollmentToken("secret-1", at(10)))?.uses, 1);
      assert.equal((await store.consumeEnrollmentToken("secret-1", at(20)))?.uses, 2);
      assert.equal(await store.consumeEnrollmentToken("secret-1", at(30)), undefined, "used up");
      assert.equal(await store.consumeEnrollmentToken("other-secret", at(30)), undefined, "unknown");
      assert.equal((await store.listEnrollmentTokens())[0]?.uses, 2);
    });

    withStore("enrollment tokens: expired or revoked ones are refused; unlimited ones keep working", async (store) => {
      const base = { createdBy: "admin", createdAt: at(0), expiresAt: at(3600) };
      const revoked = await store.createEnrollmentToken({ ...base, secretHash: "revoked" });
      await store.createEnrollmentToken({ ...base, secretHash: "unlimited" });
      assert.equal(await store.revokeEnrollmentToken(revoked.id), true);
      assert.equal(await store.revokeEnrollmentToken("no-such-token"), false);
      assert.equal(await store.consumeEnrollmentToken("revoked", at(1)), undefined);
      assert.equal((await store.listEnrollmentTokens()).find((t) => t.id === revoked.id)?.revoked, true);
      for (let i = 0; i < 5; i += 1) assert.ok(await store.consumeEnrollmentToken("unlimited", at(i)));
      assert.equal(await store.consumeEnrollmentToken("unlimited", at(3600)), undefined, "expired at expiresAt");
    });

    withStore("enrollment tokens: two agents racing for the last use, one wins", async (store) => {
      await store.createEnrollmentToken({
        createdBy: "admin",
        createdAt: at(0),
        expiresAt: at(60),
        maxUses: 1,
        secretHash: "race",
      });
      const results = await Promise.all([
        store.consumeEnrollmentToken("race", at(1)),
        store.consumeEnrollmentToken("race", at(1)),
      ]);
      assert.equal(results.filter((r) => r !== undefined).length, 1);
    });

    // ---- hosts ----------------------------------------------------------------------------------------------------

    withStore("hosts: created, found by id and credential, listed; heartbeats update them", async (store) => {
      const host = await store.createHost({
        hostname: "web-1",
        machineId: "m-1",
        os: "linux",
        osVersion: "6.8",
        agentVersion: "0.1.0",
        credentialHash: "cred-1",
        enrolledAt: at(0),
      });
      assert.deepEqual(
        {
          hostname: host.hostname,
          state: host.state,
          isolated: host.isolated,
          openAlerts: host.openAlerts,
          lastSeen: host.lastSeen,
        },
        { hostname: "web-1", state: "online", isolated: false, openAlerts: 0, lastSeen: undefined },
      );
      assert.deepEqual(await store.getAgentByCredential("cred-1"), { id: host.id, hostname: "web-1" });
      assert.equal(await store.getAgentByCredential("cred-2"), undefined);
      assert.equal(await store.getHost("nope"), undefined);
      await beatOnce(
        store,
        host.id,
        {
          time: at(5),
          agentVersion: "0.2.0",
          contentVersion: "rules-42",
          sensors: { audit: { state: "degraded", reason: "not root" } },
          queueDepth: 17,
          dropped: { spool: 3 },
          isolated: true,
        },
        at(6),
      );
      const seen = await store.getHost(host.id);
      assert.deepEqual(
        {
          agentVersion: seen?.agentVersion,
          contentVersion: seen?.contentVersion,
          sensors: seen?.sensors,
          queueDepth: seen?.queueDepth,
          dropped: seen?.dropped,
          isolated: seen?.isolated,
          lastSeen: seen === undefined || seen.lastSeen === undefined ? undefined : ms(seen.lastSeen),
        },
        {
          agentVersion: "0.2.0",
          contentVersion: "rules-42",
          sensors: { audit: { state: "degraded", reason: "not root" } },
          queueDepth: 17,
          dropped: { spool: 3 },
          isolated: true,
          lastSeen: ms(at(6)),
        },
      );
      assert.equal(seen?.health, "isolated");
      await newHost(store, "db-1");
      assert.deepEqual(
        (await store.listHosts({})).items.map((h) => h.hostname),
        ["db-1", "web-1"],
      );
    });

    withStore(
      "hosts: health is silent, else isolated, else degraded (a sensor not started), else online",
      async (store) => {
        const beat = (sensors: Heartbeat["sensors"], isolated = false): Heartbeat => heartbeat({ sensors, isolated });
        const started = { audit: { state: "started" as const }, fanotify: { state: "started" as const } };
        const host = await newHost(store, "h", 0);
        assert.equal((await store.getHost(host))?.health, "online", "enrolled, no heartbeat yet");
        const record = (sent: Heartbeat, seconds: number) => beatOnce(store, host, sent, at(seconds));
        assert.deepEqual(await record(beat(started), 1), { health: "online", changed: false });
        const audit = { ...started, audit: { state: "degraded" as const, reason: "auditd owns the socket" } };
        assert.deepEqual(await record(beat(audit), 2), { health: "degraded", changed: true });
        assert.deepEqual(await record(beat(audit), 3), { health: "degraded", changed: false }, "same again");
        const stopped = { ...started, fanotify: { state: "stopped" as const } };
        assert.deepEqual(await record(beat(stopped), 4), { health: "degraded", changed: false }, "stopped counts too");
        assert.deepEqual(
          await record(beat(audit, true), 5),
          { health: "isolated", changed: true },
          "isolated before degraded",
        );
        assert.deepEqual(
          await record({ ...beat(audit, true), agentVersion: "0.2.0" }, 6),
          { health: "isolated", changed: true },
          "a new agent version is a change",
        );
        await store.markSilentHosts(at(100));
        // Silence wins: an isolated host that stopped reporting may be a crashed or tampered agent.
        assert.equal((await store.getHost(host))?.health, "silent");
        assert.deepEqual(
          await record({ ...beat(started), agentVersion: "0.2.0" }, 101),
          { health: "online", changed: true },
          "back, all sensors up",
        );
        assert.equal(await beatOnce(store, "no-such-host", beat(started), at(102)), undefined);
      },
    );

    withStore("hosts: heartbeats stored together each get their own record", async (store) => {
      const beat = heartbeat();
      const [a, b] = [await newHost(store, "a", 0), await newHost(store, "b", 0)];
      const records = await store.recordHeartbeats([
        { hostId: a, heartbeat: beat, receivedAt: at(10) },
        { hostId: "no-such-host", heartbeat: beat, receivedAt: at(10) },
        { hostId: b, heartbeat: { ...beat, sensors: { audit: { state: "stopped" } } }, receivedAt: at(11) },
        // The same host twice in one group: the second sees the first.
        { hostId: a, heartbeat: { ...beat, isolated: true }, receivedAt: at(12) },
      ]);
      assert.deepEqual(records, [
        { health: "online", changed: false },
        undefined,
        { health: "degraded", changed: true },
        { health: "isolated", changed: true },
      ]);
      assert.equal((await store.getHost(a))?.lastSeen, at(12));
      assert.equal((await store.getHost(b))?.queueDepth, 0);
      assert.deepEqual(await store.recordHeartbeats([]), []);
    });

    withStore("hosts: listed a page at a time in hostname order, filtered by health and hostname", async (store) => {
      const beat = heartbeat();
      // Two hosts may share a hostname (a reinstalled machine enrolls again): the page key is (hostname, no).
      const names = ["web-3", "Web-1", "db-2", "web-2", "db-1", "web-2", "mail-1"];
      const byName = new Map<string, string[]>();
      for (const name of names) {
        const id = await newHost(store, name, 0);
        byName.set(name, [...(byName.get(name) ?? []), id]);
        await beatOnce(store, id, beat, at(10));
      }
      const first = (name: string) => byName.get(name)?.[0] as string;
      await beatOnce(store, first("db-2"), { ...beat, sensors: { audit: { state: "stopped" } } }, at(10));
      await beatOnce(store, first("web-3"), { ...beat, isolated: true }, at(10));

      const all: Host[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listHosts({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
        assert.ok(page.items.length <= 2);
        all.push(...page.items);
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== undefined);
      assert.equal(pages, 4, "7 hosts in pages of 2");
      assert.deepEqual(
        all.map((h) => h.hostname),
        ["Web-1", "db-1", "db-2", "mail-1", "web-2", "web-2", "web-3"],
        "binary order of hostnames, every host once",
      );
      assert.deepEqual(new Set(ids(all)), new Set([...byName.values()].flat()));

      const hostnames = async (query: Parameters<Store["listHosts"]>[0]) =>
        (await store.listHosts(query)).items.map((h) => h.hostname);
      assert.deepEqual(await hostnames({ q: "WEB" }), ["Web-1", "web-2", "web-2", "web-3"], "any case");
      assert.deepEqual(await hostnames({ q: "eb-2" }), ["web-2", "web-2"]);
      assert.deepEqual(await hostnames({ health: ["degraded"] }), ["db-2"]);
      assert.deepEqual(await hostnames({ health: ["degraded", "isolated"] }), ["db-2", "web-3"]);
      assert.deepEqual(await hostnames({ health: ["online"], q: "db" }), ["db-1"]);
      assert.deepEqual(await hostnames({ health: ["silent"] }), []);
      assert.deepEqual((await store.countHosts()).byHealth, { online: 5, degraded: 1, isolated: 1, silent: 0 });

      const alertCursor = Buffer.from(JSON.stringify(["alerts:lastSeen:desc", 1, 1])).toString("base64url");
      await rejectsWith(store.listHosts({ cursor: alertCursor }), "R3_ERR_STORE_BAD_CURSOR");
    });

    withStore("hosts: silent ones are marked once, and come back online with a heartbeat", async (store) => {
      const quiet = await newHost(store, "quiet", 0);
      const chatty = await newHost(store, "chatty", 0);
      const beat = heartbeat({ sensors: {} });
      await beatOnce(store, quiet, beat, at(10));
      await beatOnce(store, chatty, beat, at(500));
      const silent = await store.markSilentHosts(at(300));
      assert.deepEqual(ids(silent), [quiet]);
      assert.equal(silent[0]?.state, "silent");
      assert.deepEqual(await store.markSilentHosts(at(300)), [], "marked once");
      await beatOnce(store, quiet, beat, at(600));
      assert.equal((await store.getHost(quiet))?.state, "online");
      const never = await newHost(store, "never-heard-from", 100);
      assert.deepEqual(await store.countHosts(), {
        byState: { online: 3, silent: 0 },
        byHealth: { online: 3, degraded: 0, isolated: 0, silent: 0 },
        isolated: 0,
      });
      assert.deepEqual(ids(await store.markSilentHosts(at(200))), [never], "silent since enrollment");
      await beatOnce(store, chatty, { ...beat, isolated: true }, at(700));
      assert.deepEqual(await store.countHosts(), {
        byState: { online: 2, silent: 1 },
        byHealth: { online: 1, degraded: 0, isolated: 1, silent: 1 },
        isolated: 1,
      });
      await beatOnce(store, chatty, beat, at(800));
      assert.equal((await store.countHosts()).isolated, 0, "released");
    });

    // ---- ingest and events -------------------------------------------------------------------------------------

    withStore(
      "ingest: a batch is stored once; a resent batch id is a duplicate with the same counts",
      async (store) => {
        const hostId = await newHost(store);
        const events = [event("e1", 1, { Image: "/usr/bin/id" }), event("e2", 2, { Image: "/usr/bin/ls" })];
        const first = await ingest(store, hostId, events, [alert("a1", "e1", 1)], { batchId: "batch-0001" });
        assert.deepEqual(
          { ...first, newAlerts: first.newAlerts.length },
          { duplicate: false, events: 2, alerts: 1, newAlerts: 1 },
        );
        const again = await ingest(store, hostId, events, [alert("a1", "e1", 1)], { batchId: "batch-0001" });
        assert.deepEqual(again, { duplicate: true, events: 2, alerts: 1, newAlerts: [] });
        assert.equal((await searchAll(store, { hostId })).length, 2);
        assert.equal((await store.getAlert(first.newAlerts[0]?.id ?? ""))?.count, 1);
        assert.equal((await store.stats()).events, 2);
      },
    );

    withStore("ingest: the same batch id from another host is not a duplicate", async (store) => {
      const a = await newHost(store, "a");
      const b = await newHost(store, "b");
      await ingest(store, a, [event("e1", 1, {})], [], { batchId: "shared-id-1" });
      const other = await ingest(store, b, [event("e1", 1, {}, undefined, "b")], [], { batchId: "shared-id-1" });
      assert.equal(other.duplicate, false);
      assert.equal(other.events, 1);
      assert.equal((await store.stats()).events, 2);
    });

    withStore("ingest: an event resent in a later batch (or twice in one) is stored once", async (store) => {
      const hostId = await newHost(store);
      await ingest(store, hostId, [event("e1", 1, { n: 1 }), event("e1", 1, { n: 1 })]);
      const later = await ingest(store, hostId, [event("e1", 1, { n: 1 }), event("e2", 2, {})]);
      assert.equal(later.events, 1);
      assert.deepEqual(ids(await searchAll(store, { hostId })), ["e2", "e1"]);
    });

    withStore(
      "ingest: batches stored together each get their own outcome; one failing leaves nothing",
      async (store) => {
        const a = await newHost(store, "host-a");
        const b = await newHost(store, "host-b");
        const files = { product: "linux", category: "file_event" };
        const group = (
          batchId: string,
          hostId: string,
          events: WireEvent[],
          alerts: ReturnType<typeof alert>[] = [],
        ) => ({
          hostId,
          batchId,
          receivedAt: at(10_000),
          events,
          alerts,
        });
        const outcomes = await store.ingestBatches(
          [
            group("g-1", a, [event("e1", 1, { Image: "/bin/one" }), event("e2", 2, {})], [alert("a1", "e1", 1)]),
            // Fails half-way: after its batch id, a new logsource and one event are written.
            group("g-bad", a, [event("bad-1", 3, { Image: "/bin/ghost" }, files), event("bad-2", 4, { n: 10n })]),
            group("g-2", b, [event("e3", 5, {}, undefined, "host-b")]),
            group("g-nohost", "no-such-host", [event("lost", 6, {})]),
            group("g-time", a, [event("lost-too", 7, {})]),
            // The logsource the failed batch wrote first, now by a batch that stays.
            group("g-3", a, [event("e4", 8, { Image: "/bin/four" }, files)]),
          ].map((batch) => (batch.batchId === "g-time" ? { ...batch, receivedAt: "last tuesday" } : batch)),
        );
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ["fulfilled", "rejected", "fulfilled", "rejected", "rejected", "fulfilled"],
        );
        const values = outcomes.map((o) =>
          o.status === "fulfilled" ? { ...o.value, newAlerts: o.value.newAlerts.length } : undefined,
        );
        assert.deepEqual(values[0], { duplicate: false, events: 2, alerts: 1, newAlerts: 1 });
        assert.deepEqual(values[2], { duplicate: false, events: 1, alerts: 0, newAlerts: 0 });
        assert.deepEqual(values[5], { duplicate: false, events: 1, alerts: 0, newAlerts: 0 });
        const reason = (i: number) => (outcomes[i] as PromiseRejectedResult).reason as { code?: string };
        assert.equal(reason(3).code, "R3_ERR_STORE_BAD_QUERY");
        assert.equal(reason(4).code, "R3_ERR_STORE_BAD_TIME");

        assert.deepEqual(ids(await searchAll(store, { hostId: a })), ["e4", "e2", "e1"]);
        assert.deepEqual(ids(await searchAll(store, { hostId: b })), ["e3"]);
        assert.equal(await store.getEvent(a, "bad-1"), undefined, "the failed batch's first event was rolled back");
        assert.deepEqual(ids(await searchAll(store, { logsource: files })), ["e4"]);
        assert.deepEqual(ids(await searchAll(store, { filters: [{ field: "Image", op: "eq", value: "/bin/four" }] })), [
          "e4",
        ]);
        assert.deepEqual(
          await searchAll(store, { filters: [{ field: "Image", op: "eq", value: "/bin/ghost" }] }),
          [],
          "nothing of the failed batch reached the search index",
        );
        assert.equal((await store.stats()).events, 4);
        // Its batch id was rolled back too: the batch resent (fixed) is stored, not a duplicate.
        const resent = await ingest(store, a, [event("bad-1", 3, {}, files), event("bad-2", 4, { n: 10 })], [], {
          batchId: "g-bad",
        });
        assert.deepEqual(resent, { duplicate: false, events: 2, alerts: 0, newAlerts: [] });
        assert.deepEqual(ids(await searchAll(store, { hostId: a })), ["e4", "bad-2", "bad-1", "e2", "e1"]);
        // A group of one that fails answers with its outcome too, and leaves nothing.
        const [alone] = await store.ingestBatches([
          group("g-alone", a, [event("e5", 9, {}), event("e6", 9, { n: 1n })]),
        ]);
        assert.equal(alone?.status, "rejected");
        assert.equal(await store.getEvent(a, "e5"), undefined);
        assert.equal((await ingest(store, a, [event("e5", 9, {})], [], { batchId: "g-alone" })).duplicate, false);
      },
    );

    withStore(
      "ingest: in one group, a batch id seen before or twice is a duplicate with the first's counts",
      async (store) => {
        const hostId = await newHost(store);
        const stored = await ingest(store, hostId, [event("old", 1, {})], [alert("a-old", "old", 1)], {
          batchId: "old-1",
        });
        assert.equal(stored.duplicate, false);
        const batch = (batchId: string, events: WireEvent[]) => ({
          hostId,
          batchId,
          receivedAt: at(10_000),
          events,
          alerts: [],
        });
        const outcomes = await store.ingestBatches([
          batch("old-1", [event("old", 1, {}), event("old-extra", 2, {})]),
          batch("new-1", [event("n1", 3, {}), event("n2", 4, {})]),
          batch("new-1", [event("n3", 5, {})]),
          batch("new-2", [event("n4", 6, {})]),
        ]);
        assert.deepEqual(
          outcomes.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as Error).message)),
          [
            { duplicate: true, events: 1, alerts: 1, newAlerts: [] },
            { duplicate: false, events: 2, alerts: 0, newAlerts: [] },
            { duplicate: true, events: 2, alerts: 0, newAlerts: [] },
            { duplicate: false, events: 1, alerts: 0, newAlerts: [] },
          ],
        );
        assert.deepEqual(ids(await searchAll(store, { hostId })), ["n4", "n2", "n1", "old"]);
        assert.equal((await store.stats()).events, 4);
        assert.deepEqual(await store.ingestBatches([]), []);
      },
    );

    withStore("events: stored as sent, with the host and the arrival time", async (store) => {
      const hostId = await newHost(store, "host-a");
      const sent: WireEvent = {
        id: "evt-1",
        time: "2026-03-01T12:00:01.250Z",
        host: "forwarded-from-b",
        logsource: { product: "windows", service: "sysmon" },
        fields: {
          Image: "C:\\Windows\\System32\\cmd.exe",
          ProcessId: 4242,
          Tags: ["a", "b"],
          Nested: { k: 1 },
          Nothing: null,
        },
        raw: { EventID: 1, Data: ["x"] },
      };
      const plain = event(
        "evt-2",
        2,
        { Image: "/bin/sh" },
        { product: "linux", category: "process_creation" },
        "host-a",
      );
      await ingest(store, hostId, [sent, plain], [], { receivedAt: at(100) });
      const stored = await store.getEvent(hostId, "evt-1");
      assert.deepEqual(stored, { ...sent, hostId, receivedAt: at(100) });
      const second = await store.getEvent(hostId, "evt-2");
      assert.deepEqual(second, { ...plain, hostId, receivedAt: at(100) });
      assert.equal(second?.raw, undefined);
      assert.equal(await store.getEvent(hostId, "nope"), undefined);
      assert.equal(await store.getEvent("no-host", "evt-1"), undefined);
    });

    withStore("events: a time that is not RFC 3339 is kept as sent, filed at arrival, never dropped", async (store) => {
      const hostId = await newHost(store);
      const odd = { ...event("odd", 0, { Image: "/bin/odd" }), time: "yesterday-ish" };
      const result = await ingest(store, hostId, [odd, event("fine", 50, {})], [], { receivedAt: at(100) });
      assert.equal(result.events, 2);
      assert.equal((await store.getEvent(hostId, "odd"))?.time, "yesterday-ish");
      const window = await searchAll(store, { hostId, from: at(90), to: at(110) });
      assert.deepEqual(ids(window), ["odd"]);
    });

    // ---- search -------------------------------------------------------------------------------------------------

    const corpus = (): WireEvent[] => [
      event("p1", 10, {
        Image: "/usr/bin/curl",
        CommandLine: "curl -fsSL https://Example.org/x.sh",
        User: "root",
        ProcessId: 4242,
        ParentProcessId: 1,
      }),
      event(
        "p2",
        20,
        {
          Image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
          CommandLine: "powershell -EncodedCommand SQBFAFgA",
          User: "CORP\\alice",
          ProcessId: "77",
        },
        { product: "windows", category: "process_creation" },
      ),
      event(
        "f1",
        30,
        { TargetFilename: "/tmp/École/payload.sh", Image: "/usr/bin/bash", ProcessId: 4242 },
        { product: "linux", category: "file_event" },
      ),
      event(
        "n1",
        40,
        { DestinationIp: "203.0.113.7", DestinationPort: 4444, Initiated: true, Image: "/usr/bin/nc" },
        { product: "linux", category: "network_connection" },
      ),
      event(
        "a1",
        50,
        { type: ["SYSCALL", "EXECVE"], exe: "/usr/bin/chmod", "weird.name": "dot", 'q"uote': "quoted" },
        { product: "linux", service: "auditd" },
      ),
      event("p3", 60, {
        Image: "/usr/bin/CURL",
        CommandLine: "curl http://198.51.100.1/a",
        User: "www-data",
        ProcessId: 5000,
        ParentProcessId: 4242,
      }),
    ];

    const searchCases: { title: string; query: EventSearch; expected: string[] }[] = [
      { title: "all, newest first", query: {}, expected: ["p3", "a1", "n1", "f1", "p2", "p1"] },
      { title: "time range (inclusive)", query: { from: at(20), to: at(40) }, expected: ["n1", "f1", "p2"] },
      { title: "logsource product", query: { logsource: { product: "windows" } }, expected: ["p2"] },
      {
        title: "logsource category (case-insensitive)",
        query: { logsource: { category: "PROCESS_CREATION" } },
        expected: ["p3", "p2", "p1"],
      },
      { title: "logsource service", query: { logsource: { service: "auditd" } }, expected: ["a1"] },
      { title: "unknown logsource", query: { logsource: { category: "driver_load" } }, expected: [] },
      {
        title: "eq, case-insensitive",
        query: { filters: [{ field: "Image", op: "eq", value: "/usr/bin/curl" }] },
        expected: ["p3", "p1"],
      },
      {
        title: "neq (absent fields differ too)",
        query: { filters: [{ field: "User", op: "neq", value: "root" }] },
        expected: ["p3", "a1", "n1", "f1", "p2"],
      },
      {
        title: "contains",
        query: { filters: [{ field: "CommandLine", op: "contains", value: "EXAMPLE.org" }] },
        expected: ["p1"],
      },
      {
        title: "startswith",
        query: { filters: [{ field: "CommandLine", op: "startswith", value: "curl h" }] },
        expected: ["p3"],
      },
      {
        title: "endswith",
        query: { filters: [{ field: "Image", op: "endswith", value: "\\POWERSHELL.EXE" }] },
        expected: ["p2"],
      },
      {
        title: "a one-letter eq",
        query: { filters: [{ field: "Initiated", op: "eq", value: true }] },
        expected: ["n1"],
      },
      { title: "exists", query: { filters: [{ field: "DestinationIp", op: "exists" }] }, expected: ["n1"] },
      {
        title: "exists false",
        query: { filters: [{ field: "ProcessId", op: "exists", value: false }] },
        expected: ["a1", "n1"],
      },
      {
        title: "a number equals its text, and a text number its number",
        query: { filters: [{ field: "ProcessId", op: "eq", value: "4242" }] },
        expected: ["f1", "p1"],
      },
      {
        title: "number value against a string field",
        query: { filters: [{ field: "ProcessId", op: "eq", value: 77 }] },
        expected: ["p2"],
      },
      {
        title: "any element of a list",
        query: { filters: [{ field: "type", op: "eq", value: "execve" }] },
        expected: ["a1"],
      },
      {
        title: "non-ASCII case folding",
        query: { filters: [{ field: "TargetFilename", op: "contains", value: "/tmp/école/" }] },
        expected: ["f1"],
      },
      {
        title: "field names with a dot or a quote",
        query: {
          filters: [
            { field: "weird.name", op: "eq", value: "DOT" },
            { field: 'q"uote', op: "contains", value: "uot" },
          ],
        },
        expected: ["a1"],
      },
      {
        title: "several filters AND together",
        query: {
          filters: [
            { field: "Image", op: "contains", value: "curl" },
            { field: "User", op: "eq", value: "root" },
          ],
        },
        expected: ["p1"],
      },
      {
        title: "a short contains (under a trigram)",
        query: { filters: [{ field: "Image", op: "contains", value: "nc" }] },
        expected: ["n1"],
      },
      {
        title: "nothing matches",
        query: { filters: [{ field: "CommandLine", op: "contains", value: "mimikatz" }] },
        expected: [],
      },
      {
        title: "filters with logsource and time",
        query: {
          logsource: { category: "process_creation" },
          from: at(15),
          filters: [{ field: "Image", op: "contains", value: "curl" }],
        },
        expected: ["p3"],
      },
    ];

    withStore(
      "search: time range, logsource, every filter op, case, numbers, lists, odd field names",
      async (store) => {
        const hostId = await newHost(store);
        await ingest(store, hostId, corpus());
        for (const { title, query, expected } of searchCases) {
          assert.deepEqual(ids(await searchAll(store, { hostId, ...query })), expected, title);
          assert.deepEqual(ids(await searchAll(store, query)), expected, `${title} (all hosts)`);
        }
      },
    );

    withStore("search: by host", async (store) => {
      const a = await newHost(store, "a");
      const b = await newHost(store, "b");
      await ingest(store, a, [event("x", 1, { Image: "/bin/a" }, undefined, "a")]);
      await ingest(store, b, [event("x", 2, { Image: "/bin/b" }, undefined, "b"), event("y", 3, {}, undefined, "b")]);
      assert.deepEqual(
        (await searchAll(store, { hostId: a })).map((e) => [e.id, e.hostId, e.fields["Image"]]),
        [["x", a, "/bin/a"]],
      );
      assert.deepEqual(ids(await searchAll(store, { hostId: b })), ["y", "x"]);
      assert.deepEqual(await store.searchEvents({ hostId: "unknown-host" }), { items: [] });
    });

    withStore("search: pages of any size cover every match once, in order", async (store) => {
      const hostId = await newHost(store);
      const events: WireEvent[] = [];
      for (let i = 0; i < 230; i += 1) {
        // Several events share a millisecond: order within one falls back to ingest order, and stays stable.
        events.push(event(`e${i}`, Math.floor(i / 3), { Image: i % 2 === 0 ? "/usr/bin/even" : "/usr/bin/odd", N: i }));
      }
      for (let i = 0; i < events.length; i += 50) await ingest(store, hostId, events.slice(i, i + 50));
      for (const limit of [1, 7, 50, 1000]) {
        const found = await searchAll(store, { hostId, limit });
        assert.equal(found.length, 230, `limit ${limit}`);
        assert.equal(new Set(ids(found)).size, 230);
        assertNewestFirst(found);
        const even = await searchAll(store, { limit, filters: [{ field: "Image", op: "endswith", value: "/even" }] });
        assert.deepEqual(
          even.map((e) => e.fields["N"]),
          Array.from({ length: 115 }, (_, i) => 228 - 2 * i),
          `filtered, limit ${limit}`,
        );
      }
      const page = await store.searchEvents({ hostId, limit: 10 });
      const resumed = await store.searchEvents({ hostId, limit: 10, cursor: page.nextCursor });
      assert.deepEqual(
        ids(resumed.items),
        Array.from({ length: 10 }, (_, i) => `e${219 - i}`),
      );
    });

    withStore("search: agrees with the reference semantics on random data and random filters", async (store) => {
      const hostId = await newHost(store);
      let seed = 12345;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const images = [
        "/usr/bin/curl",
        "/usr/bin/bash",
        "C:\\Windows\\System32\\cmd.exe",
        "/opt/Tool/run",
        "/usr/bin/ssh",
      ];
      const users = ["root", "alice", "Bob", "svc_backup"];
      const events: WireEvent[] = [];
      for (let i = 0; i < 400; i += 1) {
        const fields: Record<string, unknown> = { Image: images[random(images.length)], ProcessId: random(50) };
        if (random(3) > 0) fields["User"] = users[random(users.length)];
        if (random(2) === 0)
          fields["CommandLine"] =
            `${fields["Image"] as string} --job ${random(20)} --flag=${random(3) === 0 ? "Yes" : "no"}`;
        if (random(5) === 0) fields["Tags"] = ["alpha", users[random(users.length)]];
        events.push(
          event(
            `r${i}`,
            random(3600),
            fields,
            random(2) === 0
              ? { product: "linux", category: "process_creation" }
              : { product: "linux", category: "file_event" },
          ),
        );
      }
      for (let i = 0; i < events.length; i += 100) await ingest(store, hostId, events.slice(i, i + 100));
      const needles: FieldFilter[] = [
        { field: "Image", op: "endswith", value: "CURL" },
        { field: "Image", op: "contains", value: "system32" },
        { field: "Image", op: "startswith", value: "/usr" },
        { field: "User", op: "eq", value: "bob" },
        { field: "User", op: "neq", value: "root" },
        { field: "User", op: "exists" },
        { field: "CommandLine", op: "contains", value: "--job 1" },
        { field: "CommandLine", op: "contains", value: "flag=yes" },
        { field: "ProcessId", op: "eq", value: 7 },
        { field: "Tags", op: "eq", value: "svc_backup" },
        { field: "Tags", op: "exists", value: false },
      ];
      for (let round = 0; round < 40; round += 1) {
        const filters = [
          needles[random(needles.length)] as FieldFilter,
          ...(random(2) === 0 ? [needles[random(needles.length)] as FieldFilter] : []),
        ];
        const from = random(2) === 0 ? random(1800) : undefined;
        const category = random(3) === 0 ? "file_event" : undefined;
        const expected = events
          .filter((e) => filters.every((f) => referenceMatch(e.fields, f)))
          .filter((e) => from === undefined || ms(e.time) >= ms(at(from)))
          .filter((e) => category === undefined || e.logsource.category === category);
        const found = await searchAll(store, {
          filters,
          limit: 1 + random(60),
          ...(from === undefined ? {} : { from: at(from) }),
          ...(category === undefined ? {} : { logsource: { category } }),
        });
        assert.deepEqual(ids(found).sort(), ids(expected).sort(), JSON.stringify({ filters, from, category }));
        assertNewestFirst(found);
      }
    });

    withStore("search: bad input is a clear error", async (store) => {
      await newHost(store);
      await rejectsWith(store.searchEvents({ cursor: "garbage" }), "R3_ERR_STORE_BAD_CURSOR");
      await rejectsWith(store.searchEvents({ from: "last tuesday" }), "R3_ERR_STORE_BAD_TIME");
      await rejectsWith(
        store.searchEvents({ filters: [{ field: "Image", op: "contains" }] }),
        "R3_ERR_STORE_BAD_QUERY",
      );
    });

    // ---- alerts ---------------------------------------------------------------------------------------------------

    withStore(
      "alerts: repeats of (host, rule, group key) are one alert with a count and first/last seen",
      async (store) => {
        const hostId = await newHost(store);
        const other = await newHost(store, "other");
        const first = await ingest(store, hostId, [event("e1", 10, {})], [alert("a1", "e1", 10)]);
        assert.equal(first.newAlerts.length, 1);
        const grouped = first.newAlerts[0] as Alert;
        assert.deepEqual(
          {
            id: grouped.id,
            status: grouped.status,
            count: grouped.count,
            hostId: grouped.hostId,
            hostname: grouped.hostname,
            groupKey: grouped.groupKey,
          },
          { id: "a1", status: "new", count: 1, hostId, hostname: "host-a", groupKey: "group-1" },
        );
        const repeat = await ingest(
          store,
          hostId,
          [event("e2", 30, {}), event("e0", 5, {})],
          [alert("a2", "e2", 30), alert("a0", "e0", 5)],
        );
        assert.deepEqual(repeat.newAlerts, [], "a repeat is not new");
        assert.equal(repeat.alerts, 2);
        const after = await store.getAlert("a1");
        assert.deepEqual(
          { count: after?.count, firstSeen: after?.firstSeen, lastSeen: after?.lastSeen },
          { count: 3, firstSeen: at(5), lastSeen: at(30) },
        );
        await ingest(
          store,
          hostId,
          [],
          [alert("b1", "e1", 11, { groupKey: "group-2" }), alert("c1", "e1", 12, { ruleId: "rule-2" })],
        );
        await ingest(store, other, [], [alert("d1", "x", 13)]);
        assert.equal((await store.listAlerts({})).items.length, 4);
        assert.equal((await store.getHost(hostId))?.openAlerts, 3);
      },
    );

    withStore("alerts: a sighting counts once, even resent in another batch", async (store) => {
      const hostId = await newHost(store);
      await ingest(store, hostId, [], [alert("a1", "e1", 10)]);
      const resent = await ingest(store, hostId, [], [alert("a1", "e1", 10), alert("a2", "e2", 11)]);
      assert.equal(resent.alerts, 1);
      assert.equal((await store.getAlert("a1"))?.count, 2);
    });

    withStore("alerts: after resolution a repeat opens a new alert; a false positive keeps counting", async (store) => {
      const hostId = await newHost(store);
      await ingest(store, hostId, [], [alert("a1", "e1", 10)]);
      await store.updateAlert("a1", { status: "resolved" });
      const reopened = await ingest(store, hostId, [], [alert("a2", "e2", 20)]);
      assert.deepEqual(ids(reopened.newAlerts), ["a2"]);
      await store.updateAlert("a2", { status: "false_positive" });
      const muted = await ingest(store, hostId, [], [alert("a3", "e3", 30)]);
      assert.deepEqual(muted.newAlerts, []);
      assert.equal((await store.getAlert("a2"))?.count, 2);
      assert.equal((await store.getAlert("a1"))?.count, 1);
    });

    withStore("alerts: an alert id another host already used still makes a distinct alert", async (store) => {
      const a = await newHost(store, "a");
      const b = await newHost(store, "b");
      await ingest(store, a, [], [alert("same-id", "e1", 10)]);
      const second = await ingest(store, b, [], [alert("same-id", "e1", 10)]);
      assert.equal(second.newAlerts.length, 1);
      assert.notEqual(second.newAlerts[0]?.id, "same-id");
      assert.equal(second.newAlerts[0]?.hostId, b);
      assert.equal((await store.getAlert("same-id"))?.hostId, a);
    });

    withStore("alerts: lifecycle, assignee set and cleared, bulk updates, unknown ids", async (store) => {
      const hostId = await newHost(store);
      await ingest(
        store,
        hostId,
        [],
        [alert("a1", "e1", 1), alert("a2", "e2", 2, { ruleId: "r2" }), alert("a3", "e3", 3, { ruleId: "r3" })],
      );
      const progressing = await store.updateAlert("a1", { status: "in_progress", assignee: "carol" });
      assert.deepEqual(
        { status: progressing?.status, assignee: progressing?.assignee },
        { status: "in_progress", assignee: "carol" },
      );
      const cleared = await store.updateAlert("a1", { assignee: null });
      assert.deepEqual(
        { status: cleared?.status, assignee: cleared?.assignee },
        { status: "in_progress", assignee: undefined },
      );
      assert.equal(await store.updateAlert("nope", { status: "resolved" }), undefined);
      assert.equal(
        await store.bulkUpdateAlerts({ ids: ["a2", "a3", "nope"], update: { status: "resolved", assignee: "dave" } }),
        2,
      );
      assert.deepEqual((await store.listAlerts({ status: ["resolved"] })).items.map((a) => [a.id, a.assignee]).sort(), [
        ["a2", "dave"],
        ["a3", "dave"],
      ]);
      assert.equal((await store.getHost(hostId))?.openAlerts, 1);
      assert.equal(await store.getAlert("nope"), undefined);
    });

    withStore("alerts: the wire fields survive (author, tags, explanation, ancestry)", async (store) => {
      const hostId = await newHost(store);
      const wire = alert("a1", "e1", 1, {
        author: "Florian Roth",
        tags: ["attack.t1059", "attack.execution"],
        explanation: { condition: "selection", selections: [{ name: "selection", fields: [{ Image: "/bin/sh" }] }] },
        ancestry: [
          { pid: 1, image: "/sbin/init", commandLine: null },
          { pid: 90, image: null },
        ],
      });
      await ingest(store, hostId, [], [wire]);
      const stored = await store.getAlert("a1");
      const { groupKey: _g, ...sent } = wire;
      assert.deepEqual(
        { ...sent },
        {
          id: stored?.id,
          time: stored?.time,
          eventId: stored?.eventId,
          ruleId: stored?.ruleId,
          title: stored?.title,
          level: stored?.level,
          author: stored?.author,
          tags: stored?.tags,
          techniques: stored?.techniques,
          tactics: stored?.tactics,
          explanation: stored?.explanation,
          ancestry: stored?.ancestry,
        },
      );
    });

    withStore(
      "alerts: filters (status, level, host, rule, technique, text, time) and every sort, paged",
      async (store) => {
        const a = await newHost(store, "alpha-web");
        const b = await newHost(store, "beta-db");
        const levels = ["low", "medium", "high", "critical"] as const;
        const alerts: (WireAlert & { groupKey: string })[] = [];
        for (let i = 0; i < 24; i += 1) {
          alerts.push(
            alert(`al-${i}`, `e${i}`, i * 10, {
              ruleId: `rule-${i % 5}`,
              title: i % 4 === 0 ? "Encoded PowerShell" : "Shell spawned",
              level: levels[i % 4] as (typeof levels)[number],
              techniques: i % 3 === 0 ? ["T1027", "T1059.001"] : ["T1059"],
              groupKey: `g${i}`,
            }),
          );
        }
        await ingest(store, a, [], alerts.slice(0, 12));
        await ingest(store, b, [], alerts.slice(12));
        await store.updateAlert("al-3", { status: "in_progress" });
        await store.bulkUpdateAlerts({ ids: ["al-4", "al-5"], update: { status: "resolved" } });
        const list = async (query: Parameters<Store["listAlerts"]>[0]) =>
          ids(
            await everything((cursor) => store.listAlerts({ ...query, ...(cursor === undefined ? {} : { cursor }) })),
          );

        assert.deepEqual(await list({ status: ["in_progress"] }), ["al-3"]);
        assert.equal((await list({ status: ["new", "in_progress"] })).length, 22);
        assert.deepEqual((await list({ level: ["critical"] })).sort(), [
          "al-11",
          "al-15",
          "al-19",
          "al-23",
          "al-3",
          "al-7",
        ]);
        assert.equal((await list({ hostId: b })).length, 12);
        assert.deepEqual((await list({ ruleId: "rule-0" })).sort(), ["al-0", "al-10", "al-15", "al-20", "al-5"]);
        assert.deepEqual((await list({ technique: "t1027" })).length, 8);
        assert.deepEqual((await list({ q: "encoded powershell" })).length, 6);
        assert.deepEqual((await list({ q: "BETA" })).length, 12, "by hostname");
        assert.deepEqual((await list({ q: "rule-4" })).sort(), ["al-14", "al-19", "al-4", "al-9"]);
        assert.deepEqual((await list({ from: at(200), to: at(225) })).sort(), ["al-20", "al-21", "al-22"]);

        const all = await store.listAlerts({ limit: 1000 });
        const key: Record<string, (x: Alert) => number | string> = {
          lastSeen: (x: Alert) => ms(x.lastSeen),
          firstSeen: (x: Alert) => ms(x.firstSeen),
          level: (x: Alert) => levels.indexOf(x.level as (typeof levels)[number]),
          rule: (x: Alert) => x.ruleId,
          host: (x: Alert) => x.hostname,
          status: (x: Alert) => x.status,
          count: (x: Alert) => x.count,
        };
        for (const sort of ["lastSeen", "firstSeen", "level", "rule", "host", "status", "count"] as const) {
          for (const order of ["asc", "desc"] as const) {
            const paged = await everything((cursor) =>
              store.listAlerts({ sort, order, limit: 5, ...(cursor === undefined ? {} : { cursor }) }),
            );
            assert.equal(paged.length, 24, `${sort} ${order}`);
            assert.equal(new Set(ids(paged)).size, 24, `${sort} ${order}: each once`);
            const values = paged.map(key[sort] as (x: Alert) => number | string);
            const sorted = [...values].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
            assert.deepEqual(values, order === "asc" ? sorted : sorted.reverse(), `${sort} ${order}`);
          }
        }
        assert.equal(all.items.length, 24);
        const byLevel = await store.listAlerts({ sort: "level", limit: 2 });
        await rejectsWith(store.listAlerts({ sort: "rule", cursor: byLevel.nextCursor }), "R3_ERR_STORE_BAD_CURSOR");
      },
    );

    withStore("alerts: comments in order", async (store) => {
      const hostId = await newHost(store);
      await ingest(store, hostId, [], [alert("a1", "e1", 1)]);
      const one = await store.addComment({ alertId: "a1", author: "carol", text: "looking", time: at(5) });
      await store.addComment({ alertId: "a1", author: "dave", text: "benign: backup job", time: at(6) });
      assert.equal(one.alertId, "a1");
      assert.deepEqual(
        (await store.listComments("a1")).map((c) => [c.author, c.text, c.time]),
        [
          ["carol", "looking", at(5)],
          ["dave", "benign: backup job", at(6)],
        ],
      );
      assert.deepEqual(await store.listComments("a2"), []);
    });

    withStore("alerts: server-raised alerts group and are idempotent by id", async (store) => {
      const hostId = await newHost(store);
      const first = await store.insertServerAlert(
        hostId,
        alert("silent-1", "", 100, { ruleId: "ring3-host-silent", groupKey: "silent", level: "medium" }),
      );
      assert.deepEqual(
        { id: first.id, status: first.status, count: first.count },
        { id: "silent-1", status: "new", count: 1 },
      );
      const again = await store.insertServerAlert(
        hostId,
        alert("silent-1", "", 100, { ruleId: "ring3-host-silent", groupKey: "silent", level: "medium" }),
      );
      assert.equal(again.count, 1);
      const repeat = await store.insertServerAlert(
        hostId,
        alert("silent-2", "", 200, { ruleId: "ring3-host-silent", groupKey: "silent", level: "medium" }),
      );
      assert.deepEqual(
        { id: repeat.id, count: repeat.count, lastSeen: repeat.lastSeen },
        { id: "silent-1", count: 2, lastSeen: at(200) },
      );
    });

    withStore(
      "alerts: stats count sightings by level, tactic, rule, host and hour; suppressed ones excluded",
      async (store) => {
        const a = await newHost(store, "a");
        const b = await newHost(store, "b");
        await ingest(
          store,
          a,
          [],
          [
            alert("x1", "e", 0, { ruleId: "r1", title: "One", level: "high", tactics: ["execution", "persistence"] }),
            alert("x2", "e", 60, { ruleId: "r1", title: "One", level: "high", tactics: ["execution", "persistence"] }),
            alert("x3", "e", 3700, {
              ruleId: "r2",
              title: "Two",
              level: "low",
              tactics: ["discovery"],
              groupKey: "g2",
            }),
          ],
        );
        await ingest(
          store,
          b,
          [],
          [alert("x4", "e", 10, { ruleId: "r2", title: "Two", level: "low", tactics: ["discovery"] })],
        );
        await ingest(store, b, [], [alert("x5", "e", 99_999, { ruleId: "r3" })]);
        await store.createSuppression({
          ruleId: "r9",
          reason: "noise",
          expiresAt: at(1e6),
          createdBy: "x",
          createdAt: at(0),
        });
        await ingest(store, a, [], [alert("x6", "e", 30, { ruleId: "r9", level: "critical" })], { receivedAt: at(30) });
        const stats = await store.alertStats({ from: at(0), to: at(7200) });
        assert.deepEqual(stats.byLevel, { high: 2, low: 2 });
        assert.deepEqual(stats.byTactic, { execution: 2, persistence: 2, discovery: 2 });
        assert.deepEqual(stats.topRules, [
          { ruleId: "r1", title: "One", count: 2 },
          { ruleId: "r2", title: "Two", count: 2 },
        ]);
        assert.deepEqual(
          stats.topHosts.map((h) => [h.hostname, h.count]),
          [
            ["a", 3],
            ["b", 1],
          ],
        );
        const hour = (s: number) => new Date(Math.floor((T0 + s * 1000) / 3_600_000) * 3_600_000).toISOString();
        assert.deepEqual(stats.series, [
          { bucket: hour(0), level: "high", count: 2 },
          { bucket: hour(0), level: "low", count: 1 },
          { bucket: hour(3700), level: "low", count: 1 },
        ]);
      },
    );

    // ---- suppressions ---------------------------------------------------------------------------------------------

    withStore("suppressions: matching alerts are stored resolved and never new, until they expire", async (store) => {
      const hostId = await newHost(store);
      const other = await newHost(store, "other");
      const s = await store.createSuppression({
        ruleId: "rule-1",
        hostId,
        reason: "known admin script",
        expiresAt: at(1000),
        createdBy: "carol",
        createdAt: at(0),
      });
      assert.deepEqual(
        { ruleId: s.ruleId, hostId: s.hostId, reason: s.reason, createdBy: s.createdBy, expiresAt: s.expiresAt },
        { ruleId: "rule-1", hostId, reason: "known admin script", createdBy: "carol", expiresAt: at(1000) },
      );
      const quiet = await ingest(store, hostId, [], [alert("a1", "e1", 10), alert("a2", "e2", 20)], {
        receivedAt: at(100),
      });
      assert.deepEqual(quiet.newAlerts, []);
      assert.equal(quiet.alerts, 2);
      const suppressed = await store.getAlert("a1");
      assert.deepEqual({ status: suppressed?.status, count: suppressed?.count }, { status: "resolved", count: 2 });
      const elsewhere = await ingest(store, other, [], [alert("b1", "e1", 10)], { receivedAt: at(100) });
      assert.deepEqual(ids(elsewhere.newAlerts), ["b1"], "another host is not suppressed");
      const otherRule = await ingest(store, hostId, [], [alert("c1", "e1", 10, { ruleId: "rule-2" })], {
        receivedAt: at(100),
      });
      assert.deepEqual(ids(otherRule.newAlerts), ["c1"]);
      const expired = await ingest(store, hostId, [], [alert("a3", "e3", 1500)], { receivedAt: at(1500) });
      assert.deepEqual(ids(expired.newAlerts), ["a3"], "after expiry a repeat is new again");
      assert.deepEqual(ids(await store.listSuppressions(at(999))), [s.id]);
      assert.deepEqual(await store.listSuppressions(at(1000)), []);
      assert.equal(await store.deleteSuppression(s.id), true);
      assert.equal(await store.deleteSuppression(s.id), false);
    });

    withStore("suppressions: by event field, case-insensitive, from the batch or from stored events", async (store) => {
      const hostId = await newHost(store);
      await store.createSuppression({
        field: "Image",
        value: "C:\\Tools\\Backup.EXE",
        reason: "backup",
        expiresAt: at(10_000),
        createdBy: "c",
        createdAt: at(0),
      });
      const win = { product: "windows", category: "process_creation" };
      const inBatch = await ingest(
        store,
        hostId,
        [event("e1", 1, { Image: "c:\\tools\\backup.exe" }, win)],
        [alert("a1", "e1", 1, { groupKey: "g1" })],
        { receivedAt: at(5) },
      );
      assert.deepEqual(inBatch.newAlerts, []);
      await ingest(store, hostId, [event("e2", 2, { Image: "C:\\TOOLS\\BACKUP.EXE" }, win)], [], { receivedAt: at(5) });
      const stored = await ingest(store, hostId, [], [alert("a2", "e2", 2, { groupKey: "g2" })], { receivedAt: at(6) });
      assert.deepEqual(stored.newAlerts, []);
      const different = await ingest(
        store,
        hostId,
        [event("e3", 3, { Image: "C:\\Tools\\evil.exe" }, win)],
        [alert("a3", "e3", 3, { groupKey: "g3" })],
        { receivedAt: at(7) },
      );
      assert.deepEqual(ids(different.newAlerts), ["a3"]);
      const unknownEvent = await ingest(store, hostId, [], [alert("a4", "missing", 4, { groupKey: "g4" })], {
        receivedAt: at(8),
      });
      assert.deepEqual(ids(unknownEvent.newAlerts), ["a4"]);
    });

    // ---- process trees and timelines ---------------------------------------------------------------------------

    /** init(1) → sshd(100) → bash(200) → { curl(300), id(301) }; sshd also → bash(201); pid 300 reused later. */
    const processEvents = (): WireEvent[] => {
      const create = (id: string, s: number, pid: number, ppid: number, image: string, commandLine: string) =>
        event(id, s, { ProcessId: pid, ParentProcessId: ppid, Image: image, CommandLine: commandLine, User: "root" });
      const end = (id: string, s: number, pid: number) =>
        event(id, s, { ProcessId: pid, Image: "x" }, { product: "linux", category: "process_termination" });
      return [
        create("c100", 10, 100, 1, "/usr/sbin/sshd", "sshd: root@pts/0"),
        create("c200", 20, 200, 100, "/usr/bin/bash", "-bash"),
        create("c201", 25, 201, 100, "/usr/bin/bash", "bash -c uptime"),
        create("c300", 30, 300, 200, "/usr/bin/curl", "curl http://203.0.113.9/x"),
        create("c301", 31, 301, 200, "/usr/bin/id", "id"),
        create("c400", 32, 400, 300, "/usr/bin/sh", "sh -c payload"),
        event("f1", 33, { ProcessId: 300, TargetFilename: "/tmp/x" }, { product: "linux", category: "file_event" }),
        end("t300", 40, 300),
        create("c300b", 50, 300, 1, "/usr/bin/cron", "cron"),
      ];
    };

    withStore(
      "process tree: ancestors, siblings and descendants of a pid, pid reuse, end times, alerts",
      async (store) => {
        const hostId = await newHost(store);
        const events = processEvents();
        await ingest(store, hostId, events.slice(0, 5));
        await ingest(store, hostId, events.slice(5), [
          alert("on-curl", "f1", 33),
          alert("on-cron", "c300b", 50, { groupKey: "cron" }),
        ]);
        const tree = await store.processTree(hostId, 300, at(35));
        assert.equal(tree.hostId, hostId);
        assert.equal(tree.focusPid, 300);
        const byEvent = new Map(tree.nodes.map((n) => [n.eventId ?? `pid:${n.pid}`, n]));
        // c201 is the grandparent's child, not a sibling: it stays out.
        assert.deepEqual([...byEvent.keys()].sort(), ["c100", "c200", "c300", "c301", "c400", "pid:1"]);
        const curl = byEvent.get("c300");
        assert.deepEqual(
          {
            pid: curl?.pid,
            ppid: curl?.ppid,
            image: curl?.image,
            commandLine: curl?.commandLine,
            user: curl?.user,
            startTime: curl?.startTime,
            endTime: curl?.endTime,
            alertIds: curl?.alertIds,
          },
          {
            pid: 300,
            ppid: 200,
            image: "/usr/bin/curl",
            commandLine: "curl http://203.0.113.9/x",
            user: "root",
            startTime: at(30),
            endTime: at(40),
            alertIds: ["on-curl"],
          },
        );
        assert.equal(byEvent.get("c301")?.ppid, 200, "sibling");
        assert.equal(byEvent.get("c400")?.ppid, 300, "child");
        assert.equal(byEvent.get("pid:1")?.image, undefined, "a parent without events is known by pid only");

        const later = await store.processTree(hostId, 300, at(60));
        const cron = later.nodes.find((n) => n.pid === 300);
        assert.deepEqual(
          { eventId: cron?.eventId, ppid: cron?.ppid, alertIds: cron?.alertIds, endTime: cron?.endTime },
          { eventId: "c300b", ppid: 1, alertIds: ["on-cron"], endTime: undefined },
        );
        assert.equal(
          later.nodes.some((n) => n.eventId === "c400"),
          false,
          "the earlier pid 300's child is not the later one's",
        );

        const sshd = await store.processTree(hostId, 100, undefined);
        assert.deepEqual(
          sshd.nodes.map((n) => n.eventId ?? `pid:${n.pid}`).sort(),
          ["c100", "c200", "c201", "c300", "c301", "c400", "pid:1"].sort(),
        );

        const recent = await store.processTree(hostId, undefined, at(31));
        assert.equal(recent.focusPid, undefined);
        assert.deepEqual(recent.nodes.map((n) => n.eventId).sort(), ["c100", "c200", "c201", "c300", "c301"]);
        assert.deepEqual((await store.processTree(hostId, 999, undefined)).nodes, [{ pid: 999, alertIds: [] }]);
        assert.deepEqual((await store.processTree("no-such-host", 1, undefined)).nodes, []);
      },
    );

    withStore("timeline: events and alerts of a host, newest first, paged together, within a range", async (store) => {
      const hostId = await newHost(store);
      const other = await newHost(store, "other");
      const events = Array.from({ length: 12 }, (_, i) => event(`e${i}`, i * 10, { N: i }));
      await ingest(store, hostId, events, [alert("a1", "e3", 30), alert("a2", "e7", 70, { groupKey: "g2" })]);
      await ingest(store, other, [event("x", 35, {}, undefined, "other")], [alert("ax", "x", 35)]);
      const items = await everything((cursor) =>
        store.timeline(hostId, { limit: 4, ...(cursor === undefined ? {} : { cursor }) }),
      );
      assert.deepEqual(
        items.map((item) => (item.kind === "event" ? item.event.id : `alert:${item.alert.id}`)),
        ["e11", "e10", "e9", "e8", "alert:a2", "e7", "e6", "e5", "e4", "alert:a1", "e3", "e2", "e1", "e0"],
      );
      const window = await store.timeline(hostId, { from: at(25), to: at(45) });
      assert.deepEqual(
        window.items.map((item) => (item.kind === "event" ? item.event.id : `alert:${item.alert.id}`)),
        ["e4", "alert:a1", "e3"],
      );
      assert.deepEqual(await store.timeline("no-such-host", {}), { items: [] });
      await rejectsWith(store.timeline(hostId, { cursor: "x" }), "R3_ERR_STORE_BAD_CURSOR");
    });

    // ---- commands ----------------------------------------------------------------------------------------------

    const okResult = (ok: boolean): ActionResult => ({
      action: "kill",
      ok,
      message: ok ? "killed" : "no such process",
      startedAt: at(0),
      durationMs: 3,
      ...(ok ? { details: { pids: [4242] } } : { code: "R3_ERR_RESPONSE_NO_PROCESS" }),
    });

    withStore("commands: queued, counted, claimed once by their host, completed with a result", async (store) => {
      const hostId = await newHost(store);
      const other = await newHost(store, "other");
      const kill = await store.createCommand({
        hostId,
        request: { action: "kill", pid: 4242, tree: true },
        requestedBy: "carol",
        alertId: "a1",
        createdAt: at(0),
        deadline: at(300),
      });
      assert.deepEqual(
        {
          status: kill.status,
          hostId: kill.hostId,
          request: kill.request,
          requestedBy: kill.requestedBy,
          alertId: kill.alertId,
          deadline: kill.deadline,
        },
        {
          status: "queued",
          hostId,
          request: { action: "kill", pid: 4242, tree: true },
          requestedBy: "carol",
          alertId: "a1",
          deadline: at(300),
        },
      );
      const isolate = await store.createCommand({
        hostId,
        request: { action: "isolate", allow: ["10.0.0.1:443"] },
        requestedBy: "carol",
        createdAt: at(1),
        deadline: at(300),
      });
      await store.createCommand({
        hostId: other,
        request: { action: "list" },
        requestedBy: "carol",
        createdAt: at(1),
        deadline: at(300),
      });
      assert.equal(await store.countQueuedCommands(hostId, at(10)), 2);
      const claimed = await store.claimCommands(hostId, at(10));
      assert.deepEqual(ids(claimed), [kill.id, isolate.id]);
      assert.ok(claimed.every((c) => c.status === "delivered" && c.deliveredAt === at(10)));
      assert.deepEqual(await store.claimCommands(hostId, at(11)), [], "claimed once");
      assert.equal(await store.countQueuedCommands(hostId, at(11)), 0);
      assert.equal(
        await store.completeCommand(other, kill.id, okResult(true), at(20)),
        undefined,
        "not by another host",
      );
      const done = await store.completeCommand(hostId, kill.id, okResult(true), at(20));
      assert.deepEqual(
        { status: done?.status, result: done?.result, completedAt: done?.completedAt },
        { status: "succeeded", result: okResult(true), completedAt: at(20) },
      );
      assert.equal(await store.completeCommand(hostId, kill.id, okResult(false), at(21)), undefined, "completed once");
      assert.equal((await store.completeCommand(hostId, isolate.id, okResult(false), at(22)))?.status, "failed");
      assert.deepEqual(await store.getCommand(kill.id), done);
      assert.equal(await store.getCommand("nope"), undefined);
    });

    withStore("commands: past their deadline they time out, and are not delivered any more", async (store) => {
      const hostId = await newHost(store);
      const soon = await store.createCommand({
        hostId,
        request: { action: "release" },
        requestedBy: "c",
        createdAt: at(0),
        deadline: at(60),
      });
      const claimedLate = await store.createCommand({
        hostId,
        request: { action: "list" },
        requestedBy: "c",
        createdAt: at(0),
        deadline: at(100),
      });
      const later = await store.createCommand({
        hostId,
        request: { action: "list" },
        requestedBy: "c",
        createdAt: at(0),
        deadline: at(1000),
      });
      assert.deepEqual(await store.countQueuedCommands(hostId, at(60)), 2);
      assert.deepEqual(
        ids(await store.claimCommands(hostId, at(70))),
        [claimedLate.id, later.id],
        "an expired command is not delivered",
      );
      const expired = await store.expireCommands(at(100));
      assert.deepEqual(ids(expired), [soon.id, claimedLate.id]);
      assert.ok(expired.every((c) => c.status === "timed_out" && c.completedAt === at(100)));
      assert.deepEqual(await store.expireCommands(at(100)), []);
      assert.equal(await store.completeCommand(hostId, soon.id, okResult(true), at(101)), undefined, "too late");
      assert.equal((await store.getCommand(later.id))?.status, "delivered");
    });

    withStore("commands: listed newest first, by host, paged", async (store) => {
      const a = await newHost(store, "a");
      const b = await newHost(store, "b");
      const made: string[] = [];
      for (let i = 0; i < 9; i += 1) {
        made.push(
          (
            await store.createCommand({
              hostId: i % 3 === 0 ? b : a,
              request: { action: "list" },
              requestedBy: "c",
              createdAt: at(i),
              deadline: at(999),
            })
          ).id,
        );
      }
      const all = await everything((cursor) =>
        store.listCommands({ limit: 2, ...(cursor === undefined ? {} : { cursor }) }),
      );
      assert.deepEqual(ids(all), [...made].reverse());
      const onB = await everything((cursor) =>
        store.listCommands({ hostId: b, limit: 2, ...(cursor === undefined ? {} : { cursor }) }),
      );
      assert.deepEqual(ids(onB), [made[6], made[3], made[0]]);
      assert.deepEqual(await store.listCommands({ hostId: "nope" }), { items: [] });
    });

    // ---- housekeeping -------------------------------------------------------------------------------------------

    withStore("retention by age: old events and old closed alerts go, open alerts stay", async (store) => {
      const hostId = await newHost(store);
      const day = 86_400;
      const events = [
        event("old-1", 0, { Image: "/usr/bin/old-tool", CommandLine: "old-tool --run" }),
        event("old-2", 100, { Image: "/usr/bin/old-tool" }),
        event("new-1", 9 * day, { Image: "/usr/bin/new-tool", CommandLine: "new-tool --run" }),
      ];
      await ingest(store, hostId, events, [
        alert("closed", "old-1", 0, { groupKey: "a" }),
        alert("open", "old-2", 100, { groupKey: "b" }),
        alert("recent", "new-1", 9 * day, { groupKey: "c" }),
      ]);
      await store.updateAlert("closed", { status: "resolved" });
      await store.createSession({
        tokenHash: "old-session",
        userId: (await store.createUser({ username: "u", passwordHash: "h", role: "viewer" })).id,
        expiresAt: at(day),
      });
      const result = await store.applyRetention({ maxAgeDays: 7, maxBytes: 1e12 }, at(10 * day));
      assert.deepEqual(result, { eventsDeleted: 2, alertsDeleted: 1 });
      assert.deepEqual(ids(await searchAll(store, { hostId })), ["new-1"]);
      assert.deepEqual(
        ids(await searchAll(store, { filters: [{ field: "CommandLine", op: "contains", value: "--run" }] })),
        ["new-1"],
      );
      assert.deepEqual(
        ids(await searchAll(store, { filters: [{ field: "Image", op: "eq", value: "/usr/bin/old-tool" }] })),
        [],
      );
      assert.deepEqual(ids((await store.listAlerts({})).items).sort(), ["open", "recent"]);
      const stats = await store.stats();
      assert.deepEqual(
        { events: stats.events, alerts: stats.alerts, hosts: stats.hosts },
        { events: 1, alerts: 2, hosts: 1 },
      );
      assert.deepEqual(await store.applyRetention({ maxAgeDays: 7, maxBytes: 1e12 }, at(10 * day)), {
        eventsDeleted: 0,
        alertsDeleted: 0,
      });
    });

    withStore("retention by size: the oldest events go until the store fits", async (store) => {
      const hostId = await newHost(store);
      const events: WireEvent[] = [];
      for (let i = 0; i < 3000; i += 1) {
        events.push(
          event(`s${i}`, i, {
            Image: `/usr/bin/tool-${i % 50}`,
            CommandLine: `tool --input /data/${i}/${"x".repeat(200)}`,
            N: i,
          }),
        );
      }
      for (let i = 0; i < events.length; i += 500) await ingest(store, hostId, events.slice(i, i + 500));
      const before = await store.stats();
      assert.equal(before.events, 3000);
      const maxBytes = Math.floor(before.bytes / 2);
      const result = await store.applyRetention({ maxAgeDays: 3650, maxBytes }, at(4000));
      assert.ok(result.eventsDeleted > 0, "some events deleted");
      assert.ok(result.eventsDeleted < 3000, "not all");
      const after = await store.stats();
      assert.equal(after.events, 3000 - result.eventsDeleted);
      assert.ok(after.bytes < before.bytes, `shrank: ${before.bytes} → ${after.bytes}`);
      const kept = await searchAll(store, { hostId, limit: 1000 });
      assert.equal(kept.length, after.events);
      assert.deepEqual(
        kept.map((e) => e.fields["N"]),
        Array.from({ length: after.events }, (_, i) => 2999 - i),
        "the newest are kept",
      );
    });

    withStore("stats: counts and size", async (store) => {
      const empty = await store.stats();
      assert.deepEqual(
        { events: empty.events, alerts: empty.alerts, hosts: empty.hosts },
        { events: 0, alerts: 0, hosts: 0 },
      );
      const hostId = await newHost(store);
      await ingest(store, hostId, [event("e1", 1, {}), event("e2", 2, {})], [alert("a1", "e1", 1)]);
      const stats = await store.stats();
      assert.deepEqual(
        { events: stats.events, alerts: stats.alerts, hosts: stats.hosts },
        { events: 2, alerts: 1, hosts: 1 },
      );
      assert.ok(stats.bytes > 0);
      assert.equal(typeof store.engine, "string");
    });
  });
}
