import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root (packages/testkit/src → ../../..). */
export const REPO_ROOT = resolve(import.meta.dirname, "..", "..", "..");

/**
 * `../shared/data` beside the checkout holds the SigmaHQ corpus, the spec and the EVTX samples. It is read in
 * place, never copied into the repository; `R3_SHARED_DATA` points elsewhere. Undefined when absent, so tests
 * and benchmarks can skip with a clear message.
 */
export function sharedDataDir(): string | undefined {
  const dir = process.env["R3_SHARED_DATA"] ?? join(REPO_ROOT, "..", "shared", "data");
  return existsSync(dir) ? dir : undefined;
}

export const SHARED_DATA_MISSING = "../shared/data is absent (set R3_SHARED_DATA to its location to run this)";
