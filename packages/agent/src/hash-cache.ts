import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { BigIntStats } from "node:fs";
import { stat } from "node:fs/promises";

export type HashCacheOptions = {
  /** Entries kept; the least recently used goes first. */
  readonly maxEntries?: number;
  /** Larger files are not hashed (reading them would stall the agent). */
  readonly maxBytes?: number;
};

/**
 * SHA-256 of files, computed only when an event needs one and cached by (dev, inode, mtime, size): a file
 * rewritten in place gets a new mtime or size and is hashed again; the same binary exec'd a thousand times is
 * read once. Hashing runs concurrently per key (two events for one file share one read).
 */
export class HashCache {
  private readonly entries = new Map<string, Promise<string | undefined>>();
  /** stat calls under way, by path: an exec storm of one binary shares one stat instead of one per exec. */
  private readonly statting = new Map<string, Promise<BigIntStats | undefined>>();
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private computed = 0;

  constructor(options: HashCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 4096;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Files actually read so far (cache misses). */
  get hashed(): number {
    return this.computed;
  }

  /** Lower-case hex SHA-256, or undefined when the path is not a regular file, too large or unreadable. */
  async sha256(path: string): Promise<string | undefined> {
    let pending = this.statting.get(path);
    if (pending === undefined) {
      // Joining a stat issued for an earlier event is no staler than stat-after-event itself: the file can
      // change between the exec (or close) and any stat of it.
      pending = stat(path, { bigint: true }).then(
        (info) => info,
        () => undefined,
      );
      this.statting.set(path, pending);
      void pending.finally(() => this.statting.delete(path));
    }
    const info = await pending;
    if (info === undefined || !info.isFile() || info.size > BigInt(this.maxBytes)) return undefined;
    const key = `${info.dev}:${info.ino}:${info.mtimeNs}:${info.size}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = this.read(path);
      this.entries.set(key, entry);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    } else {
      // Most recently used moves to the end.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  private async read(path: string): Promise<string | undefined> {
    this.computed++;
    const hash = createHash("sha256");
    try {
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    } catch {
      return undefined;
    }
    return hash.digest("hex");
  }
}
