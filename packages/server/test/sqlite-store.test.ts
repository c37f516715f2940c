/**
 * The store contract on the SQLite adapter, in memory (index written inline) and in a temp file (index
 * written by the worker thread, so searches right after ingest also cover the not-yet-indexed tail), then what
 * only a file-backed SQLite store has: reopening, a full disk, damaged files, a rebuilt index, scan budgets.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, test } from "node:test";
import type { WireEvent } from "@ring3/protocol";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import type { SqliteStore, SqliteStoreOptions } from "../src/store/sqlite-store.ts";
import { alert, at, event, runStoreContract } from "./store-contract.ts";

const root = mkdtempSync(join(tmpdir(), "ring3-sqlite-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshPath = (): string => join(root, `store-${++n}`, "ring3.db");

runStoreContract("sqlite :memory:", () => openSqliteStore({ path: ":memory:" }));
runStoreContract("sqlite file", () => openSqliteStore({ path: freshPath() }));

async function open(path: string, options: Partial<SqliteStoreOptions> = {}): Promise<SqliteStore> {
  return openSqliteStore({ path, ...options });
}

/** Waits until the index worker has every stored event and reports no problem. */
async function indexed(store: SqliteStore): Promise<void> {
  let stats = await store.stats();
  for (let i = 0; i < 600 && (stats.indexLag !== 0 || stats.indexProblem !== undefined); i += 1) {
    await new Promise((tick) => setTimeout(tick, 25));
    stats = await store.stats();
  }
  assert.deepEqual({ lag: stats.indexLag, problem: stats.indexProblem }, { lag: 0, problem: undefined });
}

async function host(store: SqliteStore, name = "host-a"): Promise<string> {
  return (
    await store.createHost({
      hostname: name,
      machineId: name,
      os: "linux",
      agentVersion: "1",
      credentialHash: `cred-${name}`,
      enrolledAt: at(0),
    })
  ).id;
}

const processes = (count: number, from = 0): WireEvent[] =>
  Array.from({ length: count }, (_, i) =>
    event(`e${from + i}`, from + i, {
      Image: `/usr/bin/tool-${(from + i) % 7}`,
      CommandLine: `tool-${(from + i) % 7} --job ${from + i} --tag ${(from + i) % 3 === 0 ? "rare-tag" : "common"}`,
      ProcessId: 1000 + from + i,
      ParentProcessId: 1,
    }),
  );

const ids = (items: readonly { id: string }[]): string[] => items.map((i) => i.id);

describe("sqlite store", () => {
  test("data and the index survive close and reopen; the index catches up with events it missed", async () => {
    const path = freshPath();
    let store = await open(path);
    const hostId = await host(store);
    await store.ingestBatch({
      hostId,
      batchId: "batch-0001",
      receivedAt: at(100),
      events: processes(300),
      alerts: [alert("a1", "e1", 1)],
    });
    // Closed at once: the worker may not have indexed the batch yet.
    await store.close();
    store = await open(path);
    assert.deepEqual(await store.getAgentByCredential("cred-host-a"), { id: hostId, hostname: "host-a" });
    await indexed(store);
    const page = await store.searchEvents({ filters: [{ field: "CommandLine", op: "contains", value: "--job 123 " }] });
    assert.deepEqual(ids(page.items), ["e123"]);
    assert.equal((await store.getAlert("a1"))?.count, 1);
    const resent = await store.ingestBatch({
      hostId,
      batchId: "batch-0001",
      receivedAt: at(200),
      events: processes(300),
      alerts: [],
    });
    assert.equal(resent.duplicate, true, "batch ids persist");
    const tree = await store.processTree(hostId, 1010, undefined);
    assert.equal(tree.nodes.find((node) => node.pid === 1010)?.eventId, "e10");
    await store.close();
  });

  test("searches give the same answers before and after the index catches up", async () => {
    const store = await open(freshPath());
    const hostId = await host(store);
    const queries = [
      { filters: [{ field: "CommandLine", op: "contains" as const, value: "rare-tag" }] },
      { filters: [{ field: "Image", op: "eq" as const, value: "/USR/BIN/TOOL-3" }] },
      {
        filters: [
          { field: "CommandLine", op: "endswith" as const, value: "common" },
          { field: "Image", op: "startswith" as const, value: "/usr/bin/tool-1" },
        ],
      },
      { hostId, from: at(500), filters: [{ field: "Image", op: "contains" as const, value: "tool-6" }] },
    ];
    const all = async (): Promise<string[][]> => {
      const answers: string[][] = [];
      for (const query of queries) {
        const found: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.searchEvents({ ...query, limit: 37, ...(cursor === undefined ? {} : { cursor }) });
          found.push(...ids(page.items));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        answers.push(found);
      }
      return answers;
    };
    for (let i = 0; i < 2000; i += 250) {
      await store.ingestBatch({
        hostId,
        batchId: `batch-${i}-x`,
        receivedAt: at(3000),
        events: processes(250, i),
        alerts: [],
      });
    }
    const early = await all();
    await indexed(store);
    assert.deepEqual(await all(), early);
    assert.equal(early[0]?.length, 667);
    await store.close();
  });

  test("a search without a host pages through indexed and not yet indexed events in time order", async () => {
    const store = await open(freshPath(), { scanBudgetRows: 50 });
    const hostIds = [await host(store, "host-a"), await host(store, "host-b")];
    // The two hosts' batches interleave in time, every third event is a file event: ProcessId is not indexed,
    // so each query walks the index's event times (by logsource for the last two) under the scan budget.
    const stored: WireEvent[] = [];
    const ingestRound = async (round: number): Promise<void> => {
      for (const [h, hostId] of hostIds.entries()) {
        const events = Array.from({ length: 120 }, (_, i) => {
          const n = round * 240 + i * 2 + h;
          return event(
            `e${n}`,
            n,
            { ProcessId: 1000 + n, Image: "/usr/bin/x" },
            { product: "linux", category: n % 3 === 0 ? "file_event" : "process_creation" },
          );
        });
        stored.push(...events);
        await store.ingestBatch({ hostId, batchId: `b-${round}-${h}`, receivedAt: at(5000), events, alerts: [] });
      }
    };
    const cases = [
      {
        query: { filters: [{ field: "ProcessId", op: "endswith" as const, value: "7" }] },
        matches: (n: number) => String(1000 + n).endsWith("7"),
      },
      {
        query: {
          logsource: { category: "file_event" },
          filters: [{ field: "ProcessId", op: "startswith" as const, value: "11" }],
        },
        matches: (n: number) => n % 3 === 0 && String(1000 + n).startsWith("11"),
      },
      {
        query: { logsource: { category: "process_creation" }, from: at(100), to: at(700) },
        matches: (n: number) => n % 3 !== 0 && n >= 100 && n <= 700,
      },
    ];
    const check = async (): Promise<void> => {
      for (const { query, matches } of cases) {
        const found: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.searchEvents({ ...query, limit: 37, ...(cursor === undefined ? {} : { cursor }) });
          found.push(...ids(page.items));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined && pages < 500);
        const expected = stored
          .map((e) => Number(e.id.slice(1)))
          .filter(matches)
          .sort((a, b) => b - a)
          .map((n) => `e${n}`);
        assert.deepEqual(found, expected, JSON.stringify(query));
      }
    };
    try {
      await ingestRound(0);
      await ingestRound(1);
      await indexed(store);
      await ingestRound(2);
      await ingestRound(3);
      // Right after ingest the worker (which gathers batches for 100 ms) has most likely not indexed the last
      // rounds: they are searched unindexed, merged with the walk. Indexed or not, the answers are the same.
      await check();
      await indexed(store);
      await check();
    } finally {
      await store.close();
    }
  });

  test("a search the index cannot narrow stops at its scan budget and continues from its cursor", async () => {
    const store = await open(":memory:", { scanBudgetRows: 40 });
    const hostId = await host(store);
    await store.ingestBatch({
      hostId,
      batchId: "batch-0001",
      receivedAt: at(5000),
      events: processes(500),
      alerts: [],
    });
    // ProcessId is not indexed: this walks the events, 40 rows per page at most.
    const query = { filters: [{ field: "ProcessId", op: "startswith" as const, value: "11" }] };
    const first = await store.searchEvents(query);
    assert.ok(first.items.length < 100, "a short page");
    assert.notEqual(first.nextCursor, undefined);
    const found: string[] = [];
    let pages = 0;
    let cursor: string | undefined;
    do {
      const page = await store.searchEvents({ ...query, ...(cursor === undefined ? {} : { cursor }) });
      found.push(...ids(page.items));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined);
    assert.deepEqual(
      found,
      Array.from({ length: 100 }, (_, i) => `e${199 - i}`),
    );
    assert.ok(pages >= 500 / 40, `walked in ${pages} pages`);
    await store.close();
  });

  test("a full store refuses the batch whole (R3_ERR_STORE_FULL), keeps what it had, and takes the retry once there is room", async () => {
    const path = freshPath();
    const store = await open(path, { maxBytes: 2 * 1024 * 1024 });
    const hostId = await host(store);
    let stored = 0;
    let failure: { code?: string } | undefined;
    for (let i = 0; i < 200 && failure === undefined; i += 1) {
      try {
        const result = await store.ingestBatch({
          hostId,
          batchId: `batch-${i}-full`,
          receivedAt: at(10_000),
          events: processes(200, i * 200),
          alerts: [],
        });
        stored += result.events;
      } catch (error) {
        failure = error as { code?: string };
        assert.equal(failure.code, "R3_ERR_STORE_FULL");
        assert.equal((await store.stats()).events, stored, "nothing of the failed batch");
        // The refused batch id was not kept: the agent's retry is not taken for a duplicate.
        await store.applyRetention({ maxAgeDays: 36500, maxBytes: 1024 * 1024 }, at(10_000));
        const retry = await store.ingestBatch({
          hostId,
          batchId: `batch-${i}-full`,
          receivedAt: at(10_000),
          events: processes(20, i * 200),
          alerts: [],
        });
        assert.deepEqual({ duplicate: retry.duplicate, events: retry.events }, { duplicate: false, events: 20 });
      }
    }
    assert.notEqual(failure, undefined, "the size limit was reached");
    await store.close();
    const check = new DatabaseSync(path);
    assert.deepEqual(
      check
        .prepare("PRAGMA integrity_check")
        .all()
        .map((row) => row.integrity_check),
      ["ok"],
    );
    check.close();
  });

  test("a file that is not a database is refused (R3_ERR_STORE_CORRUPT) and left as it was", async () => {
    const path = freshPath();
    await open(path).then((s) => s.close());
    const garbage = Buffer.from("this is not an sqlite database, it is a grocery list: eggs, milk".repeat(100));
    writeFileSync(path, garbage);
    rmSync(`${path}-wal`, { force: true });
    await assert.rejects(open(path), (error: { code?: string }) => error.code === "R3_ERR_STORE_CORRUPT");
    assert.deepEqual(readFileSync(path), garbage);
  });

  test("a database of schema version 2 is migrated in place: its hosts kept, their health from their sensors", async () => {
    const path = freshPath();
    const before = await open(path);
    const healthy = await host(before, "healthy");
    const degraded = await host(before, "degraded");
    const isolated = await host(before, "isolated");
    await before.close();
    // Back to version 2 as the release before migration 3 wrote it: sensors JSON and the isolated flag, no
    // degraded or health columns, the partial index of isolated hosts.
    const v2 = new DatabaseSync(path);
    v2.exec(`DROP INDEX hosts_fleet; DROP INDEX hosts_hostname; ALTER TABLE hosts DROP COLUMN degraded;
      CREATE INDEX hosts_isolated ON hosts(no) WHERE isolated = 1; PRAGMA user_version = 2`);
    const set = v2.prepare("UPDATE hosts SET sensors = ?, isolated = ? WHERE id = ?");
    set.run(JSON.stringify({ audit: { state: "started" }, fanotify: { state: "started" } }), 0, healthy);
    set.run(JSON.stringify({ audit: { state: "started" }, fanotify: { state: "degraded", reason: "x" } }), 0, degraded);
    set.run(JSON.stringify({ audit: { state: "stopped" } }), 1, isolated);
    v2.close();

    const after = await open(path);
    assert.deepEqual(
      (await after.listHosts({})).items.map((h) => [h.hostname, h.health]),
      [
        ["degraded", "degraded"],
        ["healthy", "online"],
        ["isolated", "isolated"],
      ],
    );
    assert.deepEqual(await after.countHosts(), {
      byState: { online: 3, silent: 0 },
      byHealth: { online: 1, degraded: 1, isolated: 1, silent: 0 },
      isolated: 1,
    });
    await after.close();
    const check = new DatabaseSync(path);
    assert.equal((check.prepare("PRAGMA user_version").get() as { user_version: number }).user_version, 3);
    const plan = (sql: string) => JSON.stringify(check.prepare(`EXPLAIN QUERY PLAN ${sql}`).all());
    const counts = plan("SELECT state, isolated, count(*) FROM hosts GROUP BY state, isolated, degraded");
    const page = plan("SELECT * FROM hosts WHERE hostname > 'a' ORDER BY hostname, no LIMIT 100");
    check.close();
    assert.match(counts, /COVERING INDEX hosts_fleet/, "counts read the fleet index, not the host rows");
    assert.doesNotMatch(counts, /TEMP B-TREE/);
    assert.match(page, /INDEX hosts_hostname/, "a page walks the hostname index");
    assert.doesNotMatch(page, /TEMP B-TREE/, "without sorting the fleet");
  });

  test("a database from a newer ring3 is refused", async () => {
    const path = freshPath();
    await open(path).then((s) => s.close());
    const db = new DatabaseSync(path);
    db.exec("PRAGMA user_version = 999");
    db.close();
    await assert.rejects(
      open(path),
      (error: { code?: string; message?: string }) =>
        error.code === "R3_ERR_STORE_CORRUPT" && /newer/.test(error.message ?? ""),
    );
  });

  test("a directory that cannot be created is a clear error", async () => {
    await assert.rejects(
      open("/sys/ring3-cannot-create/ring3.db"),
      (error: { code?: string }) => error.code === "R3_ERR_STORE_READ_ONLY",
    );
  });

  test("a damaged or foreign search index is rebuilt from the events", async () => {
    const a = freshPath();
    const b = freshPath();
    for (const [path, prefix] of [
      [a, "alpha"],
      [b, "beta"],
    ] as const) {
      const store = await open(path);
      const hostId = await host(store);
      await store.ingestBatch({
        hostId,
        batchId: `batch-${prefix}`,
        receivedAt: at(1000),
        events: [event(`${prefix}-1`, 1, { CommandLine: `${prefix} marker` })],
        alerts: [],
      });
      await indexed(store);
      await store.close();
    }
    copyFileSync(`${a}-index`, `${b}-index`);
    let store = await open(b);
    await indexed(store);
    assert.deepEqual(
      ids((await store.searchEvents({ filters: [{ field: "CommandLine", op: "contains", value: "marker" }] })).items),
      ["beta-1"],
    );
    await store.close();

    writeFileSync(`${b}-index`, Buffer.alloc(8192, 7));
    rmSync(`${b}-index-wal`, { force: true });
    store = await open(b);
    await indexed(store);
    assert.deepEqual(
      ids(
        (await store.searchEvents({ filters: [{ field: "CommandLine", op: "contains", value: "beta mark" }] })).items,
      ),
      ["beta-1"],
    );
    await store.close();
    assert.ok(existsSync(`${b}-index`));
  });

  test("when the index worker dies, ingest goes on, searches stay exact, and a new worker catches up", async () => {
    const store = await open(freshPath());
    const hostId = await host(store);
    await store.ingestBatch({
      hostId,
      batchId: "batch-before",
      receivedAt: at(9000),
      events: processes(100),
      alerts: [],
    });
    await indexed(store);
    // A crash of the thread, as a fault in SQLite or the runtime would end it.
    const worker = (store as unknown as { worker: { terminate(): Promise<number> } }).worker;
    await worker.terminate();
    const during = await store.ingestBatch({
      hostId,
      batchId: "batch-during",
      receivedAt: at(9000),
      events: processes(100, 100),
      alerts: [],
    });
    assert.equal(during.events, 100);
    const stats = await store.stats();
    assert.match(stats.indexProblem ?? "", /index worker/);
    assert.equal(stats.indexLag, 100);
    const query = { filters: [{ field: "CommandLine", op: "contains" as const, value: "rare-tag" }], limit: 1000 };
    const expected = Array.from({ length: 200 }, (_, i) => 199 - i)
      .filter((i) => i % 3 === 0)
      .map((i) => `e${i}`);
    assert.deepEqual(ids((await store.searchEvents(query)).items), expected);
    await indexed(store);
    assert.deepEqual(ids((await store.searchEvents(query)).items), expected);
    await store.close();
  });

  test("both databases are checkpointed while ingest runs, before the writers' own automatic checkpoints", async () => {
    const path = freshPath();
    const store = await open(path);
    try {
      const hostId = await host(store);
      const sizes = (): number[] => [path, `${path}-index`].map((file) => statSync(file).size);
      const before = sizes();
      await store.ingestBatch({ hostId, batchId: "b1", receivedAt: at(9000), events: processes(500), alerts: [] });
      await indexed(store);
      // A few hundred KB of WAL each, far below the 40 MiB and 128 MiB at which the writers checkpoint
      // themselves: only the checkpointer copies them into the files.
      let after = sizes();
      for (let i = 0; i < 200 && after.some((size, k) => size <= (before[k] as number)); i += 1) {
        await new Promise((tick) => setTimeout(tick, 25));
        after = sizes();
      }
      assert.ok(after[0]! > before[0]! && after[1]! > before[1]!, `files ${before.join(", ")} → ${after.join(", ")}`);
    } finally {
      await store.close();
    }
  });

  test("a closed store says so", async () => {
    const store = await open(":memory:");
    await store.close();
    await assert.rejects(store.stats(), (error: { code?: string }) => error.code === "R3_ERR_STORE_CLOSED");
  });
});
