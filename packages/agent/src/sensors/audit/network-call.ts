import type { AuditEvent } from "./parse.ts";
import { syscallName } from "./parse.ts";
import { decodeSockaddr } from "./sockaddr.ts";

/** i386 socketcall(2) call numbers (linux/net.h SYS_CONNECT 3, SYS_ACCEPT 5, SYS_ACCEPT4 18). */
const SOCKETCALLS: Readonly<Record<string, "connect" | "accept" | "accept4">> = {
  "3": "connect",
  "5": "accept",
  "18": "accept4",
};
/** A non-blocking connect() returns -EINPROGRESS (-115): the connection is under way, and rules want it. */
const EINPROGRESS_EXIT = "-115";

/**
 * A connect() or accept() that made an IPv4/IPv6 connection, as one audit event reports it:
 *
 *   type=SYSCALL msg=audit(…): arch=c000003e syscall=42 success=no exit=-115 a0=15 a1=7ffd… a2=10 … pid=4242
 *   type=SOCKADDR msg=audit(…): saddr=0200A4E57F0000010000000000000000
 *
 * connect's a0 is the socket's fd and its sockaddr the destination; accept's a0 is the listening socket's fd,
 * its exit the new socket's fd, and its sockaddr (absent when the caller passed a NULL address, as libuv does)
 * the peer.
 */
export type AuditNetworkCall = {
  readonly name: "connect" | "accept" | "accept4";
  readonly pid: number;
  /** The connecting or accepted socket's fd; undefined for i386 socketcall (its arguments are in user memory). */
  readonly fd: number | undefined;
  /** accept only: the listening socket's fd. */
  readonly listenerFd: number | undefined;
  /** connect: the destination; accept: the peer, when the caller asked for it. */
  readonly remote: { readonly ip: string; readonly port: number } | undefined;
  readonly exit: string | undefined;
  readonly exe: string | undefined;
  readonly uid: number | undefined;
};

/** The event's connect/accept, or undefined for other calls, failures, and non-IP (AF_UNIX…) sockets. */
export function auditNetworkCall(event: AuditEvent): AuditNetworkCall | undefined {
  const syscall = event.records.find((r) => r.type === 1300)?.fields;
  if (syscall === undefined) return undefined;
  const called = syscallName(syscall.arch, syscall.syscall);
  const socketcall = called === "socketcall";
  const name = socketcall
    ? SOCKETCALLS[String(Number.parseInt(syscall.a0 ?? "", 16))]
    : called === "connect" || called === "accept" || called === "accept4"
      ? called
      : undefined;
  if (name === undefined) return undefined;
  const connect = name === "connect";
  if (syscall.success !== "yes" && !(connect && syscall.exit === EINPROGRESS_EXIT)) return undefined;
  const saddr = event.records.find((r) => r.type === 1306)?.fields.saddr;
  const address = saddr === undefined ? undefined : decodeSockaddr(saddr);
  if (saddr !== undefined && (address === undefined || (address.family !== "inet" && address.family !== "inet6")))
    return undefined;
  if (connect && address === undefined) return undefined;
  const pid = Number(syscall.pid);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const hexFd = (value: string | undefined): number | undefined =>
    value === undefined || !/^[0-9a-f]{1,8}$/.test(value) ? undefined : Number.parseInt(value, 16);
  const exitFd = syscall.exit !== undefined && /^\d+$/.test(syscall.exit) ? Number(syscall.exit) : undefined;
  return {
    name,
    pid,
    fd: socketcall ? undefined : connect ? hexFd(syscall.a0) : exitFd,
    listenerFd: socketcall || connect ? undefined : hexFd(syscall.a0),
    remote:
      address?.family === "inet" || address?.family === "inet6" ? { ip: address.ip, port: address.port } : undefined,
    exit: syscall.exit,
    exe: syscall.exe,
    uid: syscall.uid === undefined || !/^\d+$/.test(syscall.uid) ? undefined : Number(syscall.uid),
  };
}
