import assert from "node:assert/strict";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { UserNameResolver, auditEventToSigma } from "../src/normalise.ts";
import type { AuditEvent, AuditRecord } from "../src/sensors/audit/parse.ts";
import {
  AuditReassembler,
  AuditSerialTracker,
  execveArgv,
  parseAuditRecord,
  splitAuditDatagram,
} from "../src/sensors/audit/parse.ts";
import { auditRuleKeys, decodeAuditStatus, encodeAuditRule, encodeAuditSet } from "../src/sensors/audit/protocol.ts";
import { ring3AuditRules } from "../src/sensors/audit/rules.ts";
import {
  AUDIT_ECHO_EXECVE_BASE64,
  AUDIT_ECHO_EXECVE_SERIAL,
  AUDIT_HEX_ARGS_BASE64,
  AUDIT_LONG_ARG_GZIP_BASE64,
  AUDIT_SH_EXECVE_BASE64,
  AUDIT_SH_EXECVE_SERIAL,
} from "./captured-records.ts";

function records(datagrams: readonly Buffer[]): AuditRecord[] {
  return datagrams.flatMap((d) => splitAuditDatagram(d)).map((m) => parseAuditRecord(m.type, m.payload)!);
}

function assemble(datagrams: readonly Buffer[]): AuditEvent[] {
  const reassembler = new AuditReassembler();
  return records(datagrams).flatMap((r) => reassembler.push(r, 0));
}

const base64 = (list: readonly string[]): Buffer[] => list.map((b) => Buffer.from(b, "base64"));
const sh = base64(AUDIT_SH_EXECVE_BASE64);
const echo = base64(AUDIT_ECHO_EXECVE_BASE64);

test("unicast audit records: nlmsg_len is the payload length (the kernel's documented quirk)", () => {
  const first = sh[0]!;
  assert.equal(first.readUInt32LE(0), first.length - 16);
  const [message] = splitAuditDatagram(first);
  assert.ok(message !== undefined);
  assert.equal(message.type, 1300);
  assert.match(message.payload.toString("utf8"), /key="ring3-exec"$/);
});

test("SYSCALL + BPRM_FCAPS + EXECVE + CWD + 2×PATH + PROCTITLE + EOE reassemble into one event", () => {
  const events = assemble(sh);
  assert.equal(events.length, 1);
  const event = events[0]!;
  assert.equal(event.serial, AUDIT_SH_EXECVE_SERIAL);
  assert.deepEqual(
    event.records.map((r) => r.typeName),
    ["SYSCALL", "BPRM_FCAPS", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"],
  );
  const syscall = event.records[0]!.fields;
  assert.equal(syscall.syscall, "59");
  assert.equal(syscall.exe, "/usr/bin/dash");
  assert.equal(syscall.comm, "sh");
  assert.equal(syscall.key, "ring3-exec");
  // SYSCALL's a0..a3 are raw hex syscall arguments and are not decoded.
  assert.match(syscall.a0!, /^[0-9a-f]+$/);
  assert.deepEqual(execveArgv(event.records), ["/bin/sh", "-c", "sleep 0.2; /bin/echo ring3-test-marker abc"]);
  assert.equal(event.records[3]!.fields.cwd, "/work/main");
  // PROCTITLE is hex with NUL-separated argv; NULs read as spaces.
  assert.equal(event.records[6]!.fields.proctitle, "/bin/sh -c sleep 0.2; /bin/echo ring3-test-marker abc");
});

test("hex-encoded execve arguments decode (space and double quote force hex)", () => {
  const [event] = assemble(base64(AUDIT_HEX_ARGS_BASE64));
  const execve = event!.records.find((r) => r.typeName === "EXECVE")!;
  assert.match(execve.text, /a1=77697468207370616365 /);
  assert.deepEqual(execveArgv(event!.records), ["/bin/echo", "with space", 'quote"d', "plain"]);
});

test("a 9,000-byte argument split as a2_len / a2[0] a2[1] a2[2] over three EXECVE records is rebuilt", () => {
  const hex = JSON.parse(gunzipSync(Buffer.from(AUDIT_LONG_ARG_GZIP_BASE64, "base64")).toString("utf8")) as string[];
  const [event] = assemble(hex.map((h) => Buffer.from(h, "hex")));
  const execve = event!.records.filter((r) => r.typeName === "EXECVE");
  assert.equal(execve.length, 3);
  assert.equal(execve[0]!.fields.a2_len, "18000");
  const argv = execveArgv(event!.records)!;
  assert.deepEqual(argv.slice(0, 2), ["/bin/echo", "ring3-long"]);
  assert.equal(argv[2], "B".repeat(9000));
});

test("records of two serials interleaved reassemble into two events", () => {
  const shRecords = records(sh);
  const echoRecords = records(echo);
  const reassembler = new AuditReassembler();
  const out: AuditEvent[] = [];
  for (let i = 0; i < Math.max(shRecords.length, echoRecords.length); i++) {
    for (const r of [echoRecords[i], shRecords[i]]) if (r !== undefined) out.push(...reassembler.push(r, 0));
  }
  assert.deepEqual(out.map((e) => e.serial).sort(), [AUDIT_SH_EXECVE_SERIAL, AUDIT_ECHO_EXECVE_SERIAL].sort());
  assert.ok(out.every((e) => e.records.length === 7 && e.records.every((r) => r.serial === e.serial)));
});

test("records without EOE are released by age, and standalone user records at once", () => {
  const reassembler = new AuditReassembler({ maxAgeMs: 1000 });
  const configChange = parseAuditRecord(
    1305,
    Buffer.from(
      'audit(1795472386.209:44): auid=4294967295 ses=4294967295 op=remove_rule key="ring3-watch" list=4 res=1\0',
    ),
  )!;
  assert.deepEqual(reassembler.push(configChange, 0), []);
  assert.deepEqual(reassembler.expire(999), []);
  assert.equal(reassembler.expire(1000)[0]?.records[0]?.fields.op, "remove_rule");
  const user = parseAuditRecord(
    1112,
    Buffer.from("audit(1795472386.300:45): pid=1 uid=0 auid=0 ses=1 msg='op=login acct=\"root\" res=success'"),
  )!;
  assert.equal(user.fields.msg, 'op=login acct="root" res=success');
  assert.equal(reassembler.push(user, 0).length, 1);
});

test("serial gaps count as loss once the window has passed; late serials are not loss", () => {
  const tracker = new AuditSerialTracker(4);
  for (const serial of [100, 101, 103, 102, 104]) tracker.observe(serial);
  assert.equal(tracker.lost, 0);
  tracker.observe(106); // 105 missing
  assert.equal(tracker.lost, 0);
  for (const serial of [107, 108, 109, 110]) tracker.observe(serial);
  assert.equal(tracker.lost, 1);
  tracker.observe(1000); // a jump larger than the window counts at once
  assert.equal(tracker.lost, 1 + 889);
  tracker.observe(1002);
  assert.equal(tracker.settle(), 1 + 889 + 1);
});

test("a merged event keeps raw record keys for SigmaHQ auditd rules", () => {
  const [event] = assemble(sh);
  const sigma = auditEventToSigma({ host: "h" }, event!);
  assert.deepEqual(sigma.logsource, { product: "linux", service: "auditd" });
  const f = sigma.fields;
  assert.deepEqual(f.type, ["SYSCALL", "BPRM_FCAPS", "EXECVE", "CWD", "PATH", "PROCTITLE"]);
  assert.deepEqual(f.syscall, ["59", "execve"]);
  assert.equal(f.key, "ring3-exec");
  assert.equal(f.exe, "/usr/bin/dash");
  assert.equal((f.a0 as string[])[1], "/bin/sh");
  assert.equal((f.a2 as string[])[1], "sleep 0.2; /bin/echo ring3-test-marker abc");
  assert.deepEqual(f.name, ["/bin/sh", "/lib64/ld-linux-x86-64.so.2"]);
  assert.equal(sigma.id, `audit-${event!.time.toFixed(3)}-${AUDIT_SH_EXECVE_SERIAL}`);
  assert.match((sigma.raw as string[])[0]!, /^type=SYSCALL msg=audit\(/);
  assert.ok(new UserNameResolver("/nonexistent").name(0) === "0");
});

test("rule encoding: audit_rule_data with arch, syscall bits and the key; keys read back", () => {
  const rule = encodeAuditRule({ kind: "syscall", arch: "b64", syscalls: [59, 322], key: "ring3-exec" });
  assert.equal(rule.length, 1040 + "ring3-exec".length);
  assert.equal(rule.readUInt32LE(12 + 4 * 1), 1 << (59 - 32)); // mask[1] bit 27 = execve
  assert.equal(rule.readUInt32LE(12 + 4 * 10), 1 << (322 - 320)); // mask[10] bit 2 = execveat
  assert.deepEqual(auditRuleKeys(rule), ["ring3-exec"]);
  const watch = encodeAuditRule({ kind: "watch", path: "/etc/passwd", directory: false, key: "ring3-watch" });
  assert.deepEqual(auditRuleKeys(watch), ["ring3-watch"]);
  assert.ok(ring3AuditRules([]).every((r) => r.key.startsWith("ring3-")));
});

test("exec rules leave out execve calls that failed with ENOENT (exit != -2, compared as a u32)", () => {
  const exec = ring3AuditRules([], 4242).filter((r) => r.key === "ring3-exec");
  assert.equal(exec.length, 2);
  assert.ok(exec.every((r) => r.kind === "syscall" && r.exitNot === -2));
  const rule = encodeAuditRule(exec[0]!);
  const fieldsAt = 12 + 4 * 64;
  // fields: arch, exit (AUDIT_EXIT 103) with AUDIT_NOT_EQUAL (0x30000000) and value 0xfffffffe, filterkey.
  assert.equal(rule.readUInt32LE(8), 3);
  assert.deepEqual(
    [rule.readUInt32LE(fieldsAt + 4), rule.readUInt32LE(fieldsAt + 4 * 65), rule.readUInt32LE(fieldsAt + 4 * 129)],
    [103, 0xfffffffe, 0x30000000],
  );
  assert.equal(rule.readUInt32LE(fieldsAt + 4 * 128), 0x40000000); // arch stays AUDIT_EQUAL
  assert.ok(
    ring3AuditRules([], 4242).every((r) => r.kind !== "syscall" || r.key === "ring3-exec" || r.exitNot === undefined),
  );
});

test("audit_status encodes only the masked fields and decodes all", () => {
  const set = encodeAuditSet({ pid: 42, backlogLimit: 8192 });
  assert.equal(set.readUInt32LE(0), 0x4 | 0x10);
  assert.deepEqual([set.readUInt32LE(12), set.readUInt32LE(20), set.readUInt32LE(4)], [42, 8192, 0]);
  const status = decodeAuditStatus(set);
  assert.equal(status.pid, 42);
  assert.equal(status.backlogLimit, 8192);
});

test("ring3-self rules come first and filter on the agent's pid: a0 for kill & co, a1 for ptrace", () => {
  const rules = ring3AuditRules([], 4242);
  const self = rules.slice(0, 4);
  assert.ok(self.every((r) => r.key === "ring3-self" && r.kind === "syscall"));
  assert.ok(rules.slice(4).every((r) => r.key !== "ring3-self"));
  assert.deepEqual(
    self.map((r) => (r.kind === "syscall" ? [r.arch, r.args] : [])),
    [
      ["b64", [{ index: 0, value: 4242 }]],
      ["b32", [{ index: 0, value: 4242 }]],
      ["b64", [{ index: 1, value: 4242 }]],
      ["b32", [{ index: 1, value: 4242 }]],
    ],
  );
  // fields: arch, a0 (AUDIT_ARG0 = 200), filterkey; values at fields + 64 words.
  const rule = encodeAuditRule(self[0]!);
  const fieldsAt = 12 + 4 * 64;
  assert.equal(rule.readUInt32LE(8), 3);
  assert.deepEqual([rule.readUInt32LE(fieldsAt + 4), rule.readUInt32LE(fieldsAt + 4 * 65)], [200, 4242]);
  assert.equal(rule.readUInt32LE(12 + 4 * 1), 1 << (62 - 32)); // mask[1] bit 30 = kill
  assert.deepEqual(auditRuleKeys(rule), ["ring3-self"]);
});
