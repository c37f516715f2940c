import type { NetlinkMessage } from "../../netlink.ts";
import { NLMSG_HDRLEN, splitNetlinkMessages } from "../../netlink.ts";

/**
 * Audit records as the kernel sends them over netlink: one record per message, nlmsg_type the record type,
 * the payload the text auditd would write after `type=… msg=`, e.g.
 *
 *   audit(1732400000.123:4567): arch=c000003e syscall=59 success=yes exit=0 a0=55d… items=2 ppid=1 pid=42
 *     auid=1000 uid=0 … comm="echo" exe="/usr/bin/echo" key="ring3-exec"
 *
 * Records that share the `audit(time:serial)` stamp are one event; syscall events end with EOE (1320).
 */

export const AUDIT_RECORD_TYPES: Readonly<Record<number, string>> = {
  1006: "LOGIN",
  1300: "SYSCALL",
  1302: "PATH",
  1303: "IPC",
  1304: "SOCKETCALL",
  1305: "CONFIG_CHANGE",
  1306: "SOCKADDR",
  1307: "CWD",
  1309: "EXECVE",
  1311: "IPC_SET_PERM",
  1317: "FD_PAIR",
  1318: "OBJ_PID",
  1319: "TTY",
  1320: "EOE",
  1321: "BPRM_FCAPS",
  1322: "CAPSET",
  1323: "MMAP",
  1326: "SECCOMP",
  1327: "PROCTITLE",
  1328: "FEATURE_CHANGE",
  1329: "REPLACE",
  1330: "KERN_MODULE",
  1334: "BPF",
  1336: "URINGOP",
  1337: "OPENAT2",
  1400: "AVC",
  1701: "ANOM_ABEND",
  1702: "ANOM_LINK",
  1703: "ANOM_CREAT",
};

export const AUDIT_EOE = 1320;

/**
 * The netlink messages of one audit datagram. Records sent to the registered daemon break the netlink
 * framing, kernel/audit.c: "The original kaudit unicast socket sends up messages with nlmsg_len set to the
 * payload length rather than the entire message length … The existing auditd daemon assumes this
 * breakage." (multicast copies are fixed). Each record is one datagram, so a record's payload is everything
 * after the header, whichever length the header claims.
 */
export function splitAuditDatagram(datagram: Buffer): NetlinkMessage[] {
  if (datagram.length < NLMSG_HDRLEN) return [];
  const type = datagram.readUInt16LE(4);
  if (type < 1100) return splitNetlinkMessages(datagram);
  return [
    {
      type,
      flags: datagram.readUInt16LE(6),
      seq: datagram.readUInt32LE(8),
      pid: datagram.readUInt32LE(12),
      payload: datagram.subarray(NLMSG_HDRLEN),
    },
  ];
}

/** ausearch spells unknown types `UNKNOWN[n]`. */
export function auditTypeName(type: number): string {
  return AUDIT_RECORD_TYPES[type] ?? `UNKNOWN[${type}]`;
}

export type AuditRecord = {
  readonly type: number;
  readonly typeName: string;
  /** Seconds since the epoch with milliseconds, as in the stamp. */
  readonly time: number;
  readonly serial: number;
  /** Keys as written; values unquoted and, for untrusted strings, hex-decoded. */
  readonly fields: Readonly<Record<string, string>>;
  /** The record text as received (without the trailing NUL). */
  readonly text: string;
};

const STAMP = /^audit\((\d+)\.(\d+):(\d+)\):\s?/;

// Values the kernel writes with audit_log_untrustedstring(): quoted when clean, else hex without quotes.
// SYSCALL's a0..a3 are hex syscall arguments and must stay as they are, so aN is decoded in EXECVE only.
const UNTRUSTED_KEYS = new Set([
  "exe",
  "comm",
  "cwd",
  "name",
  "proctitle",
  "key",
  "data",
  "path",
  "old-chardev",
  "new-chardev",
]);
const EXECVE_ARG = /^a\d+(\[\d+\])?$/;

export function parseAuditRecord(type: number, payload: Buffer): AuditRecord | undefined {
  const end = payload.indexOf(0);
  const text = payload.toString("utf8", 0, end < 0 ? payload.length : end);
  const stamp = STAMP.exec(text);
  if (stamp === null) return undefined;
  const [whole, seconds, millis, serial] = stamp as unknown as [string, string, string, string];
  return {
    type,
    typeName: auditTypeName(type),
    time: Number(seconds) + Number(millis) / 1000,
    serial: Number(serial),
    fields: parsePairs(text, whole.length, type === 1309),
    text,
  };
}

/**
 * The `key=value` pairs after the stamp; values may be "double-quoted" or 'single-quoted' (USER/AVC msg='…').
 * One pass over the text without intermediate tuples: at 500 execs/s this runs 4,000 times a second.
 */
function parsePairs(text: string, start: number, decodeArgs: boolean): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = start;
  while (i < text.length) {
    while (text.charCodeAt(i) === 32) i++;
    const eq = text.indexOf("=", i);
    if (eq < 0) break;
    const key = text.slice(i, eq);
    const quote = text.charCodeAt(eq + 1);
    if (quote === 34 || quote === 39) {
      const close = text.indexOf(quote === 34 ? '"' : "'", eq + 2);
      const stop = close < 0 ? text.length : close;
      fields[key] = text.slice(eq + 2, stop);
      i = stop + 1;
      continue;
    }
    let j = text.indexOf(" ", eq + 1);
    if (j < 0) j = text.length;
    const value = text.slice(eq + 1, j);
    const untrusted = UNTRUSTED_KEYS.has(key) || (decodeArgs && EXECVE_ARG.test(key));
    fields[key] = untrusted && isHex(value) ? decodeHex(value) : value;
    i = j;
  }
  return fields;
}

function isHex(value: string): boolean {
  return value.length > 0 && value.length % 2 === 0 && /^[0-9A-F]+$/.test(value);
}

/** Hex to text; NULs (proctitle separates argv with them) become spaces, as ausearch -i shows them. */
function decodeHex(value: string): string {
  const bytes = Buffer.from(value, "hex");
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return bytes.subarray(0, end).toString("utf8").replaceAll("\0", " ");
}

/**
 * execve's argv from the EXECVE records of one event. The kernel splits what does not fit one record:
 *
 *   type=EXECVE msg=audit(…): argc=3 a0="sh" a1="-c" a2_len=20000 a2[0]=6C6F6E67…
 *   type=EXECVE msg=audit(…): a2[1]=…
 */
export function execveArgv(records: readonly AuditRecord[]): string[] | undefined {
  const execve = records.filter((r) => r.type === 1309);
  if (execve.length === 0) return undefined;
  const merged: Record<string, string> = {};
  for (const record of execve) Object.assign(merged, record.fields);
  const argc = Number(merged.argc ?? "0");
  const argv: string[] = [];
  for (let n = 0; n < argc; n++) {
    const whole = merged[`a${n}`];
    if (whole !== undefined) {
      argv.push(whole);
      continue;
    }
    const parts: string[] = [];
    for (let i = 0; merged[`a${n}[${i}]`] !== undefined; i++) parts.push(merged[`a${n}[${i}]`]!);
    argv.push(parts.join(""));
  }
  return argv;
}

/** One audit event: every record of one serial, in arrival order. */
export type AuditEvent = {
  readonly serial: number;
  readonly time: number;
  readonly records: readonly AuditRecord[];
};

// Record types that are whole events on their own: user-space messages (1100–1299, 2100–2999) and the
// kernel records logged outside any syscall context. Everything else waits for EOE or a timeout.
function standalone(type: number): boolean {
  return (type >= 1100 && type < 1300) || (type >= 2100 && type < 3000) || type === 1006 || type >= 1700;
}

/**
 * Groups records by serial. An event is complete at EOE; events whose EOE never comes (records without a
 * syscall context carry none) are released after `maxAgeMs` or when more than `maxOpen` are pending.
 */
export class AuditReassembler {
  private readonly open = new Map<number, { records: AuditRecord[]; firstSeenMs: number }>();
  private readonly maxAgeMs: number;
  private readonly maxOpen: number;

  constructor(options: { readonly maxAgeMs?: number; readonly maxOpen?: number } = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.maxOpen = options.maxOpen ?? 4096;
  }

  /** Events waiting for their EOE or their age. */
  get size(): number {
    return this.open.size;
  }

  /** Adds a record; returns the events it completes (EOE itself is not kept). */
  push(record: AuditRecord, nowMs: number): AuditEvent[] {
    if (record.type !== AUDIT_EOE && standalone(record.type) && !this.open.has(record.serial)) {
      return [{ serial: record.serial, time: record.time, records: [record] }];
    }
    const out: AuditEvent[] = [];
    let entry = this.open.get(record.serial);
    if (entry === undefined) {
      entry = { records: [], firstSeenMs: nowMs };
      this.open.set(record.serial, entry);
      if (this.open.size > this.maxOpen) {
        const oldest = this.open.keys().next().value as number;
        out.push(this.close(oldest));
      }
    }
    if (record.type === AUDIT_EOE) {
      if (entry.records.length > 0) out.push(this.close(record.serial));
      else this.open.delete(record.serial);
      return out;
    }
    entry.records.push(record);
    return out;
  }

  /** Events older than maxAgeMs, oldest first. */
  expire(nowMs: number): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const [serial, entry] of this.open) {
      if (nowMs - entry.firstSeenMs < this.maxAgeMs) break;
      out.push(this.close(serial));
    }
    return out;
  }

  flush(): AuditEvent[] {
    return [...this.open.keys()].map((serial) => this.close(serial));
  }

  private close(serial: number): AuditEvent {
    const entry = this.open.get(serial)!;
    this.open.delete(serial);
    return { serial, time: entry.records[0]?.time ?? 0, records: entry.records };
  }
}

/**
 * Loss from serial gaps. Serials are global and come out slightly out of order across CPUs, so a skipped
 * serial is only "missing" at first and counts as lost when it is still missing `window` serials later.
 */
export class AuditSerialTracker {
  private highest: number | undefined;
  private readonly missing = new Set<number>();
  private readonly window: number;
  lost = 0;

  constructor(window = 512) {
    this.window = window;
  }

  observe(serial: number): void {
    if (this.highest === undefined) {
      this.highest = serial;
      return;
    }
    if (serial <= this.highest) {
      this.missing.delete(serial);
      return;
    }
    const gap = serial - this.highest - 1;
    // A huge jump (another audit daemon took the serials, or ring3 was not reading) counts at once.
    if (gap > this.window) this.lost += gap;
    else for (let s = this.highest + 1; s < serial; s++) this.missing.add(s);
    this.highest = serial;
    for (const s of this.missing) {
      if (s > serial - this.window) break;
      this.missing.delete(s);
      this.lost += 1;
    }
  }

  /** At stop: whatever is still missing is lost. */
  settle(): number {
    this.lost += this.missing.size;
    this.missing.clear();
    return this.lost;
  }
}

// Syscall numbers of the calls ring3's rules name (arch/x86/entry/syscalls/syscall_64.tbl and syscall_32.tbl),
// plus the common ones that show up in watch events, so `syscall: execve` in SigmaHQ rules matches.
export const SYSCALLS_X86_64: Readonly<Record<string, number>> = {
  read: 0,
  write: 1,
  open: 2,
  close: 3,
  connect: 42,
  accept: 43,
  bind: 49,
  clone: 56,
  fork: 57,
  vfork: 58,
  execve: 59,
  kill: 62,
  tkill: 200,
  tgkill: 234,
  process_vm_readv: 310,
  process_vm_writev: 311,
  pidfd_open: 434,
  rename: 82,
  unlink: 87,
  chmod: 90,
  fchmod: 91,
  chown: 92,
  fchown: 93,
  lchown: 94,
  ptrace: 101,
  setuid: 105,
  setgid: 106,
  setreuid: 113,
  setregid: 114,
  setresuid: 117,
  setresgid: 119,
  setfsuid: 122,
  setfsgid: 123,
  capset: 126,
  truncate: 76,
  ftruncate: 77,
  mount: 165,
  umount2: 166,
  init_module: 175,
  delete_module: 176,
  setxattr: 188,
  lsetxattr: 189,
  fsetxattr: 190,
  openat: 257,
  renameat: 264,
  unlinkat: 263,
  fchownat: 260,
  fchmodat: 268,
  accept4: 288,
  finit_module: 313,
  execveat: 322,
  renameat2: 316,
  open_by_handle_at: 304,
  openat2: 437,
  fsconfig: 431,
  fsmount: 432,
  move_mount: 429,
  fchmodat2: 452,
};

export const SYSCALLS_I386: Readonly<Record<string, number>> = {
  exit: 1,
  fork: 2,
  read: 3,
  write: 4,
  open: 5,
  close: 6,
  execve: 11,
  chmod: 15,
  mount: 21,
  setuid: 23,
  ptrace: 26,
  kill: 37,
  rename: 38,
  tkill: 238,
  tgkill: 270,
  process_vm_readv: 347,
  process_vm_writev: 348,
  pidfd_open: 434,
  setgid: 46,
  setreuid: 70,
  socketcall: 102,
  clone: 120,
  init_module: 128,
  delete_module: 129,
  setfsuid: 138,
  setresuid: 164,
  capset: 185,
  vfork: 190,
  setreuid32: 203,
  setuid32: 213,
  setresuid32: 208,
  setfsuid32: 215,
  openat: 295,
  finit_module: 350,
  execveat: 358,
  bind: 361,
  connect: 362,
  accept4: 364,
};

const BY_NUMBER = {
  c000003e: new Map(Object.entries(SYSCALLS_X86_64).map(([name, nr]) => [nr, name])),
  "40000003": new Map(Object.entries(SYSCALLS_I386).map(([name, nr]) => [nr, name])),
} as const;

/** `execve` for arch=c000003e syscall=59, or undefined for a number this table does not name. */
export function syscallName(arch: string | undefined, syscall: string | undefined): string | undefined {
  if (arch === undefined || syscall === undefined) return undefined;
  const table = arch === "c000003e" || arch === "40000003" ? BY_NUMBER[arch] : undefined;
  return table?.get(Number(syscall));
}

export const ARCH_NAMES: Readonly<Record<string, string>> = {
  c000003e: "x86_64",
  "40000003": "i386",
  c00000b7: "aarch64",
};
