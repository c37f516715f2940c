import type { InetSocket } from "./sensors/sock-diag/parse.ts";
import { PROTOCOL_NAMES } from "./sensors/sock-diag/parse.ts";

export type Endpoint = { readonly ip: string; readonly port: number };

/**
 * One connect() or accept() as audit reported it, with what the agent could add from the socket itself. Audit
 * names the remote end only (connect's destination, accept's peer — and not even that for an accept called
 * with a NULL address); the local end comes from the socket while the process still holds it, else from the
 * sock_diag destroy notification of the socket once it is gone.
 */
export type ConnectionAttempt<T> = {
  readonly pid: number;
  /** When the call was made (the audit record's time). */
  readonly timeMs: number;
  readonly initiated: boolean;
  readonly protocol: string | undefined;
  readonly local: Endpoint | undefined;
  readonly remote: Endpoint | undefined;
  /** accept() only: the listening socket's address, when the accepted socket itself was already gone. */
  readonly listener: Endpoint | undefined;
  /** SO_COOKIE, as inet_diag reports it: pairs the socket with its destroy notification. */
  readonly cookie: string | undefined;
  /** What the agent keeps for the events (image, raw fields). */
  readonly context: T;
};

/** Where the local end and protocol came from. */
export type LocalSource = "socket" | "sock-diag-destroy" | "unknown";

export type ResolvedConnection<T> = ConnectionAttempt<T> & { readonly localFrom: LocalSource };

/** The end of a connection: its destroy notification, with the socket's final counters. */
export type ConnectionEnd = { readonly timeMs: number; readonly socket: InetSocket };

export type ConnectionTrackerOptions<T> = {
  readonly onConnection: (connection: ResolvedConnection<T>) => void;
  readonly onClosed: (connection: ResolvedConnection<T>, end: ConnectionEnd) => void;
  /**
   * How long an attempt without its local end waits for the destroy notification of its socket: at least
   * `waitMs`, and until a destroy notification that arrived `waitMs` after the attempt shows the stream has
   * caught up (a starved host can read a socket's destroy late), but never more than `maxWaitMs`.
   */
  readonly waitMs?: number;
  readonly maxWaitMs?: number;
  /** How long a destroy notification nobody claimed waits for the audit record it belongs to. */
  readonly keepDestroysMs?: number;
  /** Connections whose close is awaited, at most (the oldest are forgotten first). */
  readonly maxTracked?: number;
};

/** `since`: when the attempt reached the tracker (audit records can arrive late; the wait starts here). */
type Pending<T> = {
  readonly attempt: ConnectionAttempt<T>;
  readonly keys: readonly string[];
  readonly since: number;
  done: boolean;
};
type Destroyed = { readonly end: ConnectionEnd; readonly keys: readonly string[]; used: boolean };

/**
 * A first-in first-out list with a moving head: entries leave in arrival order (by age), and an entry that
 * was taken out of order is only marked and skipped. Every operation is amortised O(1) but the search.
 */
class Fifo<V> {
  private items: V[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(value: V): void {
    this.items.push(value);
  }

  first(): V | undefined {
    return this.items[this.head];
  }

  shift(): V | undefined {
    const value = this.items[this.head];
    if (value === undefined) return undefined;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }

  find(ok: (value: V) => boolean): V | undefined {
    for (let i = this.head; i < this.items.length; i++) if (ok(this.items[i]!)) return this.items[i];
    return undefined;
  }
}

/** "::ffff:127.0.0.1" and "127.0.0.1" are one address (a dual-stack socket reports the mapped form). */
function plainIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

export function sameIp(a: string, b: string): boolean {
  return plainIp(a) === plainIp(b);
}

const endpointKey = (ip: string, port: number): string => `${plainIp(ip)}|${port}`;
const WILDCARD: ReadonlySet<string> = new Set(["0.0.0.0", "::"]);

/**
 * Pairs audit's connect()/accept() records with sockets: at once when the socket was read, else with the
 * socket's destroy notification (which carries the full address pair, the protocol and the final TCP
 * counters), and with the destroy notification again for the connection's end.
 *
 * Pairing without a socket is by the addresses audit knows: a connect's destination, an accept's peer (or,
 * for an accept without an address, the listener's port). Several attempts that fit one destroy (one process
 * connecting to one destination many times a second) are taken oldest first, so each of them gets one of the
 * matching sockets' local ports, not necessarily its own: they are the same process and destination, and
 * only the ports can be swapped. An attempt no destroy fits in time (see `waitMs`) is reported without its
 * local end (`localFrom: "unknown"`).
 */
export class ConnectionTracker<T> {
  private readonly options: ConnectionTrackerOptions<T>;
  private readonly waitMs: number;
  private readonly maxWaitMs: number;
  /** When the last destroy notification arrived. */
  private lastDestroyMs = Number.NEGATIVE_INFINITY;
  private readonly keepDestroysMs: number;
  private readonly maxTracked: number;
  /** Connections reported and waiting for their end, by cookie (insertion order: oldest first). */
  private readonly open = new Map<string, ResolvedConnection<T>>();
  private readonly pending = new Fifo<Pending<T>>();
  private readonly pendingByKey = new Map<string, Fifo<Pending<T>>>();
  private readonly destroys = new Fifo<Destroyed>();
  private readonly destroysByKey = new Map<string, Fifo<Destroyed>>();
  /** Counters for the health line. */
  paired = 0;
  unpaired = 0;
  closed = 0;
  /** Connections whose close will not be reported: dropped from a full table, or given another's socket. */
  forgotten = 0;
  misread = 0;

  constructor(options: ConnectionTrackerOptions<T>) {
    this.options = options;
    this.waitMs = options.waitMs ?? 250;
    this.maxWaitMs = options.maxWaitMs ?? 2000;
    this.keepDestroysMs = options.keepDestroysMs ?? 5000;
    this.maxTracked = options.maxTracked ?? 65_536;
  }

  get tracked(): number {
    return this.open.size;
  }

  get waiting(): number {
    return this.pending.size;
  }

  /** When the oldest waiting attempt may be due (for the caller's timer), or undefined when none waits. */
  get nextDeadline(): number | undefined {
    const first = this.pending.first();
    if (first === undefined) return undefined;
    return this.lastDestroyMs - first.since >= this.waitMs ? first.since + this.waitMs : first.since + this.maxWaitMs;
  }

  attempt(attempt: ConnectionAttempt<T>, nowMs: number): void {
    if (attempt.local !== undefined && attempt.remote !== undefined && attempt.protocol !== undefined) {
      this.report({ ...attempt, localFrom: "socket" });
      return;
    }
    const keys = attemptKeys(attempt);
    for (const key of keys) {
      const destroyed = this.destroysByKey.get(key)?.find((d) => !d.used && fits(attempt, d.end.socket));
      if (destroyed !== undefined) {
        destroyed.used = true;
        this.pairWith(attempt, destroyed.end);
        return;
      }
    }
    const pending: Pending<T> = { attempt, keys, since: nowMs, done: false };
    this.pending.push(pending);
    for (const key of keys) push(this.pendingByKey, key, pending);
    this.expire(nowMs);
  }

  /** A destroy notification: the end of a connection reported earlier, or the socket a waiting attempt needs. */
  destroyed(socket: InetSocket, nowMs: number): void {
    this.lastDestroyMs = nowMs;
    const end: ConnectionEnd = { timeMs: nowMs, socket };
    const known = this.open.get(socket.cookie);
    if (known !== undefined) {
      this.open.delete(socket.cookie);
      this.closed += 1;
      this.options.onClosed(known, end);
      return;
    }
    for (const key of destroyKeys(socket)) {
      const pending = this.pendingByKey.get(key)?.find((p) => !p.done && fits(p.attempt, socket));
      if (pending !== undefined) {
        pending.done = true;
        this.pairWith(pending.attempt, end);
        this.expire(nowMs);
        return;
      }
    }
    // Audit can be slower than sock_diag: the attempt this socket belongs to may still be on its way.
    const keys = destroyKeys(socket);
    const destroyed: Destroyed = { end, keys, used: false };
    this.destroys.push(destroyed);
    for (const key of keys) push(this.destroysByKey, key, destroyed);
    this.expire(nowMs);
  }

  /** Reports the attempts that waited `waitMs` in vain; forgets destroys nobody claimed in time. */
  expire(nowMs: number): void {
    for (let p = this.pending.first(); p !== undefined; p = this.pending.first()) {
      if (!p.done) {
        const waited = nowMs - p.since;
        if (waited < this.waitMs || (waited < this.maxWaitMs && this.lastDestroyMs - p.since < this.waitMs)) break;
        p.done = true;
        this.unpaired += 1;
        this.options.onConnection({ ...p.attempt, localFrom: "unknown" });
      }
      this.pending.shift();
      for (const key of p.keys) dropLeading(this.pendingByKey, key, (q) => q.done);
    }
    for (let d = this.destroys.first(); d !== undefined; d = this.destroys.first()) {
      if (!d.used && nowMs - d.end.timeMs < this.keepDestroysMs) break;
      d.used = true;
      this.destroys.shift();
      for (const key of d.keys) dropLeading(this.destroysByKey, key, (q) => q.used);
    }
  }

  /** Everything still waiting is reported as it is (the agent is stopping). */
  flush(): void {
    this.expire(Number.POSITIVE_INFINITY);
  }

  private pairWith(attempt: ConnectionAttempt<T>, end: ConnectionEnd): void {
    const s = end.socket;
    const local = { ip: s.sourceIp, port: s.sourcePort };
    const remote = { ip: s.destinationIp, port: s.destinationPort };
    const resolved: ResolvedConnection<T> = {
      ...attempt,
      protocol: attempt.protocol ?? (s.protocol === undefined ? undefined : PROTOCOL_NAMES[s.protocol]),
      local,
      remote,
      cookie: s.cookie,
      localFrom: "sock-diag-destroy",
    };
    this.paired += 1;
    this.options.onConnection(resolved);
    this.closed += 1;
    this.options.onClosed(resolved, end);
  }

  private report(connection: ResolvedConnection<T>): void {
    this.options.onConnection(connection);
    if (connection.cookie === undefined || connection.cookie === "") return;
    // Two connections read one socket: the process closed the first's, got its fd number again for the next
    // connection to the same place, and only then was audit's record of the first read (a loaded host), so the
    // first was given the second's socket. The first's own close cannot be paired any more: counted as lost.
    if (this.open.has(connection.cookie)) this.misread += 1;
    this.open.set(connection.cookie, connection);
    if (this.open.size > this.maxTracked) {
      this.open.delete(this.open.keys().next().value!);
      this.forgotten += 1;
    }
  }
}

/** The keys a waiting attempt can be found by, most specific first. */
function attemptKeys(attempt: ConnectionAttempt<unknown>): string[] {
  if (attempt.initiated)
    return attempt.remote === undefined ? [] : [`to|${endpointKey(attempt.remote.ip, attempt.remote.port)}`];
  const keys: string[] = [];
  if (attempt.remote !== undefined) keys.push(`from|${endpointKey(attempt.remote.ip, attempt.remote.port)}`);
  else if (attempt.listener !== undefined) keys.push(`listener|${attempt.listener.port}`);
  return keys;
}

/** The same keys from the socket's side: a connecting socket's destination, an accepted socket's peer and port. */
function destroyKeys(s: InetSocket): string[] {
  return [
    `to|${endpointKey(s.destinationIp, s.destinationPort)}`,
    `from|${endpointKey(s.destinationIp, s.destinationPort)}`,
    `listener|${s.sourcePort}`,
  ];
}

/** Whether a destroyed socket can be the one an attempt made, by everything both know. */
function fits(attempt: ConnectionAttempt<unknown>, s: InetSocket): boolean {
  if (attempt.protocol !== undefined && s.protocol !== undefined && PROTOCOL_NAMES[s.protocol] !== attempt.protocol)
    return false;
  const same = (e: Endpoint | undefined, ip: string, port: number): boolean =>
    e === undefined || (e.port === port && plainIp(e.ip) === plainIp(ip));
  if (!same(attempt.remote, s.destinationIp, s.destinationPort) || !same(attempt.local, s.sourceIp, s.sourcePort))
    return false;
  const listener = attempt.listener;
  if (listener === undefined) return true;
  return listener.port === s.sourcePort && (WILDCARD.has(listener.ip) || plainIp(listener.ip) === plainIp(s.sourceIp));
}

function push<V>(map: Map<string, Fifo<V>>, key: string, value: V): void {
  let list = map.get(key);
  if (list === undefined) map.set(key, (list = new Fifo<V>()));
  list.push(value);
}

/** Drops the finished entries at the head of one key's list, and the key once its list is empty. */
function dropLeading<V>(map: Map<string, Fifo<V>>, key: string, finished: (value: V) => boolean): void {
  const list = map.get(key);
  if (list === undefined) return;
  for (let v = list.first(); v !== undefined && finished(v); v = list.first()) list.shift();
  if (list.size === 0) map.delete(key);
}
