// `ring3 agent` with response wired in, as a real child process with a temporary --state-dir: `ring3 respond`
// reaches it over the control socket, and a rule's playbook kills the process that matched it.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadSocketsAddon } from "../src/native.ts";
import { startAgentProcess, waitFor } from "./agent-harness.ts";
import { alive, tempStateDir } from "./response-harness.ts";

const CLI = join(import.meta.dirname, "..", "..", "cli", "bin", "ring3.js");
const load = loadSocketsAddon();
const skip = process.getuid?.() !== 0 ? "needs root (process connector)" : load.ok ? false : load.reason;

function respond(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, "respond", ...args], { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test(
  "ring3 respond goes through the running agent; a playbook kills the process its rule matched",
  { skip },
  async () => {
    const state = tempStateDir("ring3-agent-response-");
    const stateDir = join(state.dir, "state");
    const rules = join(state.dir, "rules");
    mkdirSync(rules);
    const target = join(state.dir, "r3-playbook-target");
    copyFileSync("/bin/sleep", target);
    writeFileSync(
      join(rules, "playbook.yml"),
      `title: ring3 test playbook target started
id: 9d0f6a43-1c7e-4b8e-9a3f-0e5d2c6b7a18
status: experimental
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        Image|endswith: '/r3-playbook-target'
    condition: selection
level: high
ring3_response:
    - action: kill
`,
    );
    const config = join(state.dir, "agent.yaml");
    writeFileSync(
      config,
      "audit: false\nfanotify: false\nsockDiag: false\nemitInventory: false\nautomaticResponse: true\n",
    );
    const agent = await startAgentProcess([
      "--config",
      config,
      "--no-default-rules",
      "--rules",
      rules,
      "--state-dir",
      stateDir,
    ]);
    let victim: ChildProcess | undefined;
    try {
      assert.match(agent.stderr(), /response: ring3 respond answered on .*respond\.sock/);
      assert.match(agent.stderr(), /automatic responses ON \(1 rules with a playbook/);

      const listed = respond(["list", "--state-dir", stateDir]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stderr, /done by the running agent/);

      victim = spawn(target, ["300"], { stdio: "ignore" });

      await waitFor(
        "the playbook to kill the matching process",
        () =>
          agent.stderr().includes("playbook of rule 9d0f6a43-1c7e-4b8e-9a3f-0e5d2c6b7a18: kill ok") ? true : undefined,
        10_000,
      );
      assert.deepEqual(await alive([victim.pid!]), []);
      const log = readFileSync(join(stateDir, "actions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { origin: string; result: { action: string; ok: boolean } });
      assert.deepEqual(
        log.map((e) => [e.origin, e.result.action, e.result.ok]),
        [
          ["local", "list", true],
          ["playbook", "kill", true],
        ],
      );
    } finally {
      victim?.kill("SIGKILL");
      const exit = await agent.stop();
      state.cleanup();
      assert.equal(exit, 0, agent.stderr());
    }
  },
);
