/**
 * The audit netlink control protocol, from linux/audit.h. Pure encoders and decoders; source.ts does I/O.
 */
export const NETLINK_AUDIT = 9;
/** "#define AUDIT_NLGRP_READLOG 1" — the read-only multicast group (needs CAP_AUDIT_READ). */
export const AUDIT_NLGRP_READLOG = 1;

export const AUDIT_MSG = {
  get: 1000,
  set: 1001,
  addRuleData: 1011,
  delRuleData: 1012,
  listRulesData: 1013,
} as const;

// struct audit_status mask bits: AUDIT_STATUS_ENABLED 0x1, _FAILURE 0x2, _PID 0x4, _RATE_LIMIT 0x8,
// _BACKLOG_LIMIT 0x10, _BACKLOG_WAIT_TIME 0x20.
export const AUDIT_STATUS = {
  enabled: 0x1,
  failure: 0x2,
  pid: 0x4,
  rateLimit: 0x8,
  backlogLimit: 0x10,
  backlogWaitTime: 0x20,
} as const;

/**
 * struct audit_status { __u32 mask, enabled, failure, pid, rate_limit, backlog_limit, lost, backlog;
 *   union { __u32 version; __u32 feature_bitmap; }; __u32 backlog_wait_time; __u32 backlog_wait_time_actual; };
 */
export type AuditStatus = {
  readonly enabled: number;
  readonly failure: number;
  readonly pid: number;
  readonly rateLimit: number;
  readonly backlogLimit: number;
  readonly lost: number;
  readonly backlog: number;
  readonly featureBitmap: number;
  readonly backlogWaitTime: number;
};

const STATUS_SIZE = 44;

export function decodeAuditStatus(payload: Buffer): AuditStatus {
  const u32 = (index: number): number => (payload.length >= 4 * (index + 1) ? payload.readUInt32LE(4 * index) : 0);
  return {
    enabled: u32(1),
    failure: u32(2),
    pid: u32(3),
    rateLimit: u32(4),
    backlogLimit: u32(5),
    lost: u32(6),
    backlog: u32(7),
    featureBitmap: u32(8),
    backlogWaitTime: u32(9),
  };
}

export function encodeAuditSet(
  change: Partial<Pick<AuditStatus, "enabled" | "failure" | "pid" | "rateLimit" | "backlogLimit" | "backlogWaitTime">>,
): Buffer {
  const out = Buffer.alloc(STATUS_SIZE);
  let mask = 0;
  const put = (bit: number, index: number, value: number | undefined): void => {
    if (value === undefined) return;
    mask |= bit;
    out.writeUInt32LE(value, 4 * index);
  };
  put(AUDIT_STATUS.enabled, 1, change.enabled);
  put(AUDIT_STATUS.failure, 2, change.failure);
  put(AUDIT_STATUS.pid, 3, change.pid);
  put(AUDIT_STATUS.rateLimit, 4, change.rateLimit);
  put(AUDIT_STATUS.backlogLimit, 5, change.backlogLimit);
  put(AUDIT_STATUS.backlogWaitTime, 9, change.backlogWaitTime);
  out.writeUInt32LE(mask, 0);
  return out;
}

/**
 * struct audit_rule_data { __u32 flags; __u32 action; __u32 field_count; __u32 mask[AUDIT_BITMASK_SIZE];
 *   __u32 fields[AUDIT_MAX_FIELDS]; __u32 values[AUDIT_MAX_FIELDS]; __u32 fieldflags[AUDIT_MAX_FIELDS];
 *   __u32 buflen; char buf[]; };   with AUDIT_BITMASK_SIZE 64, AUDIT_MAX_FIELDS 64.
 */
const AUDIT_BITMASK_SIZE = 64;
const AUDIT_MAX_FIELDS = 64;
const RULE_HEADER_SIZE = 4 * (3 + AUDIT_BITMASK_SIZE + 3 * AUDIT_MAX_FIELDS + 1);
const AUDIT_FILTER_EXIT = 0x04;
const AUDIT_ALWAYS = 2;
const AUDIT_EQUAL = 0x40000000;
const AUDIT_NOT_EQUAL = 0x30000000;
export const AUDIT_FIELD = {
  arch: 11,
  exit: 103,
  watch: 105,
  perm: 106,
  dir: 107,
  exe: 112,
  arg0: 200,
  filterkey: 210,
} as const;
// Fields whose value is a length into buf (kernel audit_unpack_string users).
const STRING_FIELDS = new Set([
  13,
  14,
  15,
  16,
  17,
  19,
  20,
  21,
  22,
  23,
  AUDIT_FIELD.watch,
  AUDIT_FIELD.dir,
  AUDIT_FIELD.exe,
  AUDIT_FIELD.filterkey,
]);
export const AUDIT_ARCH = { b64: 0xc000003e, b32: 0x40000003 } as const;
// AUDIT_PERM_WRITE 2, AUDIT_PERM_ATTR 8: `-p wa`.
const AUDIT_PERM_WRITE_ATTR = 2 | 8;

/** One rule as ring3 writes it: a syscall rule for one ABI, or a write/attribute watch on a path. */
export type AuditRuleSpec =
  | {
      readonly kind: "syscall";
      readonly arch: keyof typeof AUDIT_ARCH;
      readonly syscalls: readonly number[];
      /** `-F a<index>=<value>`: only calls whose argument equals value (e.g. the pid a kill is aimed at). */
      readonly args?: readonly { readonly index: 0 | 1 | 2 | 3; readonly value: number }[];
      /**
       * `-F exit!=<value>`: calls that returned this (e.g. -ENOENT) are not logged. The kernel compares the
       * return value as a u32 (audit_comparator), so a negative errno is written in two's complement.
       */
      readonly exitNot?: number;
      readonly key: string;
    }
  | { readonly kind: "watch"; readonly path: string; readonly directory: boolean; readonly key: string };

export function encodeAuditRule(spec: AuditRuleSpec): Buffer {
  const strings: Buffer[] = [];
  const fields: { field: number; value: number; op?: number }[] = [];
  const mask = new Uint32Array(AUDIT_BITMASK_SIZE);
  if (spec.kind === "syscall") {
    fields.push({ field: AUDIT_FIELD.arch, value: AUDIT_ARCH[spec.arch] });
    for (const nr of spec.syscalls) mask[nr >>> 5]! |= 1 << (nr & 31);
    for (const arg of spec.args ?? []) fields.push({ field: AUDIT_FIELD.arg0 + arg.index, value: arg.value });
    if (spec.exitNot !== undefined)
      fields.push({ field: AUDIT_FIELD.exit, value: spec.exitNot >>> 0, op: AUDIT_NOT_EQUAL });
  } else {
    // auditctl -w sets every syscall bit: the watch and perm fields select the syscalls.
    mask.fill(0xffffffff);
    const path = Buffer.from(spec.path);
    strings.push(path);
    fields.push({ field: spec.directory ? AUDIT_FIELD.dir : AUDIT_FIELD.watch, value: path.length });
    fields.push({ field: AUDIT_FIELD.perm, value: AUDIT_PERM_WRITE_ATTR });
  }
  const key = Buffer.from(spec.key);
  strings.push(key);
  fields.push({ field: AUDIT_FIELD.filterkey, value: key.length });
  const buf = Buffer.concat(strings);
  const out = Buffer.alloc(RULE_HEADER_SIZE + buf.length);
  out.writeUInt32LE(AUDIT_FILTER_EXIT, 0);
  out.writeUInt32LE(AUDIT_ALWAYS, 4);
  out.writeUInt32LE(fields.length, 8);
  for (let i = 0; i < AUDIT_BITMASK_SIZE; i++) out.writeUInt32LE(mask[i]!, 12 + 4 * i);
  const fieldsAt = 12 + 4 * AUDIT_BITMASK_SIZE;
  fields.forEach((f, i) => {
    out.writeUInt32LE(f.field, fieldsAt + 4 * i);
    out.writeUInt32LE(f.value, fieldsAt + 4 * (AUDIT_MAX_FIELDS + i));
    out.writeUInt32LE(f.op ?? AUDIT_EQUAL, fieldsAt + 4 * (2 * AUDIT_MAX_FIELDS + i));
  });
  out.writeUInt32LE(buf.length, RULE_HEADER_SIZE - 4);
  buf.copy(out, RULE_HEADER_SIZE);
  return out;
}

/** The filter keys of a listed rule (several keys are joined by \x01, AUDIT_KEY_SEPARATOR). */
export function auditRuleKeys(rule: Buffer): string[] {
  if (rule.length < RULE_HEADER_SIZE) return [];
  const count = Math.min(rule.readUInt32LE(8), AUDIT_MAX_FIELDS);
  const fieldsAt = 12 + 4 * AUDIT_BITMASK_SIZE;
  const keys: string[] = [];
  let offset = RULE_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const field = rule.readUInt32LE(fieldsAt + 4 * i);
    if (!STRING_FIELDS.has(field)) continue;
    const length = rule.readUInt32LE(fieldsAt + 4 * (AUDIT_MAX_FIELDS + i));
    if (field === AUDIT_FIELD.filterkey)
      keys.push(
        ...rule
          .subarray(offset, offset + length)
          .toString("utf8")
          .split("\x01"),
      );
    offset += length;
  }
  return keys;
}
