import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import type { Event } from "@ring3/schema";
import { runAgentCommand } from "../src/agent-command.ts";
import { LinuxAgent } from "../src/agent.ts";
import type { SensorStatus } from "../src/sensor.ts";

test("without the native addon the agent degrades with a reason and still reports /proc inventory", async () => {
  const events: Event[] = [];
  const statuses: [string, SensorStatus][] = [];
  const agent = new LinuxAgent({
    addon: null,
    onEvent: (event) => events.push(event),
    onStatus: (sensor, status) => statuses.push([sensor, status]),
    pollIntervalMs: 50,
  });
  await agent.start();
  try {
    const degraded = statuses.filter(([, s]) => s.state === "degraded").map(([name]) => name);
    assert.deepEqual(degraded, ["process-connector", "audit", "fanotify", "sock-diag", "proc-inventory"]);
    const self = events.find((e) => e.logsource.category === "process_creation" && e.fields.ProcessId === process.pid);
    assert.ok(self !== undefined);
    assert.equal(self.fields.Image, process.execPath);
    assert.deepEqual(self.raw, { source: "proc-inventory" });
  } finally {
    await agent.stop();
  }
  assert.ok(statuses.some(([name, s]) => name === "proc-inventory" && s.state === "stopped"));
});

test("ring3 agent rejects unknown options (2) and config keys it does not know (3) before starting", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ring3-agent-config-"));
  try {
    writeFileSync(join(dir, "agent.yml"), "connector: true\naudti: false\n");
    const run = async (args: string[]): Promise<[number, string]> => {
      let err = "";
      const stderr = new Writable({ write: (chunk: Buffer, _enc, done) => ((err += chunk.toString()), done()) });
      const stdout = new Writable({ write: (_chunk, _enc, done) => done() });
      return [await runAgentCommand(args, { stdout, stderr, cwd: dir }), err];
    };
    const [usage, usageErr] = await run(["--bogus"]);
    assert.equal(usage, 2);
    assert.match(usageErr, /unknown option '--bogus'/);
    const [config, configErr] = await run(["--config", "agent.yml"]);
    assert.equal(config, 3);
    assert.match(configErr, /unknown key 'audti'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
