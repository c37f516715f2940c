// Pure: captured audit connect/accept records and sock_diag destroy notifications → network calls, parsed
// sockets, and the ConnectionTracker's pairing of the two.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConnectionAttempt, ConnectionEnd, ResolvedConnection } from "../src/connection-tracker.ts";
import { ConnectionTracker } from "../src/connection-tracker.ts";
import { splitNetlinkMessages } from "../src/netlink.ts";
import { auditNetworkCall } from "../src/sensors/audit/network-call.ts";
import type { AuditEvent } from "../src/sensors/audit/parse.ts";
import { AuditReassembler, parseAuditRecord, splitAuditDatagram } from "../src/sensors/audit/parse.ts";
import type { InetSocket } from "../src/sensors/sock-diag/parse.ts";
import { parseInetDiagMessage } from "../src/sensors/sock-diag/parse.ts";
import {
  AUDIT_ACCEPT4_NULL_ADDRESS_BASE64,
  AUDIT_SH_EXECVE_BASE64,
  AUDIT_TCP_CONNECT_BASE64,
  AUDIT_UDP_CONNECT_BASE64,
  SOCK_DIAG_TCP_CLIENT_DESTROY_HEX,
  SOCK_DIAG_TCP_SERVER_DESTROY_HEX,
  SOCK_DIAG_UDP_DESTROY_HEX,
} from "./captured-records.ts";

function auditEvent(base64: readonly string[]): AuditEvent {
  const reassembler = new AuditReassembler();
  const events = base64
    .flatMap((b) => splitAuditDatagram(Buffer.from(b, "base64")))
    .flatMap((m) => reassembler.push(parseAuditRecord(m.type, m.payload)!, 0));
  assert.equal(events.length, 1);
  return events[0]!;
}

function destroyed(hex: string): InetSocket {
  const [message] = splitNetlinkMessages(Buffer.from(hex, "hex"));
  const socket = parseInetDiagMessage(message!);
  assert.ok(socket !== undefined);
  return socket;
}

const client = destroyed(SOCK_DIAG_TCP_CLIENT_DESTROY_HEX);
const server = destroyed(SOCK_DIAG_TCP_SERVER_DESTROY_HEX);
const udp = destroyed(SOCK_DIAG_UDP_DESTROY_HEX);

test("audit connect/accept4 records → the call, its fd and the remote end audit knows", () => {
  assert.deepEqual(auditNetworkCall(auditEvent(AUDIT_TCP_CONNECT_BASE64)), {
    name: "connect",
    pid: 15510,
    fd: 21,
    listenerFd: undefined,
    remote: { ip: "127.0.0.1", port: 45619 },
    exit: "-115",
    exe: "/work/main/node_modules/node/bin/node",
    uid: 0,
  });
  // accept4(listen fd, NULL, NULL): no SOCKADDR, so no peer; the new socket is the exit value.
  const accept = auditNetworkCall(auditEvent(AUDIT_ACCEPT4_NULL_ADDRESS_BASE64));
  assert.deepEqual(accept && [accept.name, accept.pid, accept.fd, accept.listenerFd, accept.remote], [
    "accept4",
    15503,
    22,
    21,
    undefined,
  ]);
  const udpConnect = auditNetworkCall(auditEvent(AUDIT_UDP_CONNECT_BASE64));
  assert.deepEqual(udpConnect && [udpConnect.fd, udpConnect.remote, udpConnect.exit], [
    21,
    { ip: "127.0.0.1", port: 53 },
    "0",
  ]);
  assert.equal(auditNetworkCall(auditEvent(AUDIT_SH_EXECVE_BASE64)), undefined);
});

test("destroy notifications carry the protocol and, for TCP, the final byte counters", () => {
  assert.deepEqual(
    [client.state, client.protocol, client.sourcePort, client.destinationPort, client.cookie, client.inode],
    ["CLOSE", 6, 40232, 45619, "a2ea000000000000", 0],
  );
  // The client sent "hello" and received "1234567" and the server's FIN (bytes_received counts it).
  assert.deepEqual(client.tcpInfo, { bytesSent: 5, bytesReceived: 8, segmentsOut: 5, segmentsIn: 5 });
  assert.deepEqual(
    [server.sourcePort, server.destinationPort, server.tcpInfo?.bytesSent, server.tcpInfo?.bytesReceived],
    [45619, 40232, 7, 6],
  );
  assert.deepEqual(
    [udp.state, udp.protocol, udp.sourcePort, udp.destinationPort, udp.tcpInfo],
    ["ESTABLISHED", 17, 43901, 53, undefined],
  );
});

type Seen = { connections: ResolvedConnection<string>[]; closed: [ResolvedConnection<string>, ConnectionEnd][] };

function tracker(waitMs = 50, maxWaitMs = 2000): { tracker: ConnectionTracker<string>; seen: Seen } {
  const seen: Seen = { connections: [], closed: [] };
  return {
    seen,
    tracker: new ConnectionTracker<string>({
      onConnection: (c) => seen.connections.push(c),
      onClosed: (c, end) => seen.closed.push([c, end]),
      waitMs,
      maxWaitMs,
    }),
  };
}

const connect = (over: Partial<ConnectionAttempt<string>> = {}): ConnectionAttempt<string> => ({
  pid: 15510,
  timeMs: 1000,
  initiated: true,
  protocol: undefined,
  local: undefined,
  remote: { ip: "127.0.0.1", port: 45619 },
  listener: undefined,
  cookie: undefined,
  context: "connect",
  ...over,
});

test("a connection read from its socket is reported at once; its destroy (same cookie) closes it", () => {
  const { tracker: t, seen } = tracker();
  t.attempt(connect({ protocol: "tcp", local: { ip: "127.0.0.1", port: 40232 }, cookie: "a2ea000000000000" }), 1001);
  assert.equal(seen.connections[0]?.localFrom, "socket");
  assert.equal(t.tracked, 1);
  t.destroyed(client, 1500);
  const [closed, end] = seen.closed[0]!;
  assert.equal(closed.context, "connect");
  assert.equal(end.timeMs - closed.timeMs, 500);
  assert.equal(end.socket.tcpInfo?.bytesSent, 5);
  assert.equal(t.tracked, 0);
});

test("two connections given one socket (its fd reused before audit was read): the first's close is counted as lost", () => {
  const { tracker: t, seen } = tracker();
  const socket = { protocol: "tcp", local: { ip: "127.0.0.1", port: 40232 }, cookie: "a2ea000000000000" };
  t.attempt(connect({ ...socket, timeMs: 1000 }), 1001);
  assert.equal(t.misread, 0);
  t.attempt(connect({ ...socket, timeMs: 1002 }), 1003);
  assert.equal(t.misread, 1);
  t.destroyed(client, 1500);
  assert.deepEqual(
    seen.closed.map(([c]) => c.timeMs),
    [1002],
  );
  assert.equal(t.tracked, 0);
});

test("a socket gone before it was read: the destroy notification completes the connection, either order", () => {
  for (const destroyFirst of [false, true]) {
    const { tracker: t, seen } = tracker();
    if (destroyFirst) t.destroyed(client, 1002);
    t.attempt(connect(), 1003);
    if (!destroyFirst) {
      assert.equal(seen.connections.length, 0, "waits for the destroy");
      t.destroyed(client, 1004);
    }
    const c = seen.connections[0]!;
    assert.deepEqual(
      [c.localFrom, c.protocol, c.local, c.remote, c.cookie],
      [
        "sock-diag-destroy",
        "tcp",
        { ip: "127.0.0.1", port: 40232 },
        { ip: "127.0.0.1", port: 45619 },
        "a2ea000000000000",
      ],
    );
    assert.equal(seen.closed.length, 1);
    assert.equal(t.paired, 1);
  }
});

test("an accept without an address pairs with the accepted socket's destroy through the listener's port", () => {
  const { tracker: t, seen } = tracker();
  // The client's destroy arrives too: its source port is not the listener's, so it is left alone.
  t.destroyed(client, 1001);
  t.attempt(
    connect({
      pid: 15503,
      initiated: false,
      remote: undefined,
      listener: { ip: "127.0.0.1", port: 45619 },
      context: "accept4",
    }),
    1002,
  );
  assert.equal(seen.connections.length, 0);
  t.destroyed(server, 1003);
  const c = seen.connections[0]!;
  assert.deepEqual(
    [c.context, c.local, c.remote],
    ["accept4", { ip: "127.0.0.1", port: 45619 }, { ip: "127.0.0.1", port: 40232 }],
  );
});

test("no fitting destroy: reported without the local end once the destroy stream is past the wait, or at most after maxWaitMs", () => {
  const { tracker: t, seen } = tracker(50, 500);
  // A UDP attempt never takes a TCP socket's destroy, even with the same destination.
  t.attempt(connect({ protocol: "udp" }), 1000);
  t.destroyed(client, 1010);
  t.expire(1100);
  assert.equal(seen.connections.length, 0, "no destroy arrived 50 ms after the attempt yet: the stream may lag");
  t.destroyed({ ...server, cookie: "d0ea000000000000" }, 1060);
  assert.deepEqual([seen.connections[0]?.localFrom, seen.connections[0]?.local], ["unknown", undefined]);
  assert.equal(t.unpaired, 1);
  assert.equal(t.nextDeadline, undefined);
  // With no destroy at all, maxWaitMs ends the wait.
  t.attempt(connect({ remote: { ip: "127.0.0.1", port: 9999 } }), 2000);
  assert.equal(t.nextDeadline, 2500);
  t.expire(2499);
  assert.equal(seen.connections.length, 1);
  t.expire(2500);
  assert.equal(seen.connections[1]?.localFrom, "unknown");
  // The UDP socket to port 53 fits a UDP connect to port 53.
  t.attempt(connect({ remote: { ip: "127.0.0.1", port: 53 } }), 3000);
  t.destroyed(udp, 3001);
  assert.deepEqual([seen.connections[2]?.protocol, seen.connections[2]?.local?.port], ["udp", 43901]);
});

test("several attempts to one destination take the fitting sockets oldest first; old destroys are forgotten", () => {
  const { tracker: t, seen } = tracker();
  const second = { ...client, sourcePort: 40240, cookie: "b0ea000000000000" };
  t.attempt(connect({ context: "first" }), 1000);
  t.attempt(connect({ context: "second" }), 1001);
  t.destroyed(client, 1002);
  t.destroyed(second, 1003);
  assert.deepEqual(
    seen.connections.map((c) => [c.context, c.local?.port]),
    [
      ["first", 40232],
      ["second", 40240],
    ],
  );
  // A destroy nobody claims is kept for keepDestroysMs (5 s) for a late audit record, then dropped.
  t.destroyed({ ...client, cookie: "c0ea000000000000" }, 2000);
  t.expire(7000);
  t.attempt(connect({ context: "late" }), 7001);
  assert.equal(seen.connections.length, 2);
  t.flush();
  assert.deepEqual([seen.connections[2]?.context, seen.connections[2]?.localFrom], ["late", "unknown"]);
});
