import type {
  Alert,
  AlertBulkUpdate,
  AlertComment,
  AlertQuery,
  AlertUpdate,
  AuditEntry,
  Command,
  EnrollmentToken,
  EventSearch,
  Heartbeat,
  Host,
  HostHealth,
  HostQuery,
  ProcessTree,
  Role,
  StoredEvent,
  Suppression,
  SuppressionCreate,
  User,
  WireAlert,
  WireEvent,
  ActionResult,
  ResponseRequest,
} from "@ring3/protocol";

/**
 * Everything the server keeps, behind one interface. The SQLite adapter is the default; another engine
 * (PostgreSQL, ClickHouse) implements the same interface and passes the same contract suite
 * (`test/store-contract.ts`), so nothing outside an adapter speaks a SQL dialect.
 *
 * Methods are async although node:sqlite is synchronous: a networked engine is not.
 * Secrets never reach the store in clear: sessions, agent credentials and enrollment tokens are stored as
 * SHA-256 hashes of the secret, passwords as scrypt hashes.
 */
export type Store = {
  readonly engine: string;

  // Console users and sessions.
  createUser(user: { username: string; passwordHash: string; role: Role }): Promise<User>;
  /** With the password hash, for login only. */
  findUserCredentials(username: string): Promise<(User & { passwordHash: string }) | undefined>;
  getUser(id: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  deleteUser(id: string): Promise<boolean>;
  countUsers(): Promise<number>;
  createSession(session: { tokenHash: string; userId: string; expiresAt: string }): Promise<void>;
  /** The user of an unexpired session. */
  getSessionUser(tokenHash: string, now: string): Promise<User | undefined>;
  deleteSession(tokenHash: string): Promise<void>;

  appendAudit(entry: Omit<AuditEntry, "id">): Promise<AuditEntry>;
  listAudit(page: PageRequest): Promise<PageResult<AuditEntry>>;

  // Enrollment.
  createEnrollmentToken(
    token: Omit<EnrollmentToken, "id" | "uses" | "revoked"> & { secretHash: string },
  ): Promise<EnrollmentToken>;
  listEnrollmentTokens(): Promise<EnrollmentToken[]>;
  revokeEnrollmentToken(id: string): Promise<boolean>;
  /**
   * Spends one use of an unexpired, unrevoked token with this secret hash, atomically; undefined when there
   * is none (unknown, expired, revoked or used up).
   */
  consumeEnrollmentToken(secretHash: string, now: string): Promise<EnrollmentToken | undefined>;

  // Hosts (one per enrolled agent).
  createHost(host: HostRegistration): Promise<Host>;
  getHost(id: string): Promise<Host | undefined>;
  /**
   * The agent whose credential hashes to this, as every agent request is authenticated: who it is, not the
   * whole host (its counts and sensors are read when a page shows them).
   */
  getAgentByCredential(credentialHash: string): Promise<AgentIdentity | undefined>;
  /** Hosts in hostname order, filtered by a hostname substring (any case) and health, a page at a time. */
  listHosts(query: HostQuery): Promise<PageResult<Host>>;
  /**
   * How many hosts are in each state and health, and isolated: /metrics, the overview and the host list's
   * filter chips read this, not every host.
   */
  countHosts(): Promise<HostCounts>;
  /**
   * Stores heartbeats, all in one commit: per heartbeat, the host's health after it and whether that, its
   * isolation or its agent version changed, or undefined when there is no such host.
   */
  recordHeartbeats(beats: readonly HeartbeatInput[]): Promise<(HeartbeatRecord | undefined)[]>;
  /** Hosts whose last heartbeat is older than `silentBefore` and not yet marked silent; marks them. */
  markSilentHosts(silentBefore: string): Promise<Host[]>;

  // Ingest.
  /**
   * Stores a batch atomically, once: a batch id already stored for this host returns `duplicate: true` and
   * stores nothing. Alerts group by (host, rule, group key) into one alert with a count; suppressed alerts
   * are stored with status resolved and never surface as new.
   */
  ingestBatch(batch: IngestBatchInput): Promise<IngestResult>;
  /**
   * Stores several batches as `ingestBatch` would one after the other, in one commit (a commit costs far
   * more than ten events: a fleet sends hundreds of small batches a second). Each batch succeeds or fails
   * alone, in order: a batch that fails is rejected with its own error and leaves nothing, the others are
   * stored; a batch id that comes twice is stored by the first and a duplicate for the second. When the commit
   * itself fails, nothing of the group is stored: the call rejects (a group of one reports it as its outcome).
   */
  ingestBatches(batches: readonly IngestBatchInput[]): Promise<PromiseSettledResult<IngestResult>[]>;

  // Events.
  /**
   * Newest first. A search the index cannot narrow walks the events under a row budget: its page can then
   * hold fewer than `limit` events (even none) and still carry a `nextCursor` to continue from.
   */
  searchEvents(query: EventSearch): Promise<PageResult<StoredEvent>>;
  getEvent(hostId: string, eventId: string): Promise<StoredEvent | undefined>;
  /** process_creation / process_termination events of a host, reconstructed into a tree around `pid`. */
  processTree(hostId: string, pid: number | undefined, at: string | undefined): Promise<ProcessTree>;
  /** Events and alerts of a host, newest first. */
  timeline(hostId: string, range: { from?: string; to?: string } & PageRequest): Promise<PageResult<TimelineItem>>;

  // Alerts.
  listAlerts(query: AlertQuery): Promise<PageResult<Alert>>;
  getAlert(id: string): Promise<Alert | undefined>;
  updateAlert(id: string, update: AlertUpdate): Promise<Alert | undefined>;
  bulkUpdateAlerts(bulk: AlertBulkUpdate): Promise<number>;
  addComment(comment: Omit<AlertComment, "id">): Promise<AlertComment>;
  listComments(alertId: string): Promise<AlertComment[]>;
  /** Raised by the server itself (host silent, server-side detection): stored like an agent's alert. */
  insertServerAlert(hostId: string, alert: WireAlert & { groupKey: string }): Promise<Alert>;
  alertStats(range: { from: string; to: string }): Promise<AlertStats>;

  createSuppression(s: SuppressionCreate & { createdBy: string; createdAt: string }): Promise<Suppression>;
  listSuppressions(now: string): Promise<Suppression[]>;
  deleteSuppression(id: string): Promise<boolean>;

  // Response commands.
  createCommand(command: {
    hostId: string;
    request: ResponseRequest;
    requestedBy: string;
    alertId?: string;
    createdAt: string;
    deadline: string;
  }): Promise<Command>;
  /** Queued commands of a host with deadline after now (not yet delivered): the heartbeat's `pendingCommands`. */
  countQueuedCommands(hostId: string, now: string): Promise<number>;
  /** Queued commands of a host with deadline after now, marked delivered. */
  claimCommands(hostId: string, now: string): Promise<Command[]>;
  completeCommand(hostId: string, id: string, result: ActionResult, now: string): Promise<Command | undefined>;
  /** Commands past their deadline without a result become timed_out; returns them. */
  expireCommands(now: string): Promise<Command[]>;
  getCommand(id: string): Promise<Command | undefined>;
  listCommands(query: { hostId?: string } & PageRequest): Promise<PageResult<Command>>;

  // Housekeeping.
  /** Deletes events (and then resolved alerts) older than maxAgeDays, then oldest events until under maxBytes. */
  applyRetention(policy: RetentionPolicy, now: string): Promise<{ eventsDeleted: number; alertsDeleted: number }>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
};

export type PageRequest = { readonly limit?: number; readonly cursor?: string };
export type PageResult<T> = { items: T[]; nextCursor?: string };

export type HostCounts = {
  readonly byState: Readonly<Record<Host["state"], number>>;
  readonly byHealth: Readonly<Record<HostHealth, number>>;
  readonly isolated: number;
};

/** An enrolled agent, as its requests are authenticated. */
export type AgentIdentity = { readonly id: string; readonly hostname: string };

export type HeartbeatInput = { readonly hostId: string; readonly heartbeat: Heartbeat; readonly receivedAt: string };

export type HeartbeatRecord = {
  readonly health: HostHealth;
  /** The health, isolation or agent version differ from before the heartbeat: the console is told. */
  readonly changed: boolean;
};

export type HostRegistration = {
  hostname: string;
  machineId: string;
  os: string;
  osVersion?: string;
  agentVersion: string;
  credentialHash: string;
  enrolledAt: string;
};

export type IngestBatchInput = {
  readonly hostId: string;
  readonly batchId: string;
  readonly receivedAt: string;
  readonly events: readonly WireEvent[];
  readonly alerts: readonly (WireAlert & { groupKey: string })[];
};

export type IngestResult = { duplicate: boolean; events: number; alerts: number; newAlerts: Alert[] };

export type TimelineItem = { kind: "event"; event: StoredEvent } | { kind: "alert"; alert: Alert };

export type AlertStats = {
  byLevel: Record<string, number>;
  byTactic: Record<string, number>;
  topRules: { ruleId: string; title: string; count: number }[];
  topHosts: { hostId: string; hostname: string; count: number }[];
  /** Alert counts per hour bucket (ISO hour start) and level. */
  series: { bucket: string; level: string; count: number }[];
};

export type RetentionPolicy = { readonly maxAgeDays: number; readonly maxBytes: number };

export type StoreStats = {
  events: number;
  alerts: number;
  hosts: number;
  /** Bytes the store's databases use on disk (free pages excluded: they are reused before the files grow). */
  bytes: number;
  /** Events stored but not yet in the search index; searches scan them meanwhile. */
  indexLag?: number;
  /** Why the search index is not keeping up, when it is not (searches stay exact, only slower). */
  indexProblem?: string;
};
