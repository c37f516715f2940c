import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ActionResult } from "@ring3/protocol";
import { writePrivateFile } from "./enrollment.ts";

/** What the journal holds of one command: started (its result unknown) or finished (its result not yet delivered). */
type JournalEntry =
  | { readonly id: string; readonly state: "running"; readonly action: string; readonly startedAt: string }
  | { readonly id: string; readonly state: "finished"; readonly result: ActionResult };

/** A result owed to the server: one found finished, or made for a command the agent stopped in. */
export type OwedResult = { readonly id: string; readonly result: ActionResult };

// Command ids are the server's UUIDs; anything else cannot name a file safely and is not journalled.
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The command results the server has not heard yet, on disk (`<stateDir>/commands/<id>.json`, root-only like
 * the rest of the state). The server delivers a command once; without this, an agent killed while a command
 * ran, or before its result got through, left the command to time out on the server with nothing said about
 * what happened. Now a restart delivers the result it had, and for a command it was running, says so: the
 * action may have taken effect (a process killed, a host isolated) and an analyst must look, not retry blindly.
 */
export class CommandJournal {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, "commands");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  started(id: string, action: string, startedAt: string): void {
    this.write({ id, state: "running", action, startedAt });
  }

  finished(id: string, result: ActionResult): void {
    this.write({ id, state: "finished", result });
  }

  /** The server has the result (or will never take it): nothing more is owed. */
  settled(id: string): void {
    if (SAFE_ID.test(id)) rmSync(this.path(id), { force: true });
  }

  /** What a previous run left owed, oldest start first; unreadable entries are dropped with a message. */
  owed(log: (message: string) => void): OwedResult[] {
    const out: { readonly owed: OwedResult; readonly at: string }[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(".json")) continue;
      const path = join(this.dir, name);
      let entry: JournalEntry;
      try {
        entry = JSON.parse(readFileSync(path, "utf8")) as JournalEntry;
      } catch (error) {
        log(`link: dropping unreadable command journal entry ${name}: ${(error as Error).message}`);
        rmSync(path, { force: true });
        continue;
      }
      if (entry.state === "finished") {
        out.push({ owed: { id: entry.id, result: entry.result }, at: entry.result.startedAt });
        continue;
      }
      out.push({
        owed: {
          id: entry.id,
          result: {
            action: entry.action,
            ok: false,
            code: "R3_ERR_RESPONSE_INTERRUPTED",
            message: `the agent stopped while this command ran (started ${entry.startedAt}): it may have taken effect; check the host before sending it again`,
            startedAt: entry.startedAt,
            durationMs: 0,
          },
        },
        at: entry.startedAt,
      });
    }
    return out.sort((a, b) => a.at.localeCompare(b.at)).map((o) => o.owed);
  }

  private write(entry: JournalEntry): void {
    if (SAFE_ID.test(entry.id)) writePrivateFile(this.path(entry.id), JSON.stringify(entry));
  }

  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}
