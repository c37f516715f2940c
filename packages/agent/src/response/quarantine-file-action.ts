import { createHash, randomBytes } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import type { BigIntStats } from "node:fs";
import { chmod, chown, link, lstat, mkdir, open, readdir, rename, unlink, utimes } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import type { Guardrails } from "./guardrails.ts";
import { ResponseError } from "./response-error.ts";
import { readStateFile, removeStateFile, syncDirectory, writeStateFile } from "./state-file.ts";

/** What restore needs to put a file back exactly as it was: `<store>/<id>.json` beside the content `<id>.bin`. */
export type QuarantineEntry = {
  id: string;
  /** "moving": written before the file moves, so a crash mid-move never leaves content without its path. */
  state: "moving" | "quarantined";
  path: string;
  sha256: string;
  size: number;
  /** Permission bits (st_mode & 07777), setuid/setgid/sticky included. */
  mode: number;
  uid: number;
  gid: number;
  /** Nanoseconds since the epoch, as decimal strings (beyond a double's precision). */
  atimeNs: string;
  mtimeNs: string;
  /** Other names of the same inode (st_nlink - 1): they still reach the content after the quarantine. */
  otherLinks: number;
  method: "rename" | "copy";
  quarantinedAt: string;
};

const ID = /^[0-9a-f]{16}$/;

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Copies `from` to a new file `to` (which must not exist), fsynced; returns the SHA-256 of what was copied. */
async function copyFile(from: string, to: string, expected?: BigIntStats): Promise<string> {
  const source = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (expected !== undefined) {
      const info = await source.stat({ bigint: true });
      if (info.dev !== expected.dev || info.ino !== expected.ino)
        throw new ResponseError("R3_ERR_RESPONSE_FAILED", `${from} was replaced while it was being quarantined`);
    }
    const target = await open(to, "wx", 0o600);
    const hash = createHash("sha256");
    try {
      const buffer = Buffer.allocUnsafe(1024 * 1024);
      for (;;) {
        const { bytesRead } = await source.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        const chunk = buffer.subarray(0, bytesRead);
        hash.update(chunk);
        await target.write(chunk);
      }
      await target.sync();
    } finally {
      await target.close();
    }
    return hash.digest("hex");
  } finally {
    await source.close();
  }
}

function seconds(ns: string): number {
  const value = BigInt(ns);
  return Number(value / 1_000_000_000n) + Number(value % 1_000_000_000n) / 1e9;
}

/**
 * Quarantine moves a file into `<stateDir>/quarantine` (0700; the content itself mode 000) and records what
 * restore needs; restore puts the same bytes back at the same path with the same owner, mode and times.
 * Within one filesystem the move is a rename (the inode, and so its times, stay as they were); across
 * filesystems it is copy, fsync, then unlink — the original is removed only once the copy is durable.
 */
export class QuarantineFileAction {
  private readonly guardrails: Guardrails;
  readonly storeDir: string;

  constructor(options: { readonly guardrails: Guardrails; readonly storeDir: string }) {
    this.guardrails = options.guardrails;
    this.storeDir = options.storeDir;
  }

  async quarantine(request: { path: string; force?: boolean | undefined }, ctx: ActionContext): Promise<ActionOutcome> {
    const path = request.path;
    if (!isAbsolute(path)) throw new ResponseError("R3_ERR_RESPONSE_INVALID", `the path must be absolute: ${path}`);
    const info = await lstat(path, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR")
        throw new ResponseError("R3_ERR_RESPONSE_NO_SUCH_FILE", `no such file: ${path}`);
      throw error;
    });
    if (!info.isFile()) {
      const kind = info.isSymbolicLink() ? "a symbolic link (quarantine its target)" : "not a regular file";
      throw new ResponseError("R3_ERR_RESPONSE_NOT_A_FILE", `${path} is ${kind}`);
    }
    const refused = await this.guardrails.pathReason(path, request.force === true);
    if (refused !== undefined)
      throw new ResponseError("R3_ERR_RESPONSE_CRITICAL_PATH", `refused: ${refused}`, { path });
    if (ctx.dryRun) {
      return {
        message: `would quarantine ${path}`,
        details: { path, sha256: await sha256File(path), size: Number(info.size) },
      };
    }
    await mkdir(this.storeDir, { recursive: true, mode: 0o700 });
    await chmod(this.storeDir, 0o700);
    const id = randomBytes(8).toString("hex");
    const entry: QuarantineEntry = {
      id,
      state: "moving",
      path,
      sha256: "",
      size: Number(info.size),
      mode: Number(info.mode) & 0o7777,
      uid: Number(info.uid),
      gid: Number(info.gid),
      atimeNs: info.atimeNs.toString(),
      mtimeNs: info.mtimeNs.toString(),
      otherLinks: Number(info.nlink) - 1,
      method: "rename",
      quarantinedAt: new Date().toISOString(),
    };
    await writeStateFile(this.metaPath(id), entry);
    const blob = this.blobPath(id);
    try {
      await rename(path, blob);
      entry.sha256 = await sha256File(blob);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EXDEV") {
        await removeStateFile(this.metaPath(id));
        throw error;
      }
      entry.method = "copy";
      const partial = join(this.storeDir, `${id}.partial`);
      try {
        entry.sha256 = await copyFile(path, partial, info);
        await rename(partial, blob);
        await syncDirectory(this.storeDir);
        const now = await lstat(path, { bigint: true });
        // Only the file that was copied is removed: a file swapped in under the same name stays.
        if (now.dev !== info.dev || now.ino !== info.ino)
          throw new ResponseError("R3_ERR_RESPONSE_FAILED", `${path} was replaced while it was being quarantined`);
        await unlink(path);
      } catch (copyError) {
        await unlink(partial).catch(() => undefined);
        await unlink(blob).catch(() => undefined);
        await removeStateFile(this.metaPath(id));
        throw copyError;
      }
    }
    await chmod(blob, 0o000);
    await syncDirectory(dirname(path)).catch(() => undefined);
    entry.state = "quarantined";
    await writeStateFile(this.metaPath(id), entry);
    return {
      message: `quarantined ${path} as ${id}`,
      details: {
        id,
        path,
        sha256: entry.sha256,
        size: entry.size,
        method: entry.method,
        otherLinks: entry.otherLinks,
        ...(entry.otherLinks > 0 ? { warning: `${entry.otherLinks} other hard link(s) still reach the content` } : {}),
      },
    };
  }

  async restore(request: { id: string }, ctx: ActionContext): Promise<ActionOutcome> {
    const entry = await this.entry(request.id);
    const blob = this.blobPath(entry.id);
    const occupied = await lstat(entry.path).then(
      () => true,
      () => false,
    );
    if (occupied)
      throw new ResponseError("R3_ERR_RESPONSE_RESTORE_EXISTS", `${entry.path} exists again; move it away to restore`, {
        id: entry.id,
        path: entry.path,
      });
    const parent = await lstat(dirname(entry.path)).catch(() => undefined);
    if (parent === undefined || !parent.isDirectory())
      throw new ResponseError("R3_ERR_RESPONSE_FAILED", `the directory ${dirname(entry.path)} no longer exists`);
    const actual = await sha256File(blob);
    if (actual !== entry.sha256)
      throw new ResponseError(
        "R3_ERR_RESPONSE_FAILED",
        `the quarantined content of ${entry.id} does not match its recorded SHA-256 (store damaged); left in place`,
        { id: entry.id, expected: entry.sha256, actual },
      );
    if (ctx.dryRun) return { message: `would restore ${entry.path} from ${entry.id}`, details: { ...entry } };
    // link(2) fails with EEXIST rather than replacing a file that appeared meanwhile; rename would overwrite it.
    try {
      await link(blob, entry.path);
      await unlink(blob);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST")
        throw new ResponseError(
          "R3_ERR_RESPONSE_RESTORE_EXISTS",
          `${entry.path} exists again; move it away to restore`,
        );
      if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
      const temporary = join(dirname(entry.path), `.ring3-restore-${entry.id}`);
      try {
        await copyFile(blob, temporary);
        await link(temporary, entry.path);
      } finally {
        await unlink(temporary).catch(() => undefined);
      }
      await unlink(blob);
    }
    // chown first: it clears setuid/setgid, which chmod then puts back.
    await chown(entry.path, entry.uid, entry.gid);
    await chmod(entry.path, entry.mode);
    await utimes(entry.path, seconds(entry.atimeNs), seconds(entry.mtimeNs));
    await syncDirectory(dirname(entry.path));
    await removeStateFile(this.metaPath(entry.id));
    return {
      message: `restored ${entry.path} from ${entry.id}`,
      details: {
        id: entry.id,
        path: entry.path,
        sha256: entry.sha256,
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
      },
    };
  }

  /** Quarantined files; entries a crash left before the move are removed here (their file never moved). */
  async list(): Promise<QuarantineEntry[]> {
    const names = await readdir(this.storeDir).catch(() => [] as string[]);
    const out: QuarantineEntry[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith(".json") || !ID.test(name.slice(0, -5))) continue;
      const entry = (await readStateFile(join(this.storeDir, name))) as QuarantineEntry | undefined;
      if (entry === undefined) continue;
      const present = await lstat(this.blobPath(entry.id)).then(
        () => true,
        () => false,
      );
      if (present) out.push(await this.settle(entry));
      else if (entry.state === "moving") await removeStateFile(join(this.storeDir, name));
    }
    return out;
  }

  private metaPath(id: string): string {
    return join(this.storeDir, `${id}.json`);
  }

  private blobPath(id: string): string {
    return join(this.storeDir, `${id}.bin`);
  }

  private async entry(id: string): Promise<QuarantineEntry> {
    // The id names files in the store: anything but 16 hex digits could reach outside it.
    if (!ID.test(id))
      throw new ResponseError("R3_ERR_RESPONSE_QUARANTINE_NOT_FOUND", `no quarantined file ${JSON.stringify(id)}`);
    const entry = (await readStateFile(this.metaPath(id))) as QuarantineEntry | undefined;
    const present = await lstat(this.blobPath(id)).then(
      () => true,
      () => false,
    );
    if (entry === undefined || !present)
      throw new ResponseError("R3_ERR_RESPONSE_QUARANTINE_NOT_FOUND", `no quarantined file ${id}`);
    return this.settle(entry);
  }

  /** An entry a crash left "moving" after its content did move: finished now (hash, state). */
  private async settle(entry: QuarantineEntry): Promise<QuarantineEntry> {
    if (entry.state === "quarantined") return entry;
    const settled: QuarantineEntry = {
      ...entry,
      state: "quarantined",
      sha256: entry.sha256 === "" ? await sha256File(this.blobPath(entry.id)) : entry.sha256,
    };
    await chmod(this.blobPath(entry.id), 0o000);
    await writeStateFile(this.metaPath(entry.id), settled);
    return settled;
  }
}
