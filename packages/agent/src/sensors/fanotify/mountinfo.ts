/**
 * /proc/self/mountinfo, proc(5):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)    (10)         (11)
 *
 * (3) major:minor identifies the superblock, (4) the root of the mount within it, (5) the mount point with
 * space, tab, newline and backslash written as \040 \011 \012 \134, (7) zero or more optional fields ended
 * by "-", (9) the filesystem type, (11) the superblock's options ("ro" first when read-only).
 */
export type MountEntry = {
  readonly device: string;
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  /** The superblock is read-only: nothing on it can be created, written or removed. */
  readonly readOnly: boolean;
};

const unescape = (text: string): string =>
  text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (separator < 0 || fields.length < separator + 4) continue;
    out.push({
      device: fields[2]!,
      root: unescape(fields[3]!),
      mountPoint: unescape(fields[4]!),
      fsType: fields[separator + 1]!,
      readOnly: fields[separator + 3]!.split(",").includes("ro"),
    });
  }
  return out;
}

/** Pseudo filesystems: no files an attacker persists in, or (proc, sysfs) a flood of synthetic events. */
export const PSEUDO: ReadonlySet<string> = new Set([
  "proc",
  "sysfs",
  "cgroup",
  "cgroup2",
  "devpts",
  "mqueue",
  "debugfs",
  "tracefs",
  "securityfs",
  "pstore",
  "bpf",
  "configfs",
  "fusectl",
  "binfmt_misc",
  "autofs",
  "hugetlbfs",
  "rpc_pipefs",
  "nsfs",
  "efivarfs",
  "selinuxfs",
]);

/** Remote filesystems: fanotify sees only what this host does there, not other clients' changes. */
const REMOTE: ReadonlySet<string> = new Set(["nfs", "nfs4", "cifs", "smb3", "9p", "ceph", "glusterfs", "afs"]);

export type MountPlan = {
  /** One mount point per superblock, to FAN_MARK_FILESYSTEM (the root mount of it where there is one). */
  readonly mark: readonly MountEntry[];
  readonly skip: readonly { readonly mountPoint: string; readonly fsType: string; readonly reason: string }[];
};

/**
 * Which mounts to mark. A filesystem mark covers every mount of a superblock, so bind mounts and repeated
 * mounts are marked once, through the mount whose root is the filesystem's root (paths then read as the
 * whole filesystem's, e.g. /var/lib/x rather than a bind mount's view of it).
 */
export function planFilesystemMarks(entries: readonly MountEntry[]): MountPlan {
  const skip: { mountPoint: string; fsType: string; reason: string }[] = [];
  const chosen = new Map<string, MountEntry>();
  // mountinfo lists mounts in mount order: an earlier mount on the same point is hidden by the later one,
  // and opening the point reaches only the top one.
  const top = new Map(entries.map((entry, index) => [entry.mountPoint, index]));
  for (const [index, entry] of entries.entries()) {
    const { mountPoint, fsType } = entry;
    if (PSEUDO.has(fsType)) skip.push({ mountPoint, fsType, reason: "pseudo filesystem" });
    else if (top.get(mountPoint) !== index)
      skip.push({ mountPoint, fsType, reason: "hidden under a later mount on the same point" });
    else if (entry.readOnly) skip.push({ mountPoint, fsType, reason: "read-only filesystem" });
    else if (REMOTE.has(fsType) || fsType.startsWith("fuse."))
      skip.push({ mountPoint, fsType, reason: "remote or FUSE filesystem: other clients' changes are invisible" });
    else {
      const previous = chosen.get(entry.device);
      if (previous === undefined) chosen.set(entry.device, entry);
      else {
        const better = previous.root !== "/" && entry.root === "/";
        if (better) chosen.set(entry.device, entry);
        const kept = better ? entry : previous;
        const dropped = better ? previous : entry;
        skip.push({
          mountPoint: dropped.mountPoint,
          fsType,
          reason: `same filesystem (${entry.device}) as ${kept.mountPoint}, covered by its mark`,
        });
      }
    }
  }
  return { mark: [...chosen.values()], skip };
}
