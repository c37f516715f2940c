/**
 * Netlink framing, from linux/netlink.h:
 *
 *   struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; };
 *   #define NLMSG_ALIGNTO 4U
 *
 * Host byte order throughout (little-endian on every platform the agent targets).
 */
export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;

export type NetlinkMessage = {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** The payload after the header; a view into the datagram, not a copy. */
  readonly payload: Buffer;
};

const align = (n: number): number => (n + 3) & ~3;

/** Every message of one datagram; a truncated tail (nlmsg_len past the end) ends the walk. */
export function splitNetlinkMessages(datagram: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= datagram.length) {
    const length = datagram.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN || offset + length > datagram.length) break;
    out.push({
      type: datagram.readUInt16LE(offset + 4),
      flags: datagram.readUInt16LE(offset + 6),
      seq: datagram.readUInt32LE(offset + 8),
      pid: datagram.readUInt32LE(offset + 12),
      payload: datagram.subarray(offset + NLMSG_HDRLEN, offset + length),
    });
    offset += align(length);
  }
  return out;
}

export function encodeNetlinkMessage(type: number, flags: number, seq: number, payload: Buffer, pid = 0): Buffer {
  const out = Buffer.alloc(NLMSG_HDRLEN + payload.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq, 8);
  out.writeUInt32LE(pid, 12);
  payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/** struct nlmsgerr { int error; struct nlmsghdr msg; }: error is 0 for an ACK, else -errno. */
export function netlinkError(message: NetlinkMessage): number {
  return message.payload.length >= 4 ? message.payload.readInt32LE(0) : 0;
}
