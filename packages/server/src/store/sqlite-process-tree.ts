import type { ProcessTree, ProcessTreeNode, StoredEvent } from "@ring3/protocol";
import { integerField } from "./field-text.ts";
import type { Row } from "./sqlite-connection.ts";
import { term, termsTable } from "./sqlite-event-index.ts";
import { EVENT_COLUMNS, termDays, toStoredEvent } from "./sqlite-event-search.ts";
import type { EventSearchContext } from "./sqlite-event-search.ts";

/**
 * A process tree rebuilt from a host's process_creation / process_termination events (Sysmon's fields, which
 * the Linux agent fills the same way: ProcessId, ParentProcessId, Image, CommandLine, User). Pids are reused,
 * so a process is one creation event, alive from its time until its termination or the next creation of the
 * same pid; its parent is the latest creation of the parent pid at or before the child's start.
 *
 * The index gives every process event terms by host and pid ("created", "child of", "ended"); the host's
 * process events past the index's watermark are read directly and merged, so a tree never depends on how
 * far the indexer got.
 */
const MAX_DEPTH_UP = 32;
const MAX_DEPTH_DOWN = 4;
const MAX_NODES = 300;
const MAX_CHILDREN = 200;
const MAX_SIBLINGS = 50;
const RECENT_WITHOUT_PID = 200;
const FOREVER = Number.MAX_SAFE_INTEGER;

type Start = { pid: number; ppid: number | undefined; startMs: number; seq: number };
type End = { pid: number; endMs: number; seq: number };
type ProcessRow = { seq: number; time_ms: number; fields: string };

/** Later first: by time, then by ingest order. */
const newest = (a: Start, b: Start): number => b.startMs - a.startMs || b.seq - a.seq;
const oldest = (a: Start, b: Start): number => a.startMs - b.startMs || a.seq - b.seq;

function startOf(row: ProcessRow): Start | undefined {
  const fields = JSON.parse(row.fields) as Record<string, unknown>;
  const pid = integerField(fields["ProcessId"]);
  return pid === undefined
    ? undefined
    : { pid, ppid: integerField(fields["ParentProcessId"]), startMs: row.time_ms, seq: row.seq };
}

class ProcessEvents {
  private readonly ctx: EventSearchContext;
  private readonly hostNo: number;
  private readonly tailStarts: Start[] = [];
  private readonly tailEnds: End[] = [];

  constructor(ctx: EventSearchContext, hostNo: number) {
    this.ctx = ctx;
    this.hostNo = hostNo;
    const tail = ctx.conn.all<ProcessRow & { category: string }>(
      `SELECT e.seq, e.time_ms, e.fields, l.category FROM events e NOT INDEXED JOIN logsources l ON l.id = e.logsource_id
       WHERE e.seq > ? AND e.host_no = ? AND l.category IN ('process_creation', 'process_termination')`,
      ctx.indexedSeq(),
      hostNo,
    );
    for (const row of tail) {
      const start = startOf(row);
      if (start === undefined) continue;
      if (row.category === "process_creation") this.tailStarts.push(start);
      else this.tailEnds.push({ pid: start.pid, endMs: row.time_ms, seq: row.seq });
    }
  }

  /**
   * The indexed events of this host carrying `t`, in [fromMs, toMs], that `keep` accepts: day by day (newest
   * or oldest day first) until a day yields at least `enough`.
   */
  private withTerm(
    t: string,
    fromMs: number,
    toMs: number,
    order: "newest" | "oldest",
    enough: number,
    keep: (s: Start) => boolean,
  ): Start[] {
    const days = termDays(this.ctx.conn, fromMs, toMs);
    if (order === "oldest") days.reverse();
    const found: Start[] = [];
    for (const day of days) {
      const table = termsTable(day);
      for (const row of this.ctx.conn.all<ProcessRow>(
        `SELECT e.seq, e.time_ms, e.fields FROM ${table} t JOIN events e ON e.seq = t.rowid
         WHERE ${table} MATCH ? AND e.host_no = ? AND e.time_ms >= ? AND e.time_ms <= ?`,
        t,
        this.hostNo,
        fromMs,
        toMs,
      )) {
        const start = startOf(row);
        if (start !== undefined && keep(start)) found.push(start);
      }
      if (found.length >= enough) break;
    }
    return found;
  }

  /** The latest creation of `pid` at or before `atMs`. */
  latest(pid: number, atMs: number): Start | undefined {
    const keep = (s: Start): boolean => s.pid === pid && s.startMs <= atMs;
    return [
      ...this.withTerm(term.created(this.hostNo, pid), -FOREVER, atMs, "newest", 1, keep),
      ...this.tailStarts.filter(keep),
    ].sort(newest)[0];
  }

  /** Until when a process can have lived: up to the next creation of its pid. */
  limit(p: Start): number {
    const keep = (s: Start): boolean =>
      s.pid === p.pid && (s.startMs > p.startMs || (s.startMs === p.startMs && s.seq > p.seq));
    const next = [
      ...this.withTerm(term.created(this.hostNo, p.pid), p.startMs, FOREVER, "oldest", 1, keep),
      ...this.tailStarts.filter(keep),
    ].sort(oldest)[0];
    return next === undefined ? FOREVER : next.startMs;
  }

  children(p: Start, limit: number): Start[] {
    const until = this.limit(p);
    const keep = (s: Start): boolean =>
      s.ppid === p.pid && s.seq !== p.seq && s.startMs >= p.startMs && s.startMs <= until;
    return [
      ...this.withTerm(term.childOf(this.hostNo, p.pid), p.startMs, until, "oldest", limit, keep),
      ...this.tailStarts.filter(keep),
    ]
      .sort(oldest)
      .slice(0, limit);
  }

  end(p: Start): End | undefined {
    const until = this.limit(p);
    const keep = (s: Start): boolean => s.pid === p.pid && s.startMs >= p.startMs && s.startMs <= until;
    const ends = [
      ...this.withTerm(term.ended(this.hostNo, p.pid), p.startMs, until, "oldest", 1, keep).map((s) => ({
        pid: s.pid,
        endMs: s.startMs,
        seq: s.seq,
      })),
      ...this.tailEnds.filter((e) => keep({ pid: e.pid, ppid: undefined, startMs: e.endMs, seq: e.seq })),
    ];
    return ends.sort((a, b) => a.endMs - b.endMs || a.seq - b.seq)[0];
  }

  /** The host's latest process creations at or before `atMs` (the events table covers the tail too). */
  recent(atMs: number, limit: number): Start[] {
    return this.ctx.conn
      .all<ProcessRow>(
        `SELECT e.seq, e.time_ms, e.fields FROM events e INDEXED BY events_host_time
         WHERE e.host_no = ? AND e.time_ms <= ?
           AND e.logsource_id IN (SELECT id FROM logsources WHERE category = 'process_creation')
         ORDER BY e.time_ms DESC, e.seq DESC LIMIT ?`,
        this.hostNo,
        atMs,
        limit,
      )
      .map(startOf)
      .filter((s): s is Start => s !== undefined);
  }

  events(seqs: readonly number[]): Map<number, StoredEvent> {
    const rows =
      seqs.length === 0
        ? []
        : this.ctx.conn.all(
            `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.seq IN (SELECT value FROM json_each(?))`,
            JSON.stringify(seqs),
          );
    return new Map(rows.map((row: Row) => [row.seq as number, toStoredEvent(this.ctx, row)]));
  }
}

export function processTree(
  ctx: EventSearchContext,
  hostId: string,
  pid: number | undefined,
  atMs: number | undefined,
): ProcessTree {
  const hostNo = ctx.hostNo(hostId);
  const tree: ProcessTree = { hostId, ...(pid === undefined ? {} : { focusPid: pid }), nodes: [] };
  if (hostNo === undefined) return tree;
  const processes = new ProcessEvents(ctx, hostNo);
  const at = atMs ?? FOREVER;

  const found = new Map<number, Start>();
  /** Parents the events do not show (they started before the agent): known by pid only. */
  const unknownParents: number[] = [];
  const add = (p: Start): boolean => {
    if (found.size >= MAX_NODES || found.has(p.seq)) return false;
    found.set(p.seq, p);
    return true;
  };

  if (pid === undefined) {
    for (const p of processes.recent(at, RECENT_WITHOUT_PID)) add(p);
  } else {
    const focus = processes.latest(pid, at);
    if (focus === undefined) {
      tree.nodes.push({ pid, alertIds: [] });
      return tree;
    }
    add(focus);
    let child = focus;
    let parent: Start | undefined;
    for (let depth = 0; depth < MAX_DEPTH_UP && child.ppid !== undefined && child.ppid !== child.pid; depth += 1) {
      const up = processes.latest(child.ppid, child.startMs);
      if (up === undefined) {
        unknownParents.push(child.ppid);
        break;
      }
      if (!add(up)) break;
      parent ??= up;
      child = up;
    }
    if (parent !== undefined) for (const sibling of processes.children(parent, MAX_SIBLINGS + 1)) add(sibling);
    let level = [focus];
    for (let depth = 0; depth < MAX_DEPTH_DOWN && level.length > 0; depth += 1) {
      const next: Start[] = [];
      for (const p of level) for (const c of processes.children(p, MAX_CHILDREN)) if (add(c)) next.push(c);
      level = next;
    }
  }

  const starts = [...found.values()];
  const ends = new Map(starts.map((p) => [p.seq, processes.end(p)]));
  const events = processes.events([
    ...starts.map((p) => p.seq),
    ...[...ends.values()].filter((e): e is End => e !== undefined).map((e) => e.seq),
  ]);
  const limits = new Map(starts.map((p) => [p.seq, processes.limit(p)]));
  const alerts = alertsByProcess(ctx, hostNo, starts, limits);
  for (const p of starts) {
    const event = events.get(p.seq);
    const end = ends.get(p.seq);
    const text = (name: string): string | undefined => {
      const value = event?.fields[name];
      return typeof value === "string" ? value : undefined;
    };
    const image = text("Image");
    const commandLine = text("CommandLine");
    const user = text("User");
    const endTime = end === undefined ? undefined : events.get(end.seq)?.time;
    const node: ProcessTreeNode = {
      pid: p.pid,
      ...(p.ppid === undefined ? {} : { ppid: p.ppid }),
      ...(image === undefined ? {} : { image }),
      ...(commandLine === undefined ? {} : { commandLine }),
      ...(user === undefined ? {} : { user }),
      ...(event === undefined ? {} : { startTime: event.time, eventId: event.id }),
      ...(endTime === undefined ? {} : { endTime }),
      alertIds: alerts.get(p.seq) ?? [],
    };
    tree.nodes.push(node);
  }
  for (const ppid of unknownParents) tree.nodes.push({ pid: ppid, alertIds: [] });
  return tree;
}

/** The alerts raised on events of each process: the event's ProcessId, within the process's lifetime. */
function alertsByProcess(
  ctx: EventSearchContext,
  hostNo: number,
  starts: readonly Start[],
  limits: ReadonlyMap<number, number>,
): Map<number, string[]> {
  const byProcess = new Map<number, string[]>();
  if (starts.length === 0) return byProcess;
  const sightings = ctx.conn.all<{ alert_id: string; time_ms: number; fields: string }>(
    `SELECT a.id AS alert_id, e.time_ms, e.fields FROM alert_sightings s JOIN alerts a ON a.no = s.alert_no
     JOIN events e ON e.host_no = s.host_no AND e.event_id = s.event_id
     WHERE s.host_no = ? AND s.time_ms >= ?`,
    hostNo,
    Math.min(...starts.map((p) => p.startMs)),
  );
  for (const s of sightings) {
    const pid = integerField((JSON.parse(s.fields) as Record<string, unknown>)["ProcessId"]);
    const owner = starts.find(
      (p) => p.pid === pid && s.time_ms >= p.startMs && s.time_ms < (limits.get(p.seq) ?? FOREVER),
    );
    if (owner === undefined) continue;
    const ids = byProcess.get(owner.seq) ?? [];
    if (!ids.includes(s.alert_id)) ids.push(s.alert_id);
    byProcess.set(owner.seq, ids);
  }
  return byProcess;
}
