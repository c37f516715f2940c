import assert from "node:assert/strict";
import { test } from "node:test";
import type { Host } from "@ring3/protocol";
import { degradedSensors, hostsHref, totalDropped } from "../src/host-health.ts";

const HOST: Host = {
  id: "h1",
  hostname: "web-1",
  machineId: "m1",
  os: "linux",
  agentVersion: "0.1.0",
  enrolledAt: "2026-03-01T12:00:00.000Z",
  lastSeen: "2026-03-01T12:05:00.000Z",
  state: "online",
  health: "online",
  isolated: false,
  sensors: { "process-connector": { state: "started" }, audit: { state: "started" } },
  queueDepth: 0,
  dropped: {},
  openAlerts: 0,
};

test("a host's sensors that are not running as asked", () => {
  assert.deepEqual(degradedSensors(HOST), []);
  const sensors = {
    ...HOST.sensors,
    audit: { state: "degraded" as const, reason: "backlog" },
    fanotify: { state: "stopped" as const },
  };
  assert.deepEqual(degradedSensors({ ...HOST, sensors }), ["audit", "fanotify"]);
});

test("the host list's filter is a link: hostname text and every health chosen", () => {
  assert.equal(hostsHref({ q: "", health: [] }), "#/hosts");
  assert.equal(hostsHref({ q: "", health: ["degraded"] }), "#/hosts?health=degraded");
  assert.equal(
    hostsHref({ q: "web 1&x", health: ["degraded", "silent"] }),
    "#/hosts?q=web+1%26x&health=degraded&health=silent",
  );
});

test("dropped events add up over every cause", () => {
  assert.equal(totalDropped(HOST), 0);
  assert.equal(totalDropped({ ...HOST, dropped: { spoolFull: 12, oversized: 1, connectorOverrun: 30 } }), 43);
});
