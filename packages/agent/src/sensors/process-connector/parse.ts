import type { NetlinkMessage } from "../../netlink.ts";
import { NLMSG_DONE, encodeNetlinkMessage, splitNetlinkMessages } from "../../netlink.ts";

/**
 * The process events connector, from linux/connector.h and linux/cn_proc.h:
 *
 *   #define CN_IDX_PROC 0x1
 *   #define CN_VAL_PROC 0x1
 *   struct cb_id { __u32 idx; __u32 val; };
 *   struct cn_msg { struct cb_id id; __u32 seq; __u32 ack; __u16 len; __u16 flags; __u8 data[]; };
 *   enum proc_cn_mcast_op { PROC_CN_MCAST_LISTEN = 1, PROC_CN_MCAST_IGNORE = 2 };
 *   struct proc_event {
 *     enum what what; __u32 cpu; __u64 __attribute__((aligned(8))) timestamp_ns;
 *     union { … } event_data;   // at offset 16
 *   };
 *
 * `cn_msg.seq` is a per-CPU counter ("msg->seq = __this_cpu_inc_return(proc_event_counts) - 1"), so a
 * jump in one CPU's sequence is events the kernel sent and this socket never received.
 */
export const CN_IDX_PROC = 1;
export const CN_VAL_PROC = 1;
export const PROC_CN_MCAST_LISTEN = 1;
export const PROC_CN_MCAST_IGNORE = 2;
const CN_MSG_HDRLEN = 20;

export const PROC_EVENT = {
  none: 0x0,
  fork: 0x1,
  exec: 0x2,
  uid: 0x4,
  gid: 0x40,
  sid: 0x80,
  ptrace: 0x100,
  comm: 0x200,
  nonzeroExit: 0x20000000,
  coredump: 0x40000000,
  exit: 0x80000000,
} as const;

/** timestampMs: the event's ktime_get_ns() (CLOCK_MONOTONIC) in milliseconds, with the nanoseconds as fraction. */
type Header = { readonly cpu: number; readonly seq: number; readonly timestampMs: number };

export type ProcessConnectorEvent = Header &
  (
    | { readonly kind: "ack"; readonly error: number }
    | {
        readonly kind: "fork";
        readonly parentPid: number;
        readonly parentTgid: number;
        readonly childPid: number;
        readonly childTgid: number;
      }
    | { readonly kind: "exec"; readonly pid: number; readonly tgid: number }
    | {
        readonly kind: "uid" | "gid";
        readonly pid: number;
        readonly tgid: number;
        readonly real: number;
        readonly effective: number;
      }
    | { readonly kind: "sid"; readonly pid: number; readonly tgid: number }
    | {
        readonly kind: "ptrace";
        readonly pid: number;
        readonly tgid: number;
        readonly tracerPid: number;
        readonly tracerTgid: number;
      }
    | { readonly kind: "comm"; readonly pid: number; readonly tgid: number; readonly comm: string }
    | {
        readonly kind: "coredump";
        readonly pid: number;
        readonly tgid: number;
        readonly parentPid: number;
        readonly parentTgid: number;
      }
    | {
        readonly kind: "exit";
        readonly pid: number;
        readonly tgid: number;
        readonly exitCode: number;
        readonly exitSignal: number;
        readonly parentPid: number;
        readonly parentTgid: number;
      }
    | { readonly kind: "unknown"; readonly what: number }
  );

/** The netlink message that subscribes (or unsubscribes) this socket to process events. */
export function encodeMulticastOp(op: typeof PROC_CN_MCAST_LISTEN | typeof PROC_CN_MCAST_IGNORE): Buffer {
  const cn = Buffer.alloc(CN_MSG_HDRLEN + 4);
  cn.writeUInt32LE(CN_IDX_PROC, 0);
  cn.writeUInt32LE(CN_VAL_PROC, 4);
  cn.writeUInt16LE(4, 16);
  cn.writeUInt32LE(op, CN_MSG_HDRLEN);
  // The connector expects NLMSG_DONE as the type of every message it receives.
  return encodeNetlinkMessage(NLMSG_DONE, 0, 0, cn, process.pid);
}

/** The process events of one datagram; messages of other connector ids are skipped. */
export function parseProcessConnectorDatagram(datagram: Buffer): ProcessConnectorEvent[] {
  const out: ProcessConnectorEvent[] = [];
  for (const message of splitNetlinkMessages(datagram)) {
    const event = parseProcessConnectorMessage(message);
    if (event !== undefined) out.push(event);
  }
  return out;
}

function parseProcessConnectorMessage(message: NetlinkMessage): ProcessConnectorEvent | undefined {
  const p = message.payload;
  if (p.length < CN_MSG_HDRLEN + 16) return undefined;
  if (p.readUInt32LE(0) !== CN_IDX_PROC || p.readUInt32LE(4) !== CN_VAL_PROC) return undefined;
  const seq = p.readUInt32LE(8);
  const ev = p.subarray(CN_MSG_HDRLEN, CN_MSG_HDRLEN + p.readUInt16LE(16));
  if (ev.length < 16) return undefined;
  const what = ev.readUInt32LE(0);
  // The __u64 as two halves (exact below 2^53 ns, 104 days of uptime; later the nanoseconds round): a BigInt
  // per event was a measurable share of an exec's cost.
  const header: Header = {
    cpu: ev.readUInt32LE(4),
    seq,
    timestampMs: (ev.readUInt32LE(12) * 4294967296 + ev.readUInt32LE(8)) / 1e6,
  };
  const u32 = (index: number): number => (ev.length >= 16 + 4 * (index + 1) ? ev.readUInt32LE(16 + 4 * index) : 0);
  const i32 = (index: number): number => (ev.length >= 16 + 4 * (index + 1) ? ev.readInt32LE(16 + 4 * index) : 0);
  switch (what) {
    case PROC_EVENT.none:
      // struct { __u32 err; } ack — the reply to PROC_CN_MCAST_LISTEN.
      return { ...header, kind: "ack", error: u32(0) };
    case PROC_EVENT.fork:
      // struct fork_proc_event { parent_pid, parent_tgid, child_pid, child_tgid }
      return { ...header, kind: "fork", parentPid: u32(0), parentTgid: u32(1), childPid: u32(2), childTgid: u32(3) };
    case PROC_EVENT.exec:
      // struct exec_proc_event { process_pid, process_tgid }
      return { ...header, kind: "exec", pid: u32(0), tgid: u32(1) };
    case PROC_EVENT.uid:
    case PROC_EVENT.gid:
      // struct id_proc_event { process_pid, process_tgid, union { ruid; rgid } r, union { euid; egid } e }
      return {
        ...header,
        kind: what === PROC_EVENT.uid ? "uid" : "gid",
        pid: u32(0),
        tgid: u32(1),
        real: u32(2),
        effective: u32(3),
      };
    case PROC_EVENT.sid:
      return { ...header, kind: "sid", pid: u32(0), tgid: u32(1) };
    case PROC_EVENT.ptrace:
      // struct ptrace_proc_event { process_pid, process_tgid, tracer_pid, tracer_tgid }
      return { ...header, kind: "ptrace", pid: u32(0), tgid: u32(1), tracerPid: u32(2), tracerTgid: u32(3) };
    case PROC_EVENT.comm: {
      // struct comm_proc_event { process_pid, process_tgid, char comm[16] }
      const raw = ev.subarray(24, 40);
      const end = raw.indexOf(0);
      return {
        ...header,
        kind: "comm",
        pid: u32(0),
        tgid: u32(1),
        comm: raw.subarray(0, end < 0 ? raw.length : end).toString("utf8"),
      };
    }
    case PROC_EVENT.coredump:
      // struct coredump_proc_event { process_pid, process_tgid, parent_pid, parent_tgid }
      return { ...header, kind: "coredump", pid: u32(0), tgid: u32(1), parentPid: u32(2), parentTgid: u32(3) };
    case PROC_EVENT.exit:
    case PROC_EVENT.nonzeroExit:
      // struct exit_proc_event { process_pid, process_tgid, exit_code, exit_signal, parent_pid, parent_tgid }
      return {
        ...header,
        kind: "exit",
        pid: u32(0),
        tgid: u32(1),
        exitCode: i32(2),
        exitSignal: i32(3),
        parentPid: u32(4),
        parentTgid: u32(5),
      };
    default:
      return { ...header, kind: "unknown", what };
  }
}

/**
 * Loss from per-CPU sequence gaps. A sequence lower than the last one seen (a counter reset, a message
 * from before a CPU came back) restarts that CPU's count without counting loss.
 */
export class ConnectorSequenceTracker {
  private readonly last = new Map<number, number>();
  lost = 0;

  observe(cpu: number, seq: number): number {
    const previous = this.last.get(cpu);
    this.last.set(cpu, seq);
    if (previous === undefined || seq <= previous) return 0;
    const gap = seq - previous - 1;
    this.lost += gap;
    return gap;
  }
}
