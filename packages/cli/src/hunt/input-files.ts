import { open, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";

export type InputKind = "evtx" | "json";

export type InputFile = {
  /** The path as the user would name it: the argument, or the argument joined with the path below it. */
  readonly name: string;
  /** Absolute, for reading. */
  readonly path: string;
  readonly kind: InputKind;
};

export type InputProblem = { readonly name: string; readonly reason: string };

export type InputDiscovery = {
  readonly files: InputFile[];
  /** Paths that could not be read, or named files that are neither EVTX nor JSON. */
  readonly unreadable: InputProblem[];
  /** Files found in directories that are neither EVTX nor JSON (a README, a licence): skipped, counted. */
  readonly skipped: string[];
};

const FILE_MAGIC = "ElfFile\0";
const CHUNK_MAGIC = "ElfChnk\0";
/** The first chunk follows the 4 KiB file header block. */
const FIRST_CHUNK_OFFSET = 4096;
const SNIFF_BYTES = 4096 + 8;

/**
 * EVTX by its magic, not its extension (exports are often renamed `.log` or `.bin`), and also by the magic of
 * the first chunk: a log whose header was torn still holds readable chunks. JSON when the first character
 * after whitespace (and a byte order mark) opens an object or an array.
 */
function classify(head: Buffer): InputKind | undefined {
  if (head.subarray(0, 8).toString("latin1") === FILE_MAGIC) return "evtx";
  if (head.subarray(FIRST_CHUNK_OFFSET, FIRST_CHUNK_OFFSET + 8).toString("latin1") === CHUNK_MAGIC) return "evtx";
  const text = head
    .subarray(0, 256)
    .toString("utf8")
    .replace(/^\uFEFF/, "");
  const first = text.trimStart()[0];
  return first === "{" || first === "[" ? "json" : undefined;
}

async function sniff(path: string): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await file.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}

/**
 * Expands the arguments into input files: directories recursively, entries sorted and dot-files left out, so
 * every run reads the same files in the same order. A directory reached twice (a symlink loop) is read once.
 */
export async function discoverInputs(args: readonly string[], cwd: string): Promise<InputDiscovery> {
  const result: InputDiscovery = { files: [], unreadable: [], skipped: [] };
  const seenDirs = new Set<string>();
  const visit = async (name: string, explicit: boolean): Promise<void> => {
    const path = resolve(cwd, name);
    try {
      const info = await stat(path);
      if (info.isDirectory()) {
        const key = `${info.dev}:${info.ino}`;
        if (seenDirs.has(key)) return;
        seenDirs.add(key);
        const entries = (await readdir(path)).filter((e) => !e.startsWith(".")).sort();
        for (const entry of entries) await visit(join(name, entry), false);
        return;
      }
      const kind = info.isFile() ? classify(await sniff(path)) : undefined;
      if (kind !== undefined) result.files.push({ name, path, kind });
      else if (explicit) result.unreadable.push({ name, reason: "neither an EVTX file nor JSON" });
      else result.skipped.push(name);
    } catch (error) {
      result.unreadable.push({ name, reason: reasonOf(error) });
    }
  };
  for (const arg of args) await visit(arg, true);
  return result;
}
