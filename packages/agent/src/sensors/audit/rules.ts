import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { AuditRuleSpec } from "./protocol.ts";
import { SYSCALLS_I386, SYSCALLS_X86_64 } from "./parse.ts";

/** Every ring3 rule key starts with this, so rules a crashed agent left behind can be found and removed. */
export const RING3_KEY_PREFIX = "ring3-";

export const DEFAULT_WATCHED_PATHS: readonly string[] = [
  "/etc/passwd",
  "/etc/shadow",
  "/etc/group",
  "/etc/gshadow",
  "/etc/sudoers",
  "/etc/sudoers.d",
  "/etc/ssh/sshd_config",
  "/root/.ssh",
  "/etc/crontab",
  "/etc/cron.d",
  "/etc/ld.so.preload",
  "/etc/systemd/system",
];

// What each key covers, by syscall name per ABI. On i386 the socket calls also go through socketcall(2),
// which audit reports as syscall=102 with the real call in a0; it is included so 32-bit connects are seen.
const GROUPS: readonly { readonly key: string; readonly b64: readonly string[]; readonly b32: readonly string[] }[] = [
  { key: "ring3-exec", b64: ["execve", "execveat"], b32: ["execve", "execveat"] },
  {
    key: "ring3-net",
    b64: ["connect", "accept", "accept4", "bind"],
    b32: ["connect", "accept4", "bind", "socketcall"],
  },
  {
    key: "ring3-module",
    b64: ["init_module", "finit_module", "delete_module"],
    b32: ["init_module", "finit_module", "delete_module"],
  },
  { key: "ring3-ptrace", b64: ["ptrace"], b32: ["ptrace"] },
  {
    key: "ring3-priv",
    b64: ["setuid", "setreuid", "setresuid", "setfsuid", "capset"],
    b32: [
      "setuid",
      "setuid32",
      "setreuid",
      "setreuid32",
      "setresuid",
      "setresuid32",
      "setfsuid",
      "setfsuid32",
      "capset",
    ],
  },
  { key: "ring3-mount", b64: ["mount"], b32: ["mount"] },
];

/**
 * Calls aimed at the agent's own pid, by the argument that holds the target: kill/tkill/tgkill/pidfd_open/
 * process_vm_* take it first, ptrace second. These rules go first because the kernel stops at the first exit
 * rule that matches, so their key (ring3-self) is what the event carries, not ring3-ptrace.
 */
const SELF_TARGETED: readonly { readonly index: 0 | 1; readonly names: readonly string[] }[] = [
  { index: 0, names: ["kill", "tkill", "tgkill", "pidfd_open", "process_vm_readv", "process_vm_writev"] },
  { index: 1, names: ["ptrace"] },
];
export const SELF_KEY = "ring3-self";
const ENOENT = 2;

function numbers(names: readonly string[], table: Readonly<Record<string, number>>): number[] {
  return names.map((name) => table[name]).filter((nr) => nr !== undefined);
}

/**
 * ring3's audit rules: calls aimed at the agent itself (signals, ptrace, pidfd, process_vm_*), syscall rules for both ABIs (a 32-bit execve is a classic way around b64-only rules),
 * then write/attribute watches on the sensitive paths that can be watched here (a watch needs its parent
 * directory to exist).
 */
export function ring3AuditRules(
  watchedPaths: readonly string[] = DEFAULT_WATCHED_PATHS,
  selfPid: number = process.pid,
): AuditRuleSpec[] {
  const rules: AuditRuleSpec[] = [];
  for (const { index, names } of SELF_TARGETED)
    for (const [arch, table] of [
      ["b64", SYSCALLS_X86_64],
      ["b32", SYSCALLS_I386],
    ] as const)
      rules.push({
        kind: "syscall",
        arch,
        syscalls: numbers(names, table),
        args: [{ index, value: selfPid }],
        key: SELF_KEY,
      });
  for (const group of GROUPS) {
    // An execve that failed with ENOENT ran nothing: execvp() and env try every $PATH directory in turn, and
    // on a busy host those misses were most of the audit events an idle agent read.
    const exitNot = group.key === "ring3-exec" ? -ENOENT : undefined;
    for (const [arch, names, table] of [
      ["b64", group.b64, SYSCALLS_X86_64],
      ["b32", group.b32, SYSCALLS_I386],
    ] as const)
      rules.push({
        kind: "syscall",
        arch,
        syscalls: numbers(names, table),
        ...(exitNot === undefined ? {} : { exitNot }),
        key: group.key,
      });
  }
  for (const path of watchedPaths) {
    if (!existsSync(dirname(path))) continue;
    const directory = existsSync(path) && statSync(path).isDirectory();
    rules.push({ kind: "watch", path, directory, key: "ring3-watch" });
  }
  return rules;
}
