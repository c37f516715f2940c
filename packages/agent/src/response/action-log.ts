import { open, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { ActionResult } from "@ring3/protocol";
import type { ResponseOrigin } from "./action-context.ts";

/** One line of the action log. */
export type ActionLogEntry = {
  readonly time: string;
  readonly origin: ResponseOrigin;
  /** As received, valid or not. */
  readonly request: unknown;
  readonly result: ActionResult;
  /** The agent process that acted. */
  readonly pid: number;
};

/**
 * `<stateDir>/actions.jsonl`: every action, refused ones included, one JSON line each, only ever appended.
 * Each line is one write(2) on an O_APPEND descriptor, so the agent and a `ring3 respond` running beside it
 * never interleave inside a line; the file is fsynced, because an action whose record a crash can lose is
 * not audited.
 */
export class ActionLog {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async append(entry: ActionLogEntry): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const handle = await open(this.path, "a", 0o600);
    try {
      await handle.write(JSON.stringify(entry) + "\n");
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** The last `limit` entries, oldest first; a torn last line (a crash mid-write) is skipped, not fatal. */
  async tail(limit: number): Promise<ActionLogEntry[]> {
    const text = await readFile(this.path, "utf8").catch(() => "");
    const out: ActionLogEntry[] = [];
    for (const line of text.split("\n").slice(-(limit + 1))) {
      if (line === "") continue;
      try {
        out.push(JSON.parse(line) as ActionLogEntry);
      } catch {
        // A torn line: written partly when the writer died.
      }
    }
    return out.slice(-limit);
  }
}
