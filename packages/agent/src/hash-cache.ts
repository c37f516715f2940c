import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import type { BigIntStats } from "node:fs";
import { stat } from "node:fs/promises";

export type HashCacheOptions = {
  /** Entries kept; the least recently used goes first. */
  readonly maxEntries?: number;
  /** Larger files are not hashed (reading them would stall the agent). */
  readonly maxBytes?: number;
};

type Entry = { readonly promise: Promise<string | undefined>; done: boolean; value: string | undefined };

/**
 * SHA-256 of files, computed only when an event needs one and cached by (dev, inode, mtime, size): a file
 * rewritten in place gets a new mtime or size and is hashed again; the same binary exec'd a thousand times is
 * read once. Hashing runs concurrently per key (two events for one file share one read).
 */
export class HashCache {
  private readonly entries = new Map<string, Entry>();
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
    return this.entry(await pending, path)?.promise;
  }

  /**
   * The same for a file on a local filesystem (one the fanotify sensor marked: no FUSE, no network), known
   * synchronously when cached. stat(2) there is answered from the inode cache or the local disk, never by
   * another party that could stall it, so it runs on the event path: 3 µs instead of ~25 µs through the
   * thread pool plus a promise per event, at 500 execs/s of one binary. A miss still reads the file
   * asynchronously and returns a promise.
   */
  sha256Local(path: string): string | undefined | Promise<string | undefined> {
    let info: BigIntStats | undefined;
    try {
      info = statSync(path, { bigint: true, throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    const entry = this.entry(info, path);
    return entry === undefined ? undefined : entry.done ? entry.value : entry.promise;
  }

  private entry(info: BigIntStats | undefined, path: string): Entry | undefined {
    if (info === undefined || !info.isFile() || info.size > BigInt(this.maxBytes)) return undefined;
    const key = `${info.dev}:${info.ino}:${info.mtimeNs}:${info.size}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const created: Entry = { promise: this.read(path), done: false, value: undefined };
      void created.promise.then((value) => {
        created.value = value;
        created.done = true;
      });
      entry = created;
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
