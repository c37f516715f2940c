import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ConnectorSequenceTracker,
  PROC_CN_MCAST_LISTEN,
  encodeMulticastOp,
  parseProcessConnectorDatagram,
} from "../src/sensors/process-connector/parse.ts";
import { CONNECTOR_DATAGRAMS_HEX } from "./captured-records.ts";

const events = CONNECTOR_DATAGRAMS_HEX.flatMap((hex) => parseProcessConnectorDatagram(Buffer.from(hex, "hex")));

test("captured connector datagrams parse into thread fork, ack, fork, exec, exit", () => {
  assert.deepEqual(
    events.map((e) => e.kind),
    ["fork", "ack", "fork", "exec", "fork", "exec", "exit", "exit"],
  );
  const [thread, ack, forkSh, execSh, forkTrue, execTrue, exitTrue, exitSh] = events;
  // A new thread: child_pid is the thread id, child_tgid its process (node, 29738).
  assert.ok(thread?.kind === "fork" && thread.childPid === 29747 && thread.childTgid === 29738);
  assert.equal(ack?.kind === "ack" && ack.error, 0);
  assert.ok(forkSh?.kind === "fork" && execSh?.kind === "exec" && forkTrue?.kind === "fork");
  // node (29738) forked sh (29748), which exec'd and forked true (29749).
  assert.deepEqual([forkSh.parentTgid, forkSh.childPid, forkSh.childTgid, forkSh.cpu], [29738, 29748, 29748, 0]);
  assert.deepEqual([execSh.pid, execSh.tgid], [29748, 29748]);
  assert.deepEqual([forkTrue.parentTgid, forkTrue.childTgid], [29748, 29749]);
  assert.ok(execTrue?.kind === "exec" && execTrue.tgid === 29749);
  assert.ok(exitTrue?.kind === "exit" && exitSh?.kind === "exit");
  // exit_signal 17 is SIGCHLD, what a fork child reports to its parent.
  assert.deepEqual([exitTrue.pid, exitTrue.exitCode, exitTrue.exitSignal, exitTrue.parentTgid], [29749, 0, 17, 29748]);
  assert.equal(exitSh.parentTgid, 29738);
  assert.ok(execSh.timestampMs > forkSh.timestampMs);
  // timestamp_ns (the __u64 at 16 + 20 + 8 in each datagram: nlmsghdr, cn_msg, what and cpu) in milliseconds.
  const datagram = Buffer.from(CONNECTOR_DATAGRAMS_HEX[3]!, "hex");
  assert.equal(execSh.timestampMs, Number(datagram.readBigUInt64LE(44)) / 1e6);
});

test("per-CPU sequence numbers in the capture are contiguous", () => {
  const tracker = new ConnectorSequenceTracker();
  for (const e of events) tracker.observe(e.cpu, e.seq);
  assert.equal(tracker.lost, 0);
});

test("sequence gaps count per CPU; a lower sequence restarts without counting", () => {
  const tracker = new ConnectorSequenceTracker();
  tracker.observe(0, 10);
  tracker.observe(1, 500);
  assert.equal(tracker.observe(0, 11), 0);
  assert.equal(tracker.observe(0, 15), 3);
  assert.equal(tracker.observe(1, 501), 0);
  assert.equal(tracker.observe(1, 3), 0);
  assert.equal(tracker.observe(1, 5), 1);
  assert.equal(tracker.lost, 4);
});

test("the LISTEN request is an NLMSG_DONE message carrying cn_msg{CN_IDX_PROC, CN_VAL_PROC, len 4} + op", () => {
  const message = encodeMulticastOp(PROC_CN_MCAST_LISTEN);
  assert.equal(message.length, 16 + 20 + 4);
  assert.equal(message.readUInt32LE(0), message.length);
  assert.equal(message.readUInt16LE(4), 3);
  assert.deepEqual([message.readUInt32LE(16), message.readUInt32LE(20), message.readUInt16LE(32)], [1, 1, 4]);
  assert.equal(message.readUInt32LE(36), PROC_CN_MCAST_LISTEN);
});
