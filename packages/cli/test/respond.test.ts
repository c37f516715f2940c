// `ring3 respond` in-process, against real processes and files, with a temporary --state-dir. The last test
// runs an agent-side control socket with an exec guard on a tmpfs this test mounts (root only).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ActionResult } from "@ring3/agent";
import { ResponseControlServer, ResponseExecutor } from "@ring3/agent";
import { runCli } from "./cli-harness.ts";

function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "ring3-respond-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The pid runs (exists and is not a zombie). */
function procAlive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

test("usage errors exit 2 and name the problem", async () => {
  const cases: [string[], RegExp][] = [
    [["respond"], /an action is needed/],
    [["respond", "explode"], /unknown action 'explode'/],
    [["respond", "kill", "abc"], /kill needs one pid/],
    [["respond", "kill", "1", "2"], /kill needs one pid/],
    [["respond", "isolate"], /at least one --allow/],
    [["respond", "block", "xyz"], /64 hex digits/],
    [["respond", "restore", "id", "--tree"], /restore does not take --tree/],
    [["respond", "kill", "5", "--bogus"], /unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runCli(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, message, args.join(" "));
  }
  const help = await runCli(["respond", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /ring3 respond <action>/);
  assert.match((await runCli(["--help"])).stdout, /respond\s+response actions/);
});

test("kill --tree, quarantine (prints the id), restore, list — each recorded in the action log", async () => {
  const { dir, cleanup } = tempDir();
  const stateDir = join(dir, "state");
  const child = spawn("/bin/sh", ["-c", "sleep 300 & sleep 300 & wait"], { stdio: "ignore" });
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const killed = await runCli(["respond", "kill", String(child.pid), "--tree", "--json", "--state-dir", stateDir]);
    assert.equal(killed.code, 0, killed.stdout + killed.stderr);
    const result = JSON.parse(killed.stdout) as ActionResult;
    assert.equal(result.ok, true);
    assert.equal((result.details?.killed as number[]).length, 3);
    assert.equal(procAlive(child.pid!), false);

    const file = join(dir, "evil.sh");
    writeFileSync(file, "#!/bin/sh\necho pwned\n", { mode: 0o755 });
    const quarantined = await runCli(["respond", "quarantine", file, "--state-dir", stateDir]);
    assert.equal(quarantined.code, 0, quarantined.stdout + quarantined.stderr);
    const id = /^ {2}id: ([0-9a-f]{16})$/m.exec(quarantined.stdout)?.[1];
    assert.ok(id !== undefined, quarantined.stdout);
    assert.equal(existsSync(file), false);

    const listed = await runCli(["respond", "list", "--state-dir", stateDir]);
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, new RegExp(`^ {4}${id} {2}${file.replaceAll(".", "\\.")} `, "m"));
    assert.match(listed.stdout, /isolation: not isolated/);

    const restored = await runCli(["respond", "restore", id, "--state-dir", stateDir]);
    assert.equal(restored.code, 0, restored.stdout);
    assert.equal(readFileSync(file, "utf8"), "#!/bin/sh\necho pwned\n");

    const refused = await runCli(["respond", "kill", "1", "--state-dir", stateDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /R3_ERR_RESPONSE_PROTECTED/);

    const log = readFileSync(join(stateDir, "actions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { origin: string; result: ActionResult });
    assert.deepEqual(
      log.map((e) => [e.origin, e.result.action, e.result.ok]),
      [
        ["local", "kill", true],
        ["local", "quarantine", true],
        ["local", "list", true],
        ["local", "restore", true],
        ["local", "kill", false],
      ],
    );
  } finally {
    child.kill("SIGKILL");
    cleanup();
  }
});

test("block with no agent running is recorded, not claimed as enforced", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const hash = "ab".repeat(32);
    const blocked = await runCli(["respond", "block", hash, "--json", "--state-dir", dir]);
    assert.equal(blocked.code, 0);
    const result = JSON.parse(blocked.stdout) as ActionResult;
    assert.equal(result.details?.enforced, false);
    assert.match(result.message, /no agent is running/);
    const state = JSON.parse(readFileSync(join(dir, "blocklist.json"), "utf8")) as { hashes: { sha256: string }[] };
    assert.deepEqual(
      state.hashes.map((h) => h.sha256),
      [hash],
    );
  } finally {
    cleanup();
  }
});

const guardSkip = process.getuid?.() !== 0 ? "needs root (fanotify permission events, mount)" : false;

test(
  "with an agent answering on the control socket, block is enforced by it and unblock lifts it",
  { skip: guardSkip },
  async () => {
    const { dir, cleanup } = tempDir();
    const mnt = join(dir, "mnt");
    mkdirSync(mnt);
    assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "ring3-test", mnt]).status, 0);
    const stateDir = join(dir, "state");
    mkdirSync(stateDir);
    const executor = new ResponseExecutor({
      stateDir,
      execMarks: [{ path: mnt, filesystem: false }],
      memfdNoexec: false,
    });
    const server = new ResponseControlServer(executor, join(stateDir, "respond.sock"));
    try {
      await server.listen();
      const binary = join(mnt, "payload");
      copyFileSync("/bin/true", binary);
      const hash = createHash("sha256").update(readFileSync(binary)).digest("hex");
      const blocked = await runCli(["respond", "block", hash, "--state-dir", stateDir]);
      assert.equal(blocked.code, 0, blocked.stdout + blocked.stderr);
      assert.match(blocked.stderr, /done by the running agent/);
      assert.match(blocked.stdout, /enforced: true/);
      const denied: NodeJS.ErrnoException | undefined = spawnSync(binary).error;
      assert.equal(denied?.code, "EPERM");
      const unblocked = await runCli(["respond", "unblock", hash, "--state-dir", stateDir]);
      assert.equal(unblocked.code, 0, unblocked.stdout);
      assert.equal(spawnSync(binary).status, 0);
      const log = readFileSync(join(stateDir, "actions.jsonl"), "utf8").trim().split("\n");
      assert.equal(log.length, 2, "one log, written by the agent");
    } finally {
      await server.close();
      await executor.stop();
      spawnSync("umount", ["-l", mnt]);
      cleanup();
    }
  },
);
