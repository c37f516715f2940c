// Type-checks every package with its own tsconfig (portable packages get no Node or DOM types, so a
// stray `node:*` import fails here), then the tests and benchmarks with Node types.
import { spawnSync } from "node:child_process";
import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const projects = readdirSync(join(root, "packages"))
  .map((name) => join("packages", name, "tsconfig.json"))
  .filter((path) => existsSync(join(root, path)));
projects.push("tsconfig.test.json", "scripts/tsconfig.json");

let failed = 0;
for (const project of projects) {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", project], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    failed += 1;
    console.error(`typecheck failed: ${project}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
