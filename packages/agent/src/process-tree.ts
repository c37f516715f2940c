/**
 * What ring3 knows about every process: seeded from /proc, kept current by the connector (fork/exit for
 * every process) and audit (argv, exe, cwd, auid at exec). Exited processes stay for `retentionMs` so that
 * audit records arriving after the exit (kauditd is asynchronous) and children still find their parent.
 */
export type ProcessNode = {
  readonly pid: number;
  ppid: number;
  image: string | undefined;
  argv: readonly string[] | undefined;
  commandLine: string | undefined;
  cwd: string | undefined;
  uid: number | undefined;
  /** Audit login uid: who logged in, unchanged by su/sudo. 4294967295 (unset) for daemons. */
  auid: number | undefined;
  comm: string | undefined;
  startTime: string;
  exitTime: string | undefined;
  /** Date.now() at exit, for ageing out. */
  exitedAtMs: number | undefined;
};

export type ExecDetails = {
  readonly image?: string | undefined;
  readonly argv?: readonly string[] | undefined;
  readonly commandLine?: string | undefined;
  readonly cwd?: string | undefined;
  readonly uid?: number | undefined;
  readonly auid?: number | undefined;
  readonly comm?: string | undefined;
  readonly ppid?: number | undefined;
};

export type ProcessTreeOptions = {
  /** How long an exited process is kept. */
  readonly retentionMs?: number;
  /** Hard cap on nodes; the oldest exited go first, then the oldest entries of all. */
  readonly maxProcesses?: number;
};

/** Connector times (monotonic, converted) and audit times (wall clock) of one moment differ by about a ms. */
const FORK_EXEC_SKEW_MS = 50;

export class ProcessTree {
  // Map iteration order is insertion order: re-inserting on fork/exec keeps the oldest entries first.
  private readonly nodes = new Map<number, ProcessNode>();
  private readonly retentionMs: number;
  private readonly maxProcesses: number;

  constructor(options: ProcessTreeOptions = {}) {
    this.retentionMs = options.retentionMs ?? 30_000;
    this.maxProcesses = options.maxProcesses ?? 32_768;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(pid: number): ProcessNode | undefined {
    return this.nodes.get(pid);
  }

  /** Processes not known to have exited. */
  *live(): Generator<ProcessNode> {
    for (const node of this.nodes.values()) if (node.exitTime === undefined) yield node;
  }

  /** A process seen in /proc at start (or read on demand); does not replace what events already told. */
  addSnapshot(pid: number, ppid: number, startTime: string, details: ExecDetails): ProcessNode {
    const existing = this.nodes.get(pid);
    if (existing !== undefined) return existing;
    const node = this.create(pid, ppid, startTime);
    Object.assign(node, pick(details));
    return node;
  }

  /**
   * A new process (connector fork with child_pid == child_tgid): it runs the parent's image until exec. The
   * child's audit execve can be read before the connector's fork (the two arrive on separate sockets): a
   * live entry that started at or after the fork (within FORK_EXEC_SKEW_MS of clock conversion) is that
   * exec's, and stays; any other entry of the pid belongs to an earlier process and is replaced.
   */
  fork(parentPid: number, childPid: number, time: string): ProcessNode {
    const existing = this.nodes.get(childPid);
    if (
      existing !== undefined &&
      existing.exitTime === undefined &&
      Date.parse(existing.startTime) >= Date.parse(time) - FORK_EXEC_SKEW_MS
    ) {
      existing.ppid = parentPid;
      return existing;
    }
    const parent = this.nodes.get(parentPid);
    const node = this.create(childPid, parentPid, time);
    if (parent !== undefined) {
      node.image = parent.image;
      node.argv = parent.argv;
      node.commandLine = parent.commandLine;
      node.cwd = parent.cwd;
      node.uid = parent.uid;
      node.auid = parent.auid;
      node.comm = parent.comm;
    }
    return node;
  }

  /** A successful execve: the process keeps its pid and parent, and gets a new image and argv. */
  exec(pid: number, time: string, details: ExecDetails): ProcessNode {
    let node = this.nodes.get(pid);
    if (node === undefined) node = this.create(pid, details.ppid ?? 0, time);
    else {
      // Move to the end: an exec makes the entry as fresh as a new one.
      this.nodes.delete(pid);
      this.nodes.set(pid, node);
    }
    if (details.ppid !== undefined) node.ppid = details.ppid;
    Object.assign(node, pick(details));
    this.enforceCap();
    return node;
  }

  exit(pid: number, time: string, nowMs = Date.now()): ProcessNode | undefined {
    const node = this.nodes.get(pid);
    if (node === undefined || node.exitTime !== undefined) return node;
    node.exitTime = time;
    node.exitedAtMs = nowMs;
    return node;
  }

  /** Parent, grandparent… up to `maxDepth`, stopping at an unknown pid or a loop. */
  ancestry(pid: number, maxDepth = 16): ProcessNode[] {
    const out: ProcessNode[] = [];
    const seen = new Set<number>([pid]);
    let current = this.nodes.get(pid);
    while (current !== undefined && out.length < maxDepth) {
      const parent = this.nodes.get(current.ppid);
      if (parent === undefined || seen.has(parent.pid)) break;
      seen.add(parent.pid);
      out.push(parent);
      current = parent;
    }
    return out;
  }

  /** Drops exited processes older than the retention time; call periodically. */
  sweep(nowMs = Date.now()): number {
    let removed = 0;
    for (const [pid, node] of this.nodes) {
      if (node.exitedAtMs !== undefined && nowMs - node.exitedAtMs >= this.retentionMs) {
        this.nodes.delete(pid);
        removed += 1;
      }
    }
    return removed;
  }

  private create(pid: number, ppid: number, startTime: string): ProcessNode {
    // A reused pid replaces the old (exited) entry.
    this.nodes.delete(pid);
    const node: ProcessNode = {
      pid,
      ppid,
      image: undefined,
      argv: undefined,
      commandLine: undefined,
      cwd: undefined,
      uid: undefined,
      auid: undefined,
      comm: undefined,
      startTime,
      exitTime: undefined,
      exitedAtMs: undefined,
    };
    this.nodes.set(pid, node);
    this.enforceCap();
    return node;
  }

  private enforceCap(): void {
    if (this.nodes.size <= this.maxProcesses) return;
    for (const [pid, node] of this.nodes) {
      if (this.nodes.size <= this.maxProcesses) return;
      if (node.exitedAtMs !== undefined) this.nodes.delete(pid);
    }
    for (const pid of this.nodes.keys()) {
      if (this.nodes.size <= this.maxProcesses) return;
      this.nodes.delete(pid);
    }
  }
}

function pick(details: ExecDetails): Partial<ProcessNode> {
  const out: Partial<Record<keyof ExecDetails, unknown>> = {};
  for (const key of ["image", "argv", "commandLine", "cwd", "uid", "auid", "comm"] as const) {
    if (details[key] !== undefined) out[key] = details[key];
  }
  return out as Partial<ProcessNode>;
}
