import assert from "node:assert/strict";
import { test } from "node:test";
import { parseMountInfo, planFilesystemMarks } from "../src/sensors/fanotify/mountinfo.ts";
import {
  FAN_EVENT_INFO_TYPE_DFID_NAME,
  FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
  FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
  fanotifyMaskNames,
  fanotifyPaths,
  parseFanotifyRecord,
} from "../src/sensors/fanotify/parse.ts";
import { PathFilter } from "../src/sensors/fanotify/path-filter.ts";
import { FANOTIFY_RECORDS_HEX } from "./captured-records.ts";

const DIR = "/tmp/ring3-cap-0uZAbJ";
const events = FANOTIFY_RECORDS_HEX.map((hex) => parseFanotifyRecord(Buffer.from(hex, "hex")));

test("captured fanotify records: masks, pid and full paths for mkdir, create, write, rename, unlink, rmdir", () => {
  assert.deepEqual(
    events.map((e) => fanotifyMaskNames(e!.mask).join("|")),
    ["CREATE|ONDIR", "CREATE", "CLOSE_WRITE", "RENAME", "DELETE", "DELETE|ONDIR"],
  );
  assert.ok(events.every((e) => e?.pid === 15950));
  assert.deepEqual(
    events.map((e) => fanotifyPaths(e!)),
    [
      { path: DIR, sourcePath: undefined },
      { path: `${DIR}/cap.txt`, sourcePath: undefined },
      { path: `${DIR}/cap.txt`, sourcePath: undefined },
      { path: `${DIR}/cap2.txt`, sourcePath: `${DIR}/cap.txt` },
      { path: `${DIR}/cap2.txt`, sourcePath: undefined },
      { path: DIR, sourcePath: undefined },
    ],
  );
});

test("fid records carry the filesystem id, the file handle and the entry name", () => {
  const create = events[1]!;
  assert.equal(create.records.length, 1);
  const [record] = create.records;
  assert.equal(record!.type, FAN_EVENT_INFO_TYPE_DFID_NAME);
  assert.equal(record!.fsid, "09b7c81ce97dc0d7");
  assert.equal(record!.handleType, 1); // FILEID_INO32_GEN (ext4)
  assert.equal(record!.handle.length, 8);
  assert.equal(record!.name, "cap.txt");
  assert.equal(record!.directory, DIR);
  // Both directory records of the rename are on the same filesystem and directory.
  assert.deepEqual(
    events[3]!.records.map((r) => [r.type, r.name]),
    [
      [FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, "cap.txt"],
      [FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, "cap2.txt"],
    ],
  );
});

test("an unresolved directory (length 0 after the kernel bytes) leaves the path unknown; short input is rejected", () => {
  const bytes = Buffer.from(FANOTIFY_RECORDS_HEX[1]!, "hex");
  const eventLength = bytes.readUInt32LE(0);
  const unresolved = Buffer.concat([bytes.subarray(0, eventLength), Buffer.from([0, 0])]);
  assert.deepEqual(fanotifyPaths(parseFanotifyRecord(unresolved)!), { path: undefined, sourcePath: undefined });
  // A directory removed before the reader resolved it reads "… (deleted)": not a usable path.
  const deleted = Buffer.from(`${DIR} (deleted)`);
  const length = Buffer.alloc(2);
  length.writeUInt16LE(deleted.length);
  const gone = Buffer.concat([bytes.subarray(0, eventLength), length, deleted]);
  assert.equal(fanotifyPaths(parseFanotifyRecord(gone)!).path, undefined);
  assert.equal(parseFanotifyRecord(bytes.subarray(0, 20)), undefined);
  const truncated = Buffer.from(bytes.subarray(0, 30));
  assert.equal(parseFanotifyRecord(truncated), undefined); // event_len (60) is past the end
});

test("mountinfo: one mark per superblock, pseudo and remote filesystems skipped with a reason", () => {
  const entries = parseMountInfo(
    [
      "22 27 0:21 / /proc rw,relatime - proc proc rw",
      "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
      "28 27 254:0 /srv/data /mnt/bind\\040dir rw,relatime shared:1 - ext4 /dev/vda rw",
      "25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw",
      "29 27 0:25 / /opt/tools ro,relatime - squashfs /dev/loop0 ro",
      "30 24 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw",
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
      "50 27 0:40 / /home/nfs rw - nfs4 server:/export rw",
      "",
    ].join("\n"),
  );
  assert.equal(entries[2]!.mountPoint, "/mnt/bind dir");
  const plan = planFilesystemMarks(entries);
  assert.deepEqual(
    plan.mark.map((m) => m.mountPoint),
    ["/", "/dev/shm"],
  );
  assert.deepEqual(
    plan.skip.map((s) => [s.mountPoint, s.reason.split(":")[0]]),
    [
      ["/proc", "pseudo filesystem"],
      ["/mnt/bind dir", "same filesystem (254"],
      ["/dev/shm", "hidden under a later mount on the same point"],
      ["/opt/tools", "read-only filesystem"],
      ["/sys/fs/cgroup/unified", "pseudo filesystem"],
      ["/home/nfs", "remote or FUSE filesystem"],
    ],
  );
});

test("path filter: include and exclude prefixes by whole path component", () => {
  const filter = new PathFilter({ include: ["/etc", "/tmp/"], exclude: ["/etc/ssl"] });
  filter.addExclude("/tmp/agent.log");
  assert.ok(filter.accepts("/etc/passwd"));
  assert.ok(filter.accepts("/etc"));
  assert.ok(!filter.accepts("/etcetera"));
  assert.ok(!filter.accepts("/etc/ssl/certs/x"));
  assert.ok(filter.accepts("/tmp/x"));
  assert.ok(!filter.accepts("/tmp/agent.log"));
  assert.ok(!filter.accepts("/var/log/x"));
  assert.ok(new PathFilter().accepts("/anything"));
});
