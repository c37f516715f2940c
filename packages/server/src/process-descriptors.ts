import { readdir, readFile } from "node:fs/promises";

export type DescriptorUsage = { readonly open: number; readonly max: number };

/**
 * The server's open file descriptors and their (soft) limit, from Linux's /proc; undefined where there is no
 * /proc. Every agent holds one to three of them in the server — a kept-alive connection, a second one while
 * the first carries a batch, the command long-poll — so a fleet outgrows a default limit (1,024 on many
 * distributions, 20,000 on this machine) long before CPU or memory. Past the limit accept() fails with
 * EMFILE, libuv closes the connections it cannot keep, and agents see resets and retry: the server looks
 * down while its CPU idles. Hence Prometheus' standard `process_open_fds` / `process_max_fds`, to alert on.
 */
export async function descriptorUsage(): Promise<DescriptorUsage | undefined> {
  try {
    const [fds, limits] = await Promise.all([readdir("/proc/self/fd"), readFile("/proc/self/limits", "utf8")]);
    // "Max open files            20000                20000                files     "
    const line = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
    if (line === null) return undefined;
    return { open: fds.length, max: line[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(line[1]) };
  } catch {
    return undefined;
  }
}
