// The addon itself: bounded ring, counters, clean close. Needs root for the connector socket.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { loadSocketsAddon } from "../src/native.ts";
import {
  CN_IDX_PROC,
  PROC_CN_MCAST_IGNORE,
  PROC_CN_MCAST_LISTEN,
  encodeMulticastOp,
} from "../src/sensors/process-connector/parse.ts";

const load = loadSocketsAddon();
const skip =
  process.getuid?.() !== 0 ? "needs root (CAP_NET_ADMIN for the process connector)" : load.ok ? false : load.reason;

test("a full ring drops and counts datagrams while JavaScript is busy; close joins the reader", { skip }, async () => {
  if (!load.ok) return;
  const { addon } = load;
  const socket = addon.open({ protocol: 11, groups: CN_IDX_PROC, rcvbuf: 1 << 20, ringCapacity: 4 });
  const batches: number[] = [];
  addon.start(socket, (datagrams) => batches.push(datagrams.length));
  addon.send(socket, encodeMulticastOp(PROC_CN_MCAST_LISTEN));
  await new Promise((resolve) => setTimeout(resolve, 100));
  // spawnSync blocks the event loop: the reader thread keeps reading, the ring (4 slots) overflows.
  for (let i = 0; i < 20; i++) spawnSync("/bin/true");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const stats = addon.stats(socket);
  assert.ok(stats.ringDrops > 0, JSON.stringify(stats));
  assert.ok(batches.every((n) => n <= 4));
  const delivered = batches.reduce((a, b) => a + b, 0);
  assert.equal(delivered + stats.ringDrops + stats.queued, stats.received);
  assert.equal(stats.error, null);
  addon.send(socket, encodeMulticastOp(PROC_CN_MCAST_IGNORE));
  addon.close(socket);
  addon.close(socket); // twice is a no-op
  assert.throws(() => addon.send(socket, encodeMulticastOp(PROC_CN_MCAST_LISTEN)), /closed/);
  assert.ok(addon.stats(socket).received >= stats.received); // counters stay readable after close
});

test("open reports a bad protocol as an errno error instead of crashing", { skip }, () => {
  if (!load.ok) return;
  assert.throws(() => load.addon.open({ protocol: 9999 }), /socket\(AF_NETLINK\)/);
});
