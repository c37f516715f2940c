// Runs the real fanotify, audit and sock_diag sensors: needs root and the native addon. Every test works in a
// directory it creates (mkdtemp under /tmp, which must be on a filesystem the agent marks), starts its own
// loopback server on an ephemeral port, and checks the audit state is as it found it.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import type { Event } from "@ring3/schema";
import { LinuxAgent } from "../src/agent.ts";
import { loadSocketsAddon } from "../src/native.ts";
import { parseMountInfo, planFilesystemMarks } from "../src/sensors/fanotify/mountinfo.ts";
import { readAuditSnapshot } from "../src/sensors/audit/source.ts";
import { startAgentProcess, waitFor } from "./agent-harness.ts";

const load = loadSocketsAddon();

/** /tmp when its filesystem is one the agent marks, else /var/tmp (tmpfs without fsid support, overlay…). */
function scratchParent(): string {
  const mounts = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
  const marked = new Set(planFilesystemMarks(mounts).mark.map((m) => m.device));
  // The longest mount point containing /tmp is the filesystem /tmp is on.
  const tmp = mounts
    .filter((m) => m.mountPoint === "/" || m.mountPoint === "/tmp" || "/tmp".startsWith(`${m.mountPoint}/`))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  return tmp !== undefined && marked.has(tmp.device) ? "/tmp" : "/var/tmp";
}

const skip = process.getuid?.() !== 0 ? "needs root (fanotify, audit, sock_diag)" : load.ok ? false : load.reason;

async function auditState(): Promise<unknown> {
  if (!load.ok) throw new Error(load.reason);
  const { status, rules } = await readAuditSnapshot(load.addon);
  return { enabled: status.enabled, pid: status.pid, backlogLimit: status.backlogLimit, rules: [...rules].sort() };
}

test(
  "create, rename, delete under a temp dir → file_event, file_rename, file_delete by the right processes",
  { skip },
  async () => {
    const before = await auditState();
    const dir = mkdtempSync(join(scratchParent(), "ring3-files-"));
    const events: Event[] = [];
    const statuses: string[] = [];
    const agent = new LinuxAgent({
      onEvent: (event) => events.push(event),
      onStatus: (sensor, status) => statuses.push(`${sensor}:${status.state}`),
      emitInventory: false,
      sockDiag: false,
      fileInclude: [dir],
    });
    try {
      await agent.start();
      assert.ok(statuses.includes("fanotify:started"), statuses.join(" "));
      // sh creates (redirection is the shell's own open), mv renames, rm deletes: three processes.
      const script = `echo hello > ${dir}/a.txt && /bin/mv ${dir}/a.txt ${dir}/b.txt && /bin/rm ${dir}/b.txt`;
      const child = spawnSync("/bin/sh", ["-c", script]);
      assert.equal(child.status, 0);
      const created = await waitFor("file_event for a.txt", () =>
        events.find((e) => e.logsource.category === "file_event" && e.fields.TargetFilename === `${dir}/a.txt`),
      );
      assert.equal(created.fields.ProcessId, child.pid);
      assert.equal(created.fields.Image, "/usr/bin/dash");
      assert.equal(created.fields.User, "root");
      assert.equal(created.fields.ParentProcessId, process.pid);
      const renamed = await waitFor("file_rename a.txt → b.txt", () =>
        events.find((e) => e.logsource.category === "file_rename" && e.fields.TargetFilename === `${dir}/b.txt`),
      );
      assert.equal(renamed.fields.SourceFilename, `${dir}/a.txt`);
      assert.equal(renamed.fields.Image, "/usr/bin/mv");
      assert.equal(renamed.fields.ParentProcessId, child.pid);
      const ancestry = (renamed.raw as { ancestry: { pid: number }[] }).ancestry.map((p) => p.pid);
      assert.ok(ancestry.includes(process.pid), `ancestry ${ancestry.join(" → ")} lacks the test process`);
      const deleted = await waitFor("file_delete b.txt", () =>
        events.find((e) => e.logsource.category === "file_delete" && e.fields.TargetFilename === `${dir}/b.txt`),
      );
      assert.equal(deleted.fields.Image, "/usr/bin/rm");
      // The close after sh wrote the new file is folded into its creation: one file_event for a.txt.
      assert.equal(
        events.filter((e) => e.fields.TargetFilename === `${dir}/a.txt` && e.logsource.category === "file_event")
          .length,
        1,
      );
      // Writing an existing file reports it again, with its hash.
      writeFileSync(join(dir, "c.txt"), "x");
      spawnSync("/bin/sh", ["-c", `echo more >> ${dir}/c.txt`]);
      const written = await waitFor("file_event for the rewrite of c.txt", () =>
        events.find((e) => e.fields.TargetFilename === `${dir}/c.txt` && e.fields.Hashes !== undefined),
      );
      assert.match(written.fields.Hashes as string, /^SHA256=[0-9A-F]{64}$/);
      // Files outside fileInclude and the test process's own writes (it is not the agent) were filtered correctly.
      assert.ok(
        !events.some((e) => typeof e.fields.TargetFilename === "string" && !e.fields.TargetFilename.startsWith(dir)),
      );
      const health = agent.checkHealth();
      assert.equal((health.sensors.fanotify as { overflows: number }).overflows, 0);
    } finally {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(statuses.includes("fanotify:stopped"));
    assert.deepEqual(await auditState(), before);
  },
);

test("a loopback TCP connect → network_connection with the connecting pid and DestinationPort", { skip }, async () => {
  const before = await auditState();
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const events: Event[] = [];
  const statuses: string[] = [];
  const agent = new LinuxAgent({
    onEvent: (event) => events.push(event),
    onStatus: (sensor, status) => statuses.push(`${sensor}:${status.state}`),
    emitInventory: false,
    fanotify: false,
  });
  try {
    await agent.start();
    assert.ok(statuses.includes("audit:started") && statuses.includes("sock-diag:started"), statuses.join(" "));
    const code = `require("net").connect(${port}, "127.0.0.1", function () { this.end(); })`;
    const child = spawn(process.execPath, ["-e", code], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const connection = await waitFor("network_connection to the test server", () =>
      events.find(
        (e) =>
          e.logsource.category === "network_connection" &&
          e.fields.DestinationPort === port &&
          e.fields.ProcessId === child.pid,
      ),
    );
    assert.equal(await exited, 0);
    assert.equal(connection.fields.DestinationIp, "127.0.0.1");
    assert.equal(connection.fields.Initiated, "true");
    assert.equal(connection.fields.Image, process.execPath);
    assert.equal(connection.fields.User, "root");
    assert.equal(connection.fields.ParentProcessId, process.pid);
    // The connection's close reaches sock_diag as a TCP destroy notification.
    await waitFor("TCP destroy notifications", () =>
      (agent.stats().sockDiag?.destroyed ?? 0) >= 1 ? true : undefined,
    );
    // The first dump inventoried the test server's listener.
    await waitFor("the listener in the inventory", () =>
      (agent.stats().sockDiag?.listeners ?? 0) > 0 ? true : undefined,
    );
  } finally {
    await agent.stop();
    server.close();
  }
  assert.deepEqual(await auditState(), before);
});

test(
  "ring3 agent --stdout: the shipped authorized_keys rule fires on a write under a temp dir; health lines print",
  { skip },
  async () => {
    const before = await auditState();
    const dir = mkdtempSync(join(scratchParent(), "ring3-rule-"));
    const config = join(dir, "agent.yml");
    writeFileSync(config, `healthIntervalMs: 300\nsockDiag: false\nfileInclude: [${dir}]\n`);
    const agent = await startAgentProcess(["--stdout", "--config", config]);
    try {
      const keys = join(dir, "home", ".ssh", "authorized_keys");
      mkdirSync(join(dir, "home", ".ssh"), { recursive: true });
      const writer = spawnSync("/bin/sh", ["-c", `echo 'ssh-ed25519 AAAA test' > ${keys}`]);
      const alert = await waitFor("the authorized_keys alert", () =>
        agent.lines().find((line) => line.alert === true && (line.event as Event).fields.TargetFilename === keys),
      );
      assert.equal((alert.rule as { title: string }).title, "SSH authorized_keys File Written");
      assert.equal((alert.event as Event).fields.ProcessId, writer.pid);
      assert.ok((alert.ancestry as { pid: number }[]).some((p) => p.pid === process.pid));
      const health = await waitFor("a health line", () => agent.lines().find((line) => line.health !== undefined));
      const sensors = (health.health as { sensors: Record<string, Record<string, unknown>> }).sensors;
      assert.equal(sensors.fanotify?.overflows, 0);
      assert.equal(typeof sensors.audit?.kernelLost, "number");
    } finally {
      assert.equal(await agent.stop(), 0, agent.stderr());
      rmSync(dir, { recursive: true, force: true });
    }
    const stderr = agent.stderr();
    assert.match(stderr, /fanotify: started: filesystem marks on \//);
    assert.match(stderr, /fanotify: stopped/);
    assert.deepEqual(await auditState(), before);
  },
);

test(
  "a flood while JavaScript is blocked is counted as loss and raises SensorLoss events, never silently",
  { skip },
  async () => {
    const before = await auditState();
    const dir = mkdtempSync(join(scratchParent(), "ring3-flood-"));
    const events: Event[] = [];
    const agent = new LinuxAgent({
      onEvent: (event) => events.push(event),
      onStatus: () => undefined,
      emitInventory: false,
      sockDiag: false,
      fileInclude: [dir],
      healthIntervalMs: 60_000,
    });
    try {
      await agent.start();
      // spawnSync blocks this event loop while 25,000 files are created and closed: more events than the addon's
      // ring (16,384) holds, so the reader thread drops and counts the rest.
      const flood = spawnSync("/bin/sh", ["-c", `cd ${dir} && seq 1 25000 | xargs touch`]);
      assert.equal(flood.status, 0);
      // fanotify merges queued events (a create and the close of the same file become one), so how many events
      // the flood makes is not known in advance: a file created once the ring is drained marks the end of it.
      await waitFor("the addon's ring to drain", () => (agent.stats().fanotify?.queued === 0 ? true : undefined));
      const sentinel = spawn("/usr/bin/touch", [join(dir, "sentinel")]);
      await new Promise((resolve) => sentinel.on("exit", resolve));
      await waitFor("the sentinel's file_event", () =>
        events.some((e) => e.fields.TargetFilename === join(dir, "sentinel")) ? true : undefined,
      );
      const health = agent.checkHealth();
      const losses = events.filter((e) => e.fields.EventType === "SensorLoss");
      const counters = losses.map((e) => `${e.fields.Sensor as string}.${e.fields.Counter as string}`);
      assert.ok(counters.includes("fanotify.ringDrops") || counters.includes("fanotify.overflows"), counters.join(" "));
      const stats = health.sensors.fanotify as { ringDrops: number; overflows: number; unresolved: number };
      assert.equal(
        losses.filter((e) => e.fields.Sensor === "fanotify").reduce((n, e) => n + (e.fields.Lost as number), 0),
        stats.ringDrops + stats.overflows + stats.unresolved,
      );
      // A second check with no new loss raises nothing more.
      agent.checkHealth();
      assert.equal(events.filter((e) => e.fields.EventType === "SensorLoss").length, losses.length);
    } finally {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await auditState(), before);
  },
);
