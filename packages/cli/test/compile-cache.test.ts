import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";

const BIN = resolve(import.meta.dirname, "..", "bin", "ring3.js");

/** `ring3 rules check` of an empty dir through the real bin, with its cache under `cacheHome`. */
function runBin(cacheHome: string): void {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome };
  delete env.NODE_COMPILE_CACHE;
  const run = spawnSync(process.execPath, [BIN, "rules", "check", cacheHome], { env, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
}

function filesUnder(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length;
}

test("the ring3 bin keeps its compile cache in a directory only its user can write", () => {
  const home = mkdtempSync(join(tmpdir(), "ring3-cache-"));
  try {
    runBin(home);
    const own = join(home, "ring3");
    const cache = join(own, "compile-cache");
    for (const dir of [own, cache]) assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
    assert.ok(filesUnder(cache) > 0, "the first run filled the cache");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("a compile cache directory others can write to is not used (cached code would run as this user)", () => {
  const home = mkdtempSync(join(tmpdir(), "ring3-cache-"));
  try {
    const own = join(home, "ring3");
    mkdirSync(join(own, "compile-cache"), { recursive: true });
    chmodSync(own, 0o777);
    runBin(home);
    assert.equal(filesUnder(own), 0);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
