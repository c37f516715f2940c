import assert from "node:assert/strict";
import { test } from "node:test";
import type { Host } from "@ring3/protocol";
import { degradedSensors, hostHealth, totalDropped } from "../src/host-health.ts";

const HOST: Host = {
  id: "h1",
  hostname: "web-1",
  machineId: "m1",
  os: "linux",
  agentVersion: "0.1.0",
  enrolledAt: "2026-03-01T12:00:00.000Z",
  lastSeen: "2026-03-01T12:05:00.000Z",
  state: "online",
  isolated: false,
  sensors: { "process-connector": { state: "started" }, audit: { state: "started" } },
  queueDepth: 0,
  dropped: {},
  openAlerts: 0,
};

test("a host's health: silent before isolated before degraded before online", () => {
  assert.equal(hostHealth(HOST), "online");
  const degraded = { ...HOST, sensors: { ...HOST.sensors, audit: { state: "degraded" as const, reason: "backlog" } } };
  assert.equal(hostHealth(degraded), "degraded");
  assert.deepEqual(degradedSensors(degraded), ["audit"]);
  assert.equal(hostHealth({ ...degraded, isolated: true }), "isolated");
  // Silence wins: an isolated host that stopped reporting may be a crashed or tampered agent.
  assert.equal(hostHealth({ ...degraded, isolated: true, state: "silent" }), "silent");
  assert.equal(hostHealth({ ...HOST, sensors: { audit: { state: "stopped" } } }), "degraded");
});

test("dropped events add up over every cause", () => {
  assert.equal(totalDropped(HOST), 0);
  assert.equal(totalDropped({ ...HOST, dropped: { spoolFull: 12, oversized: 1, connectorOverrun: 30 } }), 43);
});
