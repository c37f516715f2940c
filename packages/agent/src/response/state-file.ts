import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * JSON state that must survive a crash whole or not at all (isolation, the block list, suspensions): written
 * to a temporary file, fsynced, renamed over the old one and the directory fsynced — a reader sees the old
 * file or the new one, never half of either.
 */
export async function writeStateFile(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(path), `.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temporary, "wx", 0o600);
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + "\n");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await syncDirectory(dirname(path));
}

export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The parsed file, undefined when it does not exist; a corrupt file is an error naming it (never ignored). */
export async function readStateFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${path} is corrupt (${(error as Error).message}); move it away to reset that state`, {
      cause: error,
    });
  }
}

export async function removeStateFile(path: string): Promise<void> {
  await rm(path, { force: true });
  await syncDirectory(dirname(path)).catch(() => undefined);
}
