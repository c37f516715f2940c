import { readFileSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseMountInfo } from "../sensors/fanotify/mountinfo.ts";
import { pollUntil } from "./process-handle.ts";

/** Where ring3's own cgroups live under the cgroup v2 mount. */
const JAIL_PARENT = "ring3";

/**
 * The cgroup v2 hierarchy's mount point (`/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified` on a
 * hybrid one), or undefined on a v1-only host. The v2 freezer (cgroup.freeze, 5.2+) works in any v2 cgroup,
 * even one with no controllers enabled, so a hybrid host has it too.
 */
export function cgroup2Mount(mountInfo?: string): string | undefined {
  const text = mountInfo ?? readFileSync("/proc/self/mountinfo", "utf8");
  return parseMountInfo(text).find((m) => m.fsType === "cgroup2")?.mountPoint;
}

/** "0::/system.slice/x.service" — the v2 line of /proc/<pid>/cgroup (cgroups(7)). */
export function parseV2Cgroup(text: string): string | undefined {
  for (const line of text.split("\n")) if (line.startsWith("0::")) return line.slice(3);
  return undefined;
}

/**
 * A cgroup of ring3's own that holds the processes an action contains. Moving a process tree into it and
 * writing cgroup.freeze stops every member at once, including children they fork meanwhile (a child is born
 * in its parent's cgroup); cgroup.kill (5.14+) then kills all of them in one write, so no descendant escapes
 * by being re-parented while its siblings die — the race signal-by-signal tree kills always have.
 */
export class CgroupJail {
  readonly path: string;
  private readonly mount: string;

  private constructor(mount: string, path: string) {
    this.mount = mount;
    this.path = path;
  }

  /** A new jail `ring3/<name>`, or undefined when there is no cgroup v2 hierarchy. */
  static async create(name: string, mount = cgroup2Mount()): Promise<CgroupJail | undefined> {
    if (mount === undefined) return undefined;
    const path = join(mount, JAIL_PARENT, name);
    await mkdir(path, { recursive: true });
    return new CgroupJail(mount, path);
  }

  /** An existing jail (a suspension recorded before an agent restart). */
  static at(path: string, mount = cgroup2Mount()): CgroupJail | undefined {
    return mount === undefined ? undefined : new CgroupJail(mount, path);
  }

  /** Moves `pid` in; returns the cgroup it came from (relative to the v2 root) so it can go back there. */
  async adopt(pid: number): Promise<string> {
    const origin = parseV2Cgroup(await readFile(`/proc/${pid}/cgroup`, "utf8")) ?? "/";
    await writeFile(join(this.path, "cgroup.procs"), `${pid}\n`);
    return origin;
  }

  /** Moves `pid` back to `cgroup` (or to the root when that cgroup is gone meanwhile). */
  async release(pid: number, cgroup: string): Promise<void> {
    try {
      await writeFile(join(this.mount, cgroup, "cgroup.procs"), `${pid}\n`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      await writeFile(join(this.mount, "cgroup.procs"), `${pid}\n`);
    }
  }

  async procs(): Promise<number[]> {
    const text = await readFile(join(this.path, "cgroup.procs"), "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((line) => line !== "")
      .map(Number);
  }

  /** cgroup.events: "populated 1\nfrozen 0\n". */
  async events(): Promise<{ populated: boolean; frozen: boolean }> {
    const text = await readFile(join(this.path, "cgroup.events"), "utf8").catch(() => "");
    return { populated: /^populated 1$/m.test(text), frozen: /^frozen 1$/m.test(text) };
  }

  /** Writes cgroup.freeze and waits until the kernel reports every member stopped (`frozen 1`). */
  async freeze(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    await writeFile(join(this.path, "cgroup.freeze"), "1\n");
    return pollUntil(async () => (await this.events()).frozen, timeoutMs, signal, 5);
  }

  async thaw(): Promise<void> {
    await writeFile(join(this.path, "cgroup.freeze"), "0\n");
  }

  /** cgroup.kill: SIGKILL to every member at once; false on a kernel without it (before 5.14). */
  async kill(): Promise<boolean> {
    try {
      await writeFile(join(this.path, "cgroup.kill"), "1\n");
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw error;
    }
  }

  async waitEmpty(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return pollUntil(async () => !(await this.events()).populated, timeoutMs, signal, 10);
  }

  /** Removes the (empty) jail; a jail that still holds processes stays, and the error says so. */
  async remove(): Promise<void> {
    await rmdir(this.path);
    // The parent goes too once no jail is left in it (EBUSY/ENOTEMPTY otherwise: another jail is in use).
    await rmdir(dirname(this.path)).catch(() => undefined);
  }
}
