// The agent's control socket with hostile input: it answers a structured refusal, logs it, and keeps serving.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstatSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import type { ActionResult } from "@ring3/protocol";
import { ResponseControlServer, requestViaSocket } from "../src/response/control-socket.ts";
import { ResponseExecutor } from "../src/response/response-executor.ts";
import { tempStateDir } from "./response-harness.ts";

/** Writes raw bytes to the socket and returns what comes back before it closes. */
function raw(path: string, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let data = "";
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

test("control socket: garbage and oversized lines are refused as invalid, then a valid request is served", async () => {
  const state = tempStateDir();
  const path = join(state.dir, "respond.sock");
  const executor = new ResponseExecutor({ stateDir: state.dir });
  const server = new ResponseControlServer(executor, path);
  try {
    await server.listen();
    assert.equal(lstatSync(path).mode & 0o777, 0o600);
    const garbage = JSON.parse(await raw(path, "{not json\n")) as ActionResult;
    assert.equal(garbage.code, "R3_ERR_RESPONSE_INVALID");
    const huge = JSON.parse(await raw(path, "x".repeat(70_000))) as ActionResult;
    assert.equal(huge.code, "R3_ERR_RESPONSE_INVALID");
    const wrongShape = await requestViaSocket(path, { action: "quarantine", path: 42 }, 5000);
    assert.equal(wrongShape?.code, "R3_ERR_RESPONSE_INVALID");
    assert.match(wrongShape?.message ?? "", /invalid quarantine request: \/path must be string/);
    const listed = await requestViaSocket(path, { action: "list" }, 5000);
    assert.equal(listed?.ok, true);
    const origins = readFileSync(join(state.dir, "actions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { origin: string }).origin);
    assert.deepEqual(origins, ["local", "local", "local", "local"]);
  } finally {
    await server.close();
    state.cleanup();
  }
});

test("control socket: a stale socket file is replaced; a live one or a non-socket is not taken over", async () => {
  const state = tempStateDir();
  const path = join(state.dir, "respond.sock");
  const executor = new ResponseExecutor({ stateDir: state.dir });
  const first = new ResponseControlServer(executor, path);
  const second = new ResponseControlServer(executor, path);
  try {
    await first.listen();
    await assert.rejects(second.listen(), /another agent already answers/);
    await first.close();
    assert.equal(await requestViaSocket(path, { action: "list" }, 1000), undefined, "no socket: no agent");
    // A listener killed with SIGKILL leaves its socket file behind, with nobody on it.
    spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    assert.ok(lstatSync(path).isSocket());
    await second.listen();
    assert.equal((await requestViaSocket(path, { action: "list" }, 5000))?.ok, true);
    await second.close();
    writeFileSync(path, "not a socket");
    await assert.rejects(second.listen(), /exists and is not a socket/);
  } finally {
    await first.close();
    await second.close();
    state.cleanup();
  }
});
