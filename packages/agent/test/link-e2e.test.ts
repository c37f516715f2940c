import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConsoleApi, duplicates, waitUntil } from "./link-harness.ts";

/*
 * The exactly-once promise end to end, with real processes: the server (startServer in a process of its own),
 * and `ring3 agent` with its real sensors (root) enrolled to it. The server is killed with SIGKILL; the agent
 * keeps seeing processes; the agent is killed with SIGKILL and started again; the server comes back on the same
 * data dir. Every event the agent reported (its --stdout lines) must then be stored exactly once.
 *
 * Why stdout proves "produced": the agent appends an event to its spool before it writes the event's line, so a
 * printed event is in the spool (in the page cache, which a SIGKILL does not lose).
 */

const RING3 = join(import.meta.dirname, "..", "..", "cli", "bin", "ring3.js");
const SERVER = join(import.meta.dirname, "fixtures", "server-process.ts");

type Proc = {
  readonly child: ChildProcess;
  stderr(): string;
  readonly exited: Promise<number | null>;
};

function start(args: readonly string[], onLine: (line: string) => void, env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let err = "";
  let tail = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (tail + chunk.toString("utf8")).split("\n");
    tail = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  // "close", not "exit": the output is read to its end before the process counts as gone.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

async function kill(proc: Proc, signal: NodeJS.Signals): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill(signal);
  await proc.exited;
}

type ServerInfo = { url: string; port: number; ca: string; admin: { password: string } | null };

async function startServerProcess(dataDir: string, port: number): Promise<{ proc: Proc; info: ServerInfo }> {
  let info: ServerInfo | undefined;
  const proc = start([SERVER, dataDir, String(port)], (line) => {
    if (line.startsWith("{")) info = JSON.parse(line) as ServerInfo;
  });
  const ready = await waitUntil(
    "the server process",
    () => info ?? (proc.child.exitCode !== null ? null : undefined),
    30_000,
  );
  assert.ok(ready !== null, `the server process exited: ${proc.stderr()}`);
  return { proc, info: ready };
}

/** Marker processes: `sh -c 'sleep 0.3' <marker>` lives long enough for every sensor path to see its argv. */
async function runMarkers(prefix: string, from: number, to: number): Promise<void> {
  const children = [];
  for (let i = from; i < to; i++) {
    const child = spawn("/bin/sh", ["-c", "sleep 0.3", `${prefix}-${i}`], { stdio: "ignore" });
    children.push(new Promise((resolve) => child.once("exit", resolve)));
  }
  await Promise.all(children);
}

test(
  "end to end: server killed, agent killed -9 and restarted, server back: every event the agent saw is stored exactly once",
  { timeout: 300_000 },
  async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip("needs root: the agent's process sensors (connector, audit) are what this test exercises");
      return;
    }
    const root = mkdtempSync(join(tmpdir(), "ring3-e2e-"));
    const procs: Proc[] = [];
    t.after(async () => {
      for (const p of procs) await kill(p, "SIGTERM");
      rmSync(root, { recursive: true, force: true });
    });
    const serverDir = join(root, "server");
    const stateDir = join(root, "agent");
    const config = join(root, "agent.yaml");
    // fanotify off: file events of the whole machine (other builds, journald) would only add volume here.
    writeFileSync(config, "fanotify: false\nhealthIntervalMs: 2000\n");
    const runId = `ring3-e2e-${process.pid}-${Date.now()}`;

    // Everything each agent life printed, and the marker events among it.
    const printed = new Map<string, { commandLine: string }>();
    const markersSeen = new Set<string>();
    const onAgentLine = (line: string): void => {
      if (!line.startsWith("{")) return;
      const record = JSON.parse(line) as {
        id?: string;
        fields?: { CommandLine?: unknown };
        alert?: boolean;
        health?: unknown;
      };
      if (record.alert === true || record.health !== undefined || record.id === undefined) return;
      const commandLine = typeof record.fields?.CommandLine === "string" ? record.fields.CommandLine : "";
      printed.set(record.id, { commandLine });
      const marker = new RegExp(`${runId}-(\\d+)`).exec(commandLine);
      if (marker !== null) markersSeen.add(marker[1]!);
    };
    const waitMarkers = (from: number, to: number): Promise<true> =>
      waitUntil(
        `the agent to report markers ${from}..${to - 1}`,
        () => {
          for (let i = from; i < to; i++) if (!markersSeen.has(String(i))) return undefined;
          return true as const;
        },
        30_000,
      );
    // Quiet for a moment: the marker processes' exit events are printed too before the next step kills something.
    const settle = async (): Promise<void> => {
      let last = -1;
      await waitUntil(
        "the agent's output to settle",
        async () => {
          const now = [...printed.values()].filter((p) => p.commandLine.includes(runId)).length;
          if (now === last) return true;
          last = now;
          await new Promise((resolve) => setTimeout(resolve, 1000));
          return undefined;
        },
        30_000,
      );
    };
    const agentArgs = [RING3, "agent", "--config", config, "--stdout", "--server", "", "--state-dir", stateDir];

    // 1. Server and agent up.
    let server = await startServerProcess(serverDir, 0);
    procs.push(server.proc);
    const { url, port, ca } = server.info;
    const password = server.info.admin?.password;
    assert.ok(password !== undefined);
    const caPem = readFileSync(ca, "utf8");
    let api = await ConsoleApi.login(url, password, caPem);
    const token = await api.enrollmentToken();
    api.close();
    agentArgs[6] = url;
    let agent = start([...agentArgs, "--ca", ca], onAgentLine, { RING3_ENROLL_TOKEN: token });
    procs.push(agent);
    await waitUntil(
      "the agent to connect",
      () => (agent.stderr().includes("link: connected") ? true : undefined),
      60_000,
    );
    await runMarkers(runId, 0, 20);
    await waitMarkers(0, 20);

    // 2. The server is killed; events keep coming and are spooled.
    await kill(server.proc, "SIGKILL");
    await runMarkers(runId, 20, 40);
    await waitMarkers(20, 40);
    await settle();

    // 3. The agent is killed with SIGKILL, and started again (no token: it reuses its credential).
    await kill(agent, "SIGKILL");
    agent = start(agentArgs, onAgentLine);
    procs.push(agent);
    await waitUntil(
      "the agent to run again",
      () => (agent.stderr().includes("running (pid") ? true : undefined),
      60_000,
    );
    await runMarkers(runId, 40, 60);
    await waitMarkers(40, 60);

    // 4. The server comes back on the same data dir and port.
    server = await startServerProcess(serverDir, port);
    procs.push(server.proc);
    assert.equal(server.info.admin, null, "same data: no new admin");
    api = await ConsoleApi.login(url, password, caPem);
    t.after(() => api.close());
    const hosts = await api.hosts();
    assert.equal(hosts.length, 1, "one host: the restarted agent did not enroll again");
    const hostId = hosts[0]!.id;

    // 5. Everything the agent printed reaches the server. First what it printed so far (the backlog of both
    // lives), then, after a clean stop (which flushes the spool), everything.
    const snapshot = [...printed.keys()];
    await waitUntil(
      "the backlog on the server",
      async () => {
        const have = new Set((await api.events(hostId)).map((e) => e.id));
        return snapshot.every((id) => have.has(id)) ? true : undefined;
      },
      120_000,
    );
    await kill(agent, "SIGTERM");
    const stored = await api.events(hostId);
    const storedIds = stored.map((e) => e.id);

    assert.deepEqual(duplicates(storedIds), [], "no event stored twice");
    const storedSet = new Set(storedIds);
    const missing = [...printed.keys()].filter((id) => !storedSet.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${printed.size} printed events never arrived`);

    const printedMarkerIds = [...printed].filter(([, p]) => p.commandLine.includes(runId)).map(([id]) => id);
    const finalMarkers = await api.events(hostId, [{ field: "CommandLine", op: "contains", value: runId }]);
    assert.equal(finalMarkers.length, printedMarkerIds.length, "marker events stored == marker events produced");
    assert.deepEqual(new Set(finalMarkers.map((e) => e.id)), new Set(printedMarkerIds));
    for (let i = 0; i < 60; i++) assert.ok(markersSeen.has(String(i)), `marker ${i}`);
    // Stored may exceed printed: events the first life had spooled but not yet written when SIGKILL came.
    t.diagnostic(
      `${printed.size} events printed by two agent lives, ${stored.length} stored (none twice), ${finalMarkers.length} marker events`,
    );
  },
);
