import type { NetlinkMessage } from "../../netlink.ts";
import { NLM_F_REQUEST, encodeNetlinkMessage } from "../../netlink.ts";
import { formatIpv4, formatIpv6 } from "../ip-address.ts";

/**
 * NETLINK_SOCK_DIAG / inet_diag, from linux/sock_diag.h and linux/inet_diag.h:
 *
 *   #define SOCK_DIAG_BY_FAMILY 20
 *   enum { SKNLGRP_NONE, SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET_UDP_DESTROY, SKNLGRP_INET6_TCP_DESTROY, … };
 *   struct inet_diag_sockid { __be16 idiag_sport; __be16 idiag_dport; __be32 idiag_src[4]; __be32 idiag_dst[4];
 *                             __u32 idiag_if; __u32 idiag_cookie[2]; };                         (48 bytes)
 *   struct inet_diag_req_v2 { __u8 sdiag_family; __u8 sdiag_protocol; __u8 idiag_ext; __u8 pad;
 *                             __u32 idiag_states; struct inet_diag_sockid id; };                 (56 bytes)
 *   struct inet_diag_msg { __u8 idiag_family; __u8 idiag_state; __u8 idiag_timer; __u8 idiag_retrans;
 *                          struct inet_diag_sockid id; __u32 idiag_expires; __u32 idiag_rqueue;
 *                          __u32 idiag_wqueue; __u32 idiag_uid; __u32 idiag_inode; };            (72 bytes)
 *
 * then netlink attributes (struct nlattr { __u16 nla_len; __u16 nla_type; }, 4-byte aligned). A destroy
 * notification (net/ipv4/inet_diag.c, inet_diag_handler_get_info) carries INET_DIAG_PROTOCOL and, for TCP,
 * INET_DIAG_INFO with the socket's final struct tcp_info; its uid and inode are 0 (the file is gone).
 */
export const NETLINK_SOCK_DIAG = 4;
export const SOCK_DIAG_BY_FAMILY = 20;
export const NLM_F_DUMP = 0x300;
export const SKNLGRP_INET_TCP_DESTROY = 1;
export const SKNLGRP_INET_UDP_DESTROY = 2;
export const SKNLGRP_INET6_TCP_DESTROY = 3;
export const SKNLGRP_INET6_UDP_DESTROY = 4;
/**
 * bind() nl_groups takes bit (group - 1) per group. TCP and UDP: a connect()ed UDP socket (a DNS query) is a
 * connection audit reports too.
 */
export const DESTROY_GROUPS = [
  SKNLGRP_INET_TCP_DESTROY,
  SKNLGRP_INET_UDP_DESTROY,
  SKNLGRP_INET6_TCP_DESTROY,
  SKNLGRP_INET6_UDP_DESTROY,
].reduce((groups, group) => groups | (1 << (group - 1)), 0);

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** Protocol names as Sysmon writes them in network_connection's Protocol. */
export const PROTOCOL_NAMES: Readonly<Record<number, string>> = { [IPPROTO_TCP]: "tcp", [IPPROTO_UDP]: "udp" };
const INET_DIAG_INFO = 2;
const INET_DIAG_PROTOCOL = 10;

/** include/net/tcp_states.h */
export const TCP_STATES = [
  "",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "CLOSING",
  "NEW_SYN_RECV",
] as const;
export const TCP_ESTABLISHED = 1;
export const TCP_LISTEN = 10;

const INET_DIAG_MSG_LEN = 72;

export type InetSocket = {
  readonly family: typeof AF_INET | typeof AF_INET6;
  readonly state: string;
  readonly sourceIp: string;
  readonly sourcePort: number;
  readonly destinationIp: string;
  readonly destinationPort: number;
  readonly uid: number;
  /** 0 once the socket has no file (destroy notifications, TIME_WAIT). */
  readonly inode: number;
  /** The kernel's socket cookie, stable for the socket's life: pairs a dump entry with its destroy. */
  readonly cookie: string;
  /** IPPROTO_* from INET_DIAG_PROTOCOL (destroy notifications carry it; dumps are of one protocol). */
  readonly protocol: number | undefined;
  /** The final TCP counters of a destroyed TCP socket (INET_DIAG_INFO); undefined otherwise. */
  readonly tcpInfo: TcpInfo | undefined;
};

/**
 * What ring3 reads from struct tcp_info (linux/tcp.h), by offset: tcpi_bytes_received (__u64) at 128,
 * tcpi_segs_out and tcpi_segs_in (__u32) at 136 and 140, tcpi_bytes_sent (__u64, Linux 4.19+) at 200.
 * bytes_sent counts data octets sent, retransmissions included; bytes_received counts the sequence space
 * received, which is the peer's data plus 1 for its FIN (a connection the peer closed normally reads one
 * more than the data it sent: 5 bytes and a FIN → 6).
 */
export type TcpInfo = {
  readonly bytesSent: number | undefined;
  readonly bytesReceived: number;
  readonly segmentsOut: number;
  readonly segmentsIn: number;
};

/** A dump request for TCP sockets of one family in the given states (bitmask of 1 << TCP_*). */
export function encodeInetDiagRequest(family: number, states: number, seq: number): Buffer {
  const request = Buffer.alloc(56);
  request.writeUInt8(family, 0);
  request.writeUInt8(IPPROTO_TCP, 1);
  request.writeUInt32LE(states >>> 0, 4);
  return encodeNetlinkMessage(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, request);
}

/** One inet_diag_msg (a dump reply or a destroy notification); undefined for other families or short ones. */
export function parseInetDiagMessage(message: NetlinkMessage): InetSocket | undefined {
  const p = message.payload;
  if (message.type !== SOCK_DIAG_BY_FAMILY || p.length < INET_DIAG_MSG_LEN) return undefined;
  const family = p.readUInt8(0);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const format = family === AF_INET ? formatIpv4 : formatIpv6;
  let protocol: number | undefined;
  let tcpInfo: TcpInfo | undefined;
  for (let at = INET_DIAG_MSG_LEN; at + 4 <= p.length;) {
    const length = p.readUInt16LE(at);
    const type = p.readUInt16LE(at + 2) & 0x3fff;
    if (length < 4 || at + length > p.length) break;
    if (type === INET_DIAG_PROTOCOL && length >= 5) protocol = p.readUInt8(at + 4);
    else if (type === INET_DIAG_INFO && length >= 4 + 144) {
      const info = at + 4;
      tcpInfo = {
        bytesSent: length >= 4 + 208 ? Number(p.readBigUInt64LE(info + 200)) : undefined,
        bytesReceived: Number(p.readBigUInt64LE(info + 128)),
        segmentsOut: p.readUInt32LE(info + 136),
        segmentsIn: p.readUInt32LE(info + 140),
      };
    }
    at += (length + 3) & ~3;
  }
  return {
    family,
    state: TCP_STATES[p.readUInt8(1)] ?? String(p.readUInt8(1)),
    sourcePort: p.readUInt16BE(4),
    destinationPort: p.readUInt16BE(6),
    sourceIp: format(p, 8),
    destinationIp: format(p, 24),
    cookie: p.subarray(44, 52).toString("hex"),
    uid: p.readUInt32LE(64),
    inode: p.readUInt32LE(68),
    protocol,
    tcpInfo,
  };
}
