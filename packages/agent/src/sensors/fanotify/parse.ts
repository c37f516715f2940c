/**
 * fanotify events as the addon hands them over: the kernel's bytes for one event, then the directory paths
 * the reader thread resolved (native/ring3_sockets.c, enqueue_fanotify_event). From linux/fanotify.h:
 *
 *   struct fanotify_event_metadata { __u32 event_len; __u8 vers; __u8 reserved; __u16 metadata_len;
 *                                    __aligned_u64 mask; __s32 fd; __s32 pid; };
 *   struct fanotify_event_info_header { __u8 info_type; __u8 pad; __u16 len; };
 *   struct fanotify_event_info_fid { struct fanotify_event_info_header hdr; __kernel_fsid_t fsid;
 *                                    unsigned char handle[]; };
 *   struct file_handle { __u32 handle_bytes; int handle_type; unsigned char f_handle[0]; };  (linux/fcntl.h)
 *
 * "For FAN_EVENT_INFO_TYPE_DFID_NAME there is additionally a null terminated name after the file handle."
 * After the kernel's event_len bytes the addon appends, per directory fid record in order, a __u16 length and
 * that many bytes of path (0: unresolved). Host byte order (little-endian on every target).
 */

export const FAN_CLOSE_WRITE = 0x00000008;
export const FAN_MOVED_FROM = 0x00000040;
export const FAN_MOVED_TO = 0x00000080;
export const FAN_CREATE = 0x00000100;
export const FAN_DELETE = 0x00000200;
export const FAN_Q_OVERFLOW = 0x00004000;
export const FAN_RENAME = 0x10000000;
export const FAN_ONDIR = 0x40000000;

export const FAN_EVENT_INFO_TYPE_FID = 1;
export const FAN_EVENT_INFO_TYPE_DFID_NAME = 2;
export const FAN_EVENT_INFO_TYPE_DFID = 3;
export const FAN_EVENT_INFO_TYPE_OLD_DFID_NAME = 10;
export const FAN_EVENT_INFO_TYPE_NEW_DFID_NAME = 12;

const METADATA_LEN = 24;
const FANOTIFY_METADATA_VERSION = 3;

const MASK_NAMES: readonly (readonly [number, string])[] = [
  [0x00000001, "ACCESS"],
  [0x00000002, "MODIFY"],
  [0x00000004, "ATTRIB"],
  [FAN_CLOSE_WRITE, "CLOSE_WRITE"],
  [0x00000010, "CLOSE_NOWRITE"],
  [0x00000020, "OPEN"],
  [FAN_MOVED_FROM, "MOVED_FROM"],
  [FAN_MOVED_TO, "MOVED_TO"],
  [FAN_CREATE, "CREATE"],
  [FAN_DELETE, "DELETE"],
  [0x00000400, "DELETE_SELF"],
  [0x00000800, "MOVE_SELF"],
  [0x00001000, "OPEN_EXEC"],
  [FAN_Q_OVERFLOW, "Q_OVERFLOW"],
  [0x00008000, "FS_ERROR"],
  [FAN_RENAME, "RENAME"],
  [FAN_ONDIR, "ONDIR"],
];

const maskNames = new Map<number, readonly string[]>();

/** The names of a mask's bits; a handful of masks occur, so each list is built once and shared. */
export function fanotifyMaskNames(mask: number): readonly string[] {
  let names = maskNames.get(mask);
  if (names === undefined) {
    names = Object.freeze(MASK_NAMES.filter(([bit]) => (mask & bit) !== 0).map(([, name]) => name));
    if (maskNames.size < 1024) maskNames.set(mask, names);
  }
  return names;
}

export type FanotifyInfoRecord = {
  readonly type: number;
  /** __kernel_fsid_t as 16 hex digits: which filesystem the handle belongs to. */
  readonly fsid: string;
  readonly handleType: number;
  readonly handle: Buffer;
  /** The entry name (DFID_NAME, OLD_DFID_NAME, NEW_DFID_NAME); "." when the event is on the directory itself. */
  readonly name: string | undefined;
  /** The directory the handle names, as resolved by the reader thread; undefined when it could not be. */
  readonly directory: string | undefined;
};

export type FanotifyEvent = {
  readonly mask: number;
  /** The thread group id of the process that caused the event (FAN_REPORT_TID is not requested). */
  readonly pid: number;
  readonly records: readonly FanotifyInfoRecord[];
};

const DIRECTORY_TYPES: ReadonlySet<number> = new Set([
  FAN_EVENT_INFO_TYPE_DFID_NAME,
  FAN_EVENT_INFO_TYPE_DFID,
  FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
  FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
]);
const NAMED_TYPES: ReadonlySet<number> = new Set([
  FAN_EVENT_INFO_TYPE_DFID_NAME,
  FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
  FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
]);

/** readlink() of a directory that was removed after the event says "/dir (deleted)". */
const DELETED_SUFFIX = " (deleted)";

/** One record from the addon; undefined for a record that is too short or of another metadata version. */
export function parseFanotifyRecord(record: Buffer): FanotifyEvent | undefined {
  if (record.length < METADATA_LEN) return undefined;
  const eventLength = record.readUInt32LE(0);
  const version = record.readUInt8(4);
  const metadataLength = record.readUInt16LE(6);
  if (version !== FANOTIFY_METADATA_VERSION || eventLength < METADATA_LEN || eventLength > record.length)
    return undefined;
  // mask is a __u64 but every event bit ring3 asks for is in the low 32.
  const mask = record.readUInt32LE(8);
  const pid = record.readInt32LE(20);
  const raw: { type: number; fsid: string; handleType: number; handle: Buffer; name: string | undefined }[] = [];
  let offset = metadataLength;
  while (offset + 4 <= eventLength) {
    const type = record.readUInt8(offset);
    const length = record.readUInt16LE(offset + 2);
    if (length < 4 || offset + length > eventLength) break;
    if (type === FAN_EVENT_INFO_TYPE_FID || DIRECTORY_TYPES.has(type)) {
      const body = record.subarray(offset, offset + length);
      if (body.length >= 20) {
        const handleBytes = body.readUInt32LE(12);
        const handleEnd = 20 + handleBytes;
        if (handleEnd <= body.length) {
          let name: string | undefined;
          if (NAMED_TYPES.has(type)) {
            const terminator = body.indexOf(0, handleEnd);
            name = body.toString("utf8", handleEnd, terminator < 0 ? body.length : terminator);
          }
          raw.push({
            type,
            fsid: body.toString("hex", 4, 12),
            handleType: body.readInt32LE(16),
            handle: body.subarray(20, handleEnd),
            name,
          });
        }
      }
    }
    offset += length;
  }
  // The appended directories follow the same order as the directory records.
  let tail = eventLength;
  const records: FanotifyInfoRecord[] = raw.map((r) => {
    let directory: string | undefined;
    if (DIRECTORY_TYPES.has(r.type) && tail + 2 <= record.length) {
      const length = record.readUInt16LE(tail);
      const end = Math.min(tail + 2 + length, record.length);
      if (length > 0) {
        directory = record.toString("utf8", tail + 2, end);
        if (directory.endsWith(DELETED_SUFFIX)) directory = undefined;
      }
      tail = end;
    }
    return { ...r, directory };
  });
  return { mask, pid, records };
}

function joinPath(record: FanotifyInfoRecord | undefined): string | undefined {
  if (record?.directory === undefined) return undefined;
  if (record.name === undefined || record.name === ".") return record.directory;
  return record.directory === "/" ? `/${record.name}` : `${record.directory}/${record.name}`;
}

export type FanotifyPaths = {
  /** The entry created, deleted or written; for FAN_RENAME the new name. */
  readonly path: string | undefined;
  /** FAN_RENAME only: the old name. */
  readonly sourcePath: string | undefined;
};

/** The full paths an event names, or undefined where the directory could not be resolved. */
export function fanotifyPaths(event: FanotifyEvent): FanotifyPaths {
  const find = (type: number): FanotifyInfoRecord | undefined => event.records.find((r) => r.type === type);
  if ((event.mask & FAN_RENAME) !== 0) {
    return {
      path: joinPath(find(FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)),
      sourcePath: joinPath(find(FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)),
    };
  }
  return { path: joinPath(find(FAN_EVENT_INFO_TYPE_DFID_NAME)), sourcePath: undefined };
}
