import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { HashCache } from "../src/hash-cache.ts";

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

test("hashes are cached by (dev, inode, mtime, size) and bounded", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ring3-hash-"));
  try {
    const a = join(dir, "a");
    writeFileSync(a, "one");
    const cache = new HashCache({ maxEntries: 2, maxBytes: 10 });
    assert.equal(await cache.sha256(a), sha256("one"));
    assert.equal(await cache.sha256(a), sha256("one"));
    assert.equal(cache.hashed, 1);
    writeFileSync(a, "two!");
    utimesSync(a, new Date(), new Date(Date.now() + 5000));
    assert.equal(await cache.sha256(a), sha256("two!"));
    assert.equal(cache.hashed, 2);
    for (const name of ["b", "c"]) {
      writeFileSync(join(dir, name), name);
      await cache.sha256(join(dir, name));
    }
    assert.equal(cache.size, 2);
    writeFileSync(join(dir, "big"), "x".repeat(11));
    assert.equal(await cache.sha256(join(dir, "big")), undefined);
    assert.equal(await cache.sha256(dir), undefined);
    assert.equal(await cache.sha256(join(dir, "missing")), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file on a local filesystem: the cached hash comes back synchronously, a rewrite is hashed again", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ring3-hash-"));
  try {
    const a = join(dir, "a");
    writeFileSync(a, "one");
    const cache = new HashCache();
    const first = cache.sha256Local(a);
    assert.ok(first instanceof Promise, "a miss reads the file asynchronously");
    assert.equal(await first, sha256("one"));
    assert.equal(cache.sha256Local(a), sha256("one"));
    writeFileSync(a, "three");
    const again = cache.sha256Local(a);
    assert.ok(again instanceof Promise);
    assert.equal(await again, sha256("three"));
    assert.equal(cache.hashed, 2);
    assert.equal(cache.sha256Local(join(dir, "missing")), undefined);
    assert.equal(cache.sha256Local(dir), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
