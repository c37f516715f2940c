import assert from "node:assert/strict";
import { test } from "node:test";
import type { Event } from "@ring3/schema";
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
    assert.deepEqual(degraded, ["process-connector", "audit", "proc-inventory"]);
    const self = events.find((e) => e.logsource.category === "process_creation" && e.fields.ProcessId === process.pid);
    assert.ok(self !== undefined);
    assert.equal(self.fields.Image, process.execPath);
    assert.deepEqual(self.raw, { source: "proc-inventory" });
  } finally {
    await agent.stop();
  }
  assert.ok(statuses.some(([name, s]) => name === "proc-inventory" && s.state === "stopped"));
});
