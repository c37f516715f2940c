// `npm run bench:engine`: runs engine.bench.ts the way the `ring3` bin runs the engine, with Node's compile cache
// (packages/cli/bin/ring3.js). Without the cache, Node type-strips the TypeScript sources with a WebAssembly
// module that stays resident for the life of the process, ~35 MB of RSS that is not the engine's and that a
// deployed agent or hunt does not carry after its first start. A first child fills the cache (it loads the
// bench's modules and stops), so the figures are the same on a fresh clone and on later runs.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cache = fileURLToPath(new URL("../../../node_modules/.cache/ring3-bench-compile-cache", import.meta.url));
mkdirSync(cache, { recursive: true, mode: 0o700 });
const bench = fileURLToPath(new URL("./engine.bench.ts", import.meta.url));
const env = { ...process.env, NODE_COMPILE_CACHE: cache };
// The same V8 flags in both: the cache is kept per flag set.
const node = [process.execPath, "--expose-gc", bench];
const warm = spawnSync(node[0], node.slice(1), { env: { ...env, RING3_BENCH_WARM_ONLY: "1" }, stdio: "inherit" });
if (warm.status !== 0) process.exit(warm.status ?? 1);
const run = spawnSync(node[0], [...node.slice(1), ...process.argv.slice(2)], { env, stdio: "inherit" });
process.exitCode = run.status ?? 1;
