import { realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { ProcStat } from "../sensors/proc-inventory/parse.ts";
import { lineage } from "./process-scan.ts";

/**
 * Processes no action touches without `force`, by comm (/proc/<pid>/stat, at most 15 characters): the init
 * system and the daemons a host or its management link needs. sshd is here because killing the listener
 * cuts the operator off; an attacker's session under it is still reachable by its own pid.
 */
export const DEFAULT_PROTECTED_PROCESSES: readonly string[] = [
  "systemd",
  "init",
  "systemd-journal",
  "systemd-udevd",
  "systemd-logind",
  "systemd-network",
  "systemd-resolve",
  "dbus-daemon",
  "dbus-broker",
  "auditd",
  "sshd",
];

/**
 * Paths quarantine refuses without `force`: the system's binaries and libraries, boot, the kernel's virtual
 * filesystems, and the files that log a user in or name the host's disks and resolvers. Removing one of these
 * can leave a host that no longer boots or that nobody can log into — which is exactly when force is a
 * decision an operator has to make deliberately.
 */
export const CRITICAL_PATH_PREFIXES: readonly string[] = [
  "/bin/",
  "/sbin/",
  "/usr/bin/",
  "/usr/sbin/",
  "/lib/",
  "/lib32/",
  "/lib64/",
  "/libx32/",
  "/usr/lib/",
  "/usr/lib32/",
  "/usr/lib64/",
  "/usr/libexec/",
  "/boot/",
  "/proc/",
  "/sys/",
  "/dev/",
  "/etc/pam.d/",
];

export const CRITICAL_FILES: readonly string[] = [
  "/etc/passwd",
  "/etc/shadow",
  "/etc/group",
  "/etc/gshadow",
  "/etc/sudoers",
  "/etc/fstab",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/nsswitch.conf",
  "/etc/ld.so.cache",
  "/etc/login.defs",
  "/etc/machine-id",
];

export type GuardrailOptions = {
  /** The process the guardrails protect as "the agent itself" (and its ancestors). */
  readonly selfPid?: number;
  readonly protectedProcesses?: readonly string[];
  /** Paths under these are refused even with force: ring3's own state (its quarantine, its logs). */
  readonly ownPaths?: readonly string[];
  readonly procRoot?: string;
};

/** Why a process or a path must not be acted on; one instance per executor. */
export class Guardrails {
  private readonly selfPid: number;
  private readonly protectedProcesses: ReadonlySet<string>;
  private readonly ownPaths: readonly string[];
  private readonly procRoot: string;

  constructor(options: GuardrailOptions = {}) {
    this.selfPid = options.selfPid ?? process.pid;
    this.protectedProcesses = new Set(options.protectedProcesses ?? DEFAULT_PROTECTED_PROCESSES);
    this.ownPaths = (options.ownPaths ?? []).map((p) => resolve(p));
    this.procRoot = options.procRoot ?? "/proc";
  }

  /** The agent and its ancestors, read now (a daemon's parent can change when it is re-parented). */
  selfLineage(): Promise<Set<number>> {
    return lineage(this.selfPid, this.procRoot);
  }

  /**
   * Why `stat` is protected, or undefined. PID 1, kernel threads and the agent's own lineage are protected
   * always; the critical-process list yields to `force`.
   */
  processReason(stat: ProcStat, self: ReadonlySet<number>, force: boolean): string | undefined {
    if (stat.pid === 1) return "PID 1 (init) is never acted on";
    if (stat.pid === 2 || stat.ppid === 2) return `kernel thread [${stat.comm}]`;
    if (stat.pid === this.selfPid) return "the agent itself";
    if (self.has(stat.pid)) return `an ancestor of the agent (${stat.comm})`;
    if (!force && this.protectedProcesses.has(stat.comm))
      return `critical process '${stat.comm}' (protected list; force to act anyway)`;
    return undefined;
  }

  /**
   * Why quarantining `path` is refused, judged on the real path of its directory (so /tmp/../bin/ls and a
   * symlinked /bin are caught), or undefined.
   */
  async pathReason(path: string, force: boolean): Promise<string | undefined> {
    const absolute = resolve(path);
    const parent = await realpath(dirname(absolute)).catch(() => dirname(absolute));
    const real = join(parent, basename(absolute));
    for (const own of this.ownPaths)
      if (real === own || real.startsWith(`${own}/`) || absolute.startsWith(`${own}/`))
        return `${real} is inside ring3's own state (${own})`;
    if (force) return undefined;
    if (CRITICAL_FILES.includes(real)) return `${real} is a system-critical file (force to quarantine anyway)`;
    const prefix = CRITICAL_PATH_PREFIXES.find((p) => real.startsWith(p));
    if (prefix !== undefined)
      return `${real} is under ${prefix}, a system-critical directory (force to quarantine anyway)`;
    if (real === process.execPath) return `${real} is the Node.js runtime ring3 runs on (force to quarantine anyway)`;
    return undefined;
  }
}
