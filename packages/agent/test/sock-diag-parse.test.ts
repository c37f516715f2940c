import assert from "node:assert/strict";
import { test } from "node:test";
import { splitNetlinkMessages } from "../src/netlink.ts";
import { decodeSockaddr } from "../src/sensors/audit/sockaddr.ts";
import { formatIpv6 } from "../src/sensors/ip-address.ts";
import {
  AF_INET,
  TCP_ESTABLISHED,
  TCP_LISTEN,
  encodeInetDiagRequest,
  parseInetDiagMessage,
} from "../src/sensors/sock-diag/parse.ts";
import { SOCK_DIAG_DESTROY_HEX, SOCK_DIAG_DUMP_HEX } from "./captured-records.ts";

test("captured inet_diag dump: the listener and both ends of a loopback connection", () => {
  const sockets = SOCK_DIAG_DUMP_HEX.flatMap((hex) => splitNetlinkMessages(Buffer.from(hex, "hex"))).map(
    parseInetDiagMessage,
  );
  assert.deepEqual(
    sockets.map((s) => [s?.state, s?.sourceIp, s?.sourcePort, s?.destinationIp, s?.destinationPort, s?.inode]),
    [
      ["LISTEN", "127.0.0.1", 34919, "0.0.0.0", 0, 0x1f644],
      ["ESTABLISHED", "127.0.0.1", 34919, "127.0.0.1", 54804, 0x1f646],
      ["ESTABLISHED", "127.0.0.1", 54804, "127.0.0.1", 34919, 0x1f645],
    ],
  );
  assert.ok(sockets.every((s) => s?.family === AF_INET && s.uid === 0));
  assert.deepEqual(
    sockets.map((s) => s?.cookie),
    ["0100000000000000", "0300000000000000", "0400000000000000"],
  );
});

test("captured TCP destroy notification: same cookie as the dump entry, state CLOSE, no inode any more", () => {
  const [message] = splitNetlinkMessages(Buffer.from(SOCK_DIAG_DESTROY_HEX, "hex"));
  const socket = parseInetDiagMessage(message!);
  assert.deepEqual(socket && [socket.state, socket.sourcePort, socket.destinationPort, socket.cookie, socket.inode], [
    "CLOSE",
    54804,
    34919,
    "0400000000000000",
    0,
  ]);
});

test("dump request: SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST|NLM_F_DUMP, TCP, states bitmask", () => {
  const request = encodeInetDiagRequest(AF_INET, (1 << TCP_ESTABLISHED) | (1 << TCP_LISTEN), 9);
  assert.equal(request.length, 16 + 56);
  assert.deepEqual([request.readUInt16LE(4), request.readUInt16LE(6), request.readUInt32LE(8)], [20, 0x301, 9]);
  assert.deepEqual([request[16], request[17], request.readUInt32LE(20)], [2, 6, 0x402]);
});

test("audit saddr: AF_INET, AF_INET6 (incl. v4-mapped), AF_UNIX path and abstract, unknown families", () => {
  // As auditd prints SOCKADDR records (saddr=… hex of the struct sockaddr the syscall passed).
  assert.deepEqual(decodeSockaddr("0200005D7F0000010000000000000000"), { family: "inet", ip: "127.0.0.1", port: 93 });
  assert.deepEqual(decodeSockaddr("0A0001BB000000002606470047000000000000000000111100000000"), {
    family: "inet6",
    ip: "2606:4700:4700::1111",
    port: 443,
  });
  assert.deepEqual(decodeSockaddr("0A0000500000000000000000000000000000FFFFC0A8010100000000"), {
    family: "inet6",
    ip: "::ffff:192.168.1.1",
    port: 80,
  });
  assert.deepEqual(decodeSockaddr("01002F72756E2F73797374656D642F6A6F75726E616C2F736F636B657400"), {
    family: "unix",
    path: "/run/systemd/journal/socket",
  });
  assert.deepEqual(decodeSockaddr("0100006E7363640000"), { family: "unix", path: "@nscd" });
  assert.deepEqual(decodeSockaddr("1000"), { family: "other", number: 16 });
  assert.equal(decodeSockaddr("0200"), undefined);
  assert.equal(decodeSockaddr("zz"), undefined);
});

test("IPv6 text form follows RFC 5952", () => {
  const v6 = (hex: string): string => formatIpv6(Buffer.from(hex, "hex"));
  assert.equal(v6("00000000000000000000000000000001"), "::1");
  assert.equal(v6("00000000000000000000000000000000"), "::");
  assert.equal(v6("20010db8000000010000000000000001"), "2001:db8:0:1::1");
  assert.equal(v6("20010db8000100020003000400050006"), "2001:db8:1:2:3:4:5:6");
});
