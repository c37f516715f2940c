// Runs the real sensors: needs root (CAP_NET_ADMIN for the connector, CAP_AUDIT_CONTROL for audit) and the
// native addon. Every test restores the audit state and is checked against a snapshot taken before it.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Event } from "@ring3/schema";
import { LinuxAgent } from "../src/agent.ts";
import { loadSocketsAddon } from "../src/native.ts";
import type { AuditSnapshot } from "../src/sensors/audit/source.ts";
import { readAuditSnapshot } from "../src/sensors/audit/source.ts";
import { startAgentProcess, waitFor } from "./agent-harness.ts";

const MARKER_COMMAND = "/bin/echo ring3-test-marker abc";
const load = loadSocketsAddon();
const skip = process.getuid?.() !== 0 ? "needs root (netlink connector and audit)" : load.ok ? false : load.reason;

function comparable(snapshot: AuditSnapshot): unknown {
  const { enabled, failure, pid, rateLimit, backlogLimit, backlogWaitTime } = snapshot.status;
  return { enabled, failure, pid, rateLimit, backlogLimit, backlogWaitTime, rules: [...snapshot.rules].sort() };
}

async function snapshot(): Promise<unknown> {
  if (!load.ok) throw new Error(load.reason);
  return comparable(await readAuditSnapshot(load.addon));
}

function runMarker(): void {
  const result = spawnSync("/bin/sh", ["-c", `sleep 0.2; ${MARKER_COMMAND}`], { encoding: "utf8" });
  assert.equal(result.stdout, "ring3-test-marker abc\n");
}

test(
  "connector + audit: the marker exec becomes process_creation with its parent chain; audit state restored",
  { skip },
  async () => {
    const before = await snapshot();
    const events: Event[] = [];
    const statuses: string[] = [];
    const agent = new LinuxAgent({
      onEvent: (event) => events.push(event),
      onStatus: (sensor, status) => statuses.push(`${sensor}:${status.state}`),
      emitInventory: false,
    });
    try {
      await agent.start();
      assert.ok(statuses.includes("process-connector:started"), statuses.join(" "));
      assert.ok(statuses.includes("audit:started"), statuses.join(" "));
      runMarker();
      const creation = await waitFor("the marker's process_creation", () =>
        events.find((e) => e.logsource.category === "process_creation" && e.fields.CommandLine === MARKER_COMMAND),
      );
      assert.equal(creation.fields.Image, "/usr/bin/echo");
      const sha256 = createHash("sha256").update(readFileSync("/usr/bin/echo")).digest("hex").toUpperCase();
      assert.equal(creation.fields.Hashes, `SHA256=${sha256}`);
      assert.equal(creation.fields.User, "root");
      assert.equal(creation.fields.CurrentDirectory, process.cwd());
      const pid = creation.fields.ProcessId as number;
      // dash either forks echo (parent: the sh) or execs it in place (parent: this process).
      const chain = agent.tree.ancestry(pid).map((p) => p.pid);
      assert.ok(chain.includes(process.pid), `ancestry ${chain.join(" → ")} lacks the test process ${process.pid}`);
      if (creation.fields.ParentProcessId !== process.pid) {
        assert.equal(creation.fields.ParentImage, "/usr/bin/dash");
        assert.match(creation.fields.ParentCommandLine as string, /ring3-test-marker/);
      }
      const audit = events.find(
        (e) => e.logsource.service === "auditd" && (e.raw as string[]).some((l) => l.includes(`pid=${pid} `)),
      );
      assert.ok(audit !== undefined);
      assert.deepEqual(audit.fields.syscall, ["59", "execve"]);
      assert.equal(audit.fields.key, "ring3-exec");
      const termination = await waitFor("the marker's process_termination", () =>
        events.find((e) => e.logsource.category === "process_termination" && e.fields.ProcessId === pid),
      );
      // The connector reports echo's exit before audit delivers its execve: the termination waits for it and
      // names the image that exited, not the shell image the fork copied.
      assert.equal(termination.fields.Image, "/usr/bin/echo");
      // The same for 20 short processes started at once.
      const quick = Array.from({ length: 20 }, () => spawn("/bin/true", [], { stdio: "ignore" }));
      await Promise.all(quick.map((child) => new Promise((resolve) => child.on("exit", resolve))));
      const images = await waitFor("the 20 process_terminations", () => {
        const found = quick.map(
          (child) =>
            events.find((e) => e.logsource.category === "process_termination" && e.fields.ProcessId === child.pid)
              ?.fields.Image,
        );
        return found.every((image) => image !== undefined) ? found : undefined;
      });
      assert.deepEqual(new Set(images), new Set(["/usr/bin/true"]));
    } finally {
      await agent.stop();
    }
    assert.ok(statuses.includes("audit:stopped"));
    assert.deepEqual(await snapshot(), before);
  },
);

test("ring3 agent --stdout prints events and fires a rule from --rules, then stops on SIGTERM", { skip }, async () => {
  const before = await snapshot();
  const rules = mkdtempSync(join(tmpdir(), "ring3-agent-rules-"));
  writeFileSync(
    join(rules, "marker.yml"),
    [
      "title: ring3 agent test marker",
      "id: 6f1d0a52-2b7e-4c39-9a51-3f0e8c2d7b11",
      "status: test",
      "logsource:",
      "  product: linux",
      "  category: process_creation",
      "detection:",
      "  selection:",
      "    CommandLine|contains: ring3-test-marker",
      "  condition: selection",
      "level: high",
      "",
    ].join("\n"),
  );
  const agent = await startAgentProcess(["--stdout", "--no-default-rules", "--rules", rules]);
  try {
    runMarker();
    const alert = await waitFor("the alert", () =>
      agent.lines().find((line) => line.alert === true && (line.event as Event).fields.CommandLine === MARKER_COMMAND),
    );
    assert.equal((alert.rule as { title: string }).title, "ring3 agent test marker");
    assert.ok((alert.ancestry as { pid: number }[]).some((p) => p.pid === process.pid));
    // When the engine matched, after the exec the kernel stamped (the stamp has millisecond resolution).
    const detected = Date.parse(alert.detectedAt as string);
    assert.ok(detected >= Date.parse((alert.event as Event).time), `${String(alert.detectedAt)}`);
    assert.ok(detected <= Date.now());
    assert.ok(agent.stdout().includes('"category":"process_creation"'));
    assert.ok(agent.stdout().includes('"service":"auditd"'));
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr());
    rmSync(rules, { recursive: true, force: true });
  }
  const stderr = agent.stderr();
  assert.match(stderr, /audit: stopped: .*audit state restored/);
  assert.match(stderr, /process-connector: stopped/);
  assert.deepEqual(await snapshot(), before);
});
