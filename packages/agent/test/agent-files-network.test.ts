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
    // The local end comes from the socket (still open when the record was read) or, once it is closed, from its
    // destroy notification: either way it is the port the kernel gave the client.
    assert.equal(connection.fields.Protocol, "tcp");
    assert.equal(connection.fields.SourceIp, "127.0.0.1");
    assert.equal(typeof connection.fields.SourcePort, "number");
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

/** An agent in this process with the audit and sock_diag sensors (no inventory, no file events), into `events`. */
function networkAgent(events: Event[]): LinuxAgent {
  return new LinuxAgent({
    onEvent: (event) => events.push(event),
    onStatus: () => undefined,
    emitInventory: false,
    fanotify: false,
  });
}

/** Runs `node -e code` to its end (exit 0 asserted) and returns it with what it printed. */
async function runNode(code: string): Promise<{ pid: number; printed: string }> {
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let printed = "";
  child.stdout.on("data", (d: Buffer) => (printed += d.toString()));
  assert.equal(await new Promise<number | null>((resolve) => child.on("exit", resolve)), 0);
  return { pid: child.pid!, printed };
}

test(
  "connect and accept → network_connection with Protocol and both ends; the close → ConnectionClosed with bytes",
  { skip },
  async () => {
    const before = await auditState();
    const events: Event[] = [];
    const agent = networkAgent(events);
    // Server and client are child processes: the agent (this process) is the audit daemon, and the kernel
    // does not audit the daemon's own calls. The server answers "1234567" to anything and closes; the client
    // holds its connection open for 300 ms (long enough for its socket to be read), then makes a connection it
    // closes at once and a UDP "connection", and prints the local ports the kernel chose.
    const serverCode = `const s=require("net").createServer((c)=>c.on("data",()=>c.end("1234567"))).listen(0,"127.0.0.1",()=>console.log(s.address().port)); setTimeout(()=>s.close(),5000)`;
    const clientCode = (port: number): string =>
      `const net=require("net"),out={};const a=net.connect(${port},"127.0.0.1",()=>{out.held=a.localPort;setTimeout(()=>a.write("hello"),300)});a.on("data",()=>{});a.on("close",()=>{const b=net.connect(${port},"127.0.0.1",()=>{out.brief=b.localPort;b.destroy()});b.on("close",()=>require("dgram").createSocket("udp4").connect(9,"127.0.0.1",function(){out.udp=this.address().port;this.close();console.log(JSON.stringify(out))}))})`;
    try {
      await agent.start();
      const server = spawn(process.execPath, ["-e", serverCode], { stdio: ["ignore", "pipe", "inherit"] });
      const port = Number(
        await new Promise<string>((resolve) => server.stdout.once("data", (d) => resolve(String(d)))),
      );
      const client = await runNode(clientCode(port));
      const ports = JSON.parse(client.printed) as { held: number; brief: number; udp: number };
      const outbound = (sourcePort: number): Event | undefined =>
        events.find(
          (e) =>
            e.logsource.category === "network_connection" &&
            e.fields.ProcessId === client.pid &&
            e.fields.SourcePort === sourcePort,
        );
      const held = await waitFor("the held connection", () => outbound(ports.held));
      assert.deepEqual(
        [
          held.fields.Initiated,
          held.fields.Protocol,
          held.fields.SourceIp,
          held.fields.DestinationIp,
          held.fields.DestinationPort,
        ],
        ["true", "tcp", "127.0.0.1", "127.0.0.1", port],
      );
      assert.equal((held.raw as { localFrom: string }).localFrom, "socket");
      // A socket closed at once is often gone before it can be read; its local end then comes from its sock_diag
      // destroy notification when that arrives within the tracker's wait, and the connection is reported without
      // it otherwise (a starved host can read the destroy late). Either way the connection itself is reported.
      const brief = await waitFor(
        "the brief connection",
        () =>
          outbound(ports.brief) ??
          events.find(
            (e) =>
              e.logsource.category === "network_connection" &&
              e.fields.ProcessId === client.pid &&
              e.fields.DestinationPort === port &&
              (e.raw as { localFrom: string }).localFrom === "unknown",
          ),
      );
      // Read from the socket while it lived, or from its destroy notification: the full tuple and Protocol.
      if (brief.fields.SourcePort === ports.brief) assert.equal(brief.fields.Protocol, "tcp");
      const udp = await waitFor("the UDP connection", () => outbound(ports.udp));
      assert.deepEqual([udp.fields.Protocol, udp.fields.DestinationPort], ["udp", 9]);
      // The server's accept4(fd, NULL, NULL) has no address in its audit record: the peer comes from the socket.
      const inbound = await waitFor("the accepted connection", () =>
        events.find(
          (e) =>
            e.logsource.category === "network_connection" &&
            e.fields.ProcessId === server.pid &&
            e.fields.SourcePort === ports.held,
        ),
      );
      assert.deepEqual(
        [
          inbound.fields.Initiated,
          inbound.fields.Protocol,
          inbound.fields.DestinationIp,
          inbound.fields.DestinationPort,
        ],
        ["false", "tcp", "127.0.0.1", port],
      );
      const closed = await waitFor("ConnectionClosed of the held connection", () =>
        events.find(
          (e) =>
            e.logsource.service === "ring3-network" &&
            e.fields.EventType === "ConnectionClosed" &&
            e.fields.ProcessId === client.pid &&
            e.fields.SourcePort === ports.held,
        ),
      );
      // "hello" sent; "1234567" and the server's FIN received (tcpi_bytes_received counts the FIN).
      assert.deepEqual([closed.fields.BytesSent, closed.fields.BytesReceived], [5, 8]);
      assert.ok((closed.fields.DurationMs as number) >= 250, `DurationMs ${JSON.stringify(closed.fields.DurationMs)}`);
      assert.equal(closed.fields.StartTime, held.time);
      assert.deepEqual([closed.fields.DestinationPort, closed.fields.Protocol], [port, "tcp"]);
      server.kill();
      const stats = agent.stats().connections;
      assert.ok(stats.fromSocket >= 2 && stats.closed >= 1, JSON.stringify(stats));
    } finally {
      await agent.stop();
    }
    assert.deepEqual(await auditState(), before);
  },
);

test(
  "a process that accepts, closes at once and connects again: its accepts keep the server's end (fd numbers reused, listener closed right after)",
  { skip },
  async () => {
    const before = await auditState();
    const events: Event[] = [];
    const agent = networkAgent(events);
    // One process is both ends, as a proxy or a test harness is: its server closes each accepted socket at
    // once, so the fd number accept4 returned is soon taken by one of its next client sockets. Audit has no
    // peer for libuv's accept4(fd, NULL, NULL); reading that fd later found the client socket, and the accept
    // was reported with the two ends swapped. The listener is closed right after the last accept, before the
    // agent reads those accepts: their server end is the listener's as read for the earlier ones.
    const code = `const net=require("net");let accepted=0;const s=net.createServer((c)=>{accepted++;c.destroy()}).listen(0,"127.0.0.1",async()=>{const port=s.address().port;for(let i=0;i<300;i++){await Promise.all(Array.from({length:5},()=>new Promise((r)=>{const c=net.connect(port,"127.0.0.1",()=>c.destroy());c.on("error",()=>{});c.on("close",r)})));await new Promise((r)=>setTimeout(r,10))}s.close();console.log(JSON.stringify({port,accepted}))})`;
    try {
      await agent.start();
      const child = await runNode(code);
      const { port, accepted } = JSON.parse(child.printed) as { port: number; accepted: number };
      const inbound = (): Event[] =>
        events.filter(
          (e) =>
            e.logsource.category === "network_connection" &&
            e.fields.ProcessId === child.pid &&
            e.fields.Initiated === "false",
        );
      await waitFor("every accept reported", () => (inbound().length >= accepted ? true : undefined));
      const wrong = inbound().filter((e) => e.fields.DestinationPort !== port);
      assert.deepEqual(
        wrong.map((e) => [e.fields.SourcePort, e.fields.DestinationPort]),
        [],
        `accepts reported with another end than the server's port ${port}`,
      );
      assert.equal(inbound().length, accepted);
    } finally {
      await agent.stop();
    }
    assert.deepEqual(await auditState(), before);
  },
);

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
