import { Type, type TSchema } from "typebox";
import { API_PREFIX, Page, PageQuery, Id } from "./common.ts";
import {
  Alert,
  AlertBulkUpdate,
  AlertComment,
  AlertDetail,
  AlertQuery,
  AlertUpdate,
  CommentCreate,
  Suppression,
  SuppressionCreate,
} from "./alerts.ts";
import {
  EnrollRequest,
  EnrollResponse,
  EnrollmentToken,
  EnrollmentTokenCreate,
  EnrollmentTokenCreated,
  Heartbeat,
  HeartbeatResponse,
  Host,
  HostPage,
  HostQuery,
  IngestBatch,
  IngestResponse,
} from "./agents.ts";
import { AgentCommands, Command, CommandCreate } from "./commands.ts";
import { EventSearch, ProcessTree, StoredEvent } from "./events.ts";
import { ActionResult } from "./response.ts";
import { AuditEntry, LoginRequest, LoginResponse, User, UserCreate } from "./users.ts";
import { Overview, OverviewQuery } from "./overview.ts";
import { RuleDetail, RuleInfo, RuleList, RuleTestRequest, RuleTestResult, RuleUpdate } from "./rules.ts";
import { AttackCoverage, AttackCoverageQuery } from "./attack.ts";
import type { Role } from "./users.ts";

/**
 * Who may call a route: nobody in particular (`public`), an enrolled agent (its credential), or a console
 * user with at least `role`.
 */
export type RouteAuth =
  { readonly kind: "public" } | { readonly kind: "agent" } | { readonly kind: "user"; readonly role: Role };

export type RouteSpec = {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  readonly path: string;
  readonly auth: RouteAuth;
  readonly params?: TSchema;
  readonly query?: TSchema;
  readonly body?: TSchema;
  readonly response?: TSchema;
};

const publicAuth = { kind: "public" } as const;
const agent = { kind: "agent" } as const;
const viewer = { kind: "user", role: "viewer" } as const;
const analyst = { kind: "user", role: "analyst" } as const;
const admin = { kind: "user", role: "admin" } as const;
const IdParams = Type.Object({ id: Id });
const Empty = Type.Object({});

/**
 * Every API route, declared once: the server registers exactly these (a test checks that), the console's
 * typed client calls them by name.
 */
export const ROUTES = {
  // Console sessions and users.
  login: {
    method: "POST",
    path: `${API_PREFIX}/auth/login`,
    auth: publicAuth,
    body: LoginRequest,
    response: LoginResponse,
  },
  logout: { method: "POST", path: `${API_PREFIX}/auth/logout`, auth: viewer, response: Empty },
  me: { method: "GET", path: `${API_PREFIX}/auth/me`, auth: viewer, response: User },
  listUsers: { method: "GET", path: `${API_PREFIX}/users`, auth: admin, response: Type.Array(User) },
  createUser: { method: "POST", path: `${API_PREFIX}/users`, auth: admin, body: UserCreate, response: User },
  deleteUser: { method: "DELETE", path: `${API_PREFIX}/users/:id`, auth: admin, params: IdParams, response: Empty },
  auditLog: {
    method: "GET",
    path: `${API_PREFIX}/audit-log`,
    auth: admin,
    query: Type.Object(PageQuery),
    response: Page(AuditEntry),
  },

  // Enrollment tokens (admin) and the agent protocol.
  listEnrollmentTokens: {
    method: "GET",
    path: `${API_PREFIX}/enrollment-tokens`,
    auth: admin,
    response: Type.Array(EnrollmentToken),
  },
  createEnrollmentToken: {
    method: "POST",
    path: `${API_PREFIX}/enrollment-tokens`,
    auth: admin,
    body: EnrollmentTokenCreate,
    response: EnrollmentTokenCreated,
  },
  revokeEnrollmentToken: {
    method: "DELETE",
    path: `${API_PREFIX}/enrollment-tokens/:id`,
    auth: admin,
    params: IdParams,
    response: Empty,
  },
  enroll: {
    method: "POST",
    path: `${API_PREFIX}/agent/enroll`,
    auth: publicAuth,
    body: EnrollRequest,
    response: EnrollResponse,
  },
  ingest: {
    method: "POST",
    path: `${API_PREFIX}/agent/batches`,
    auth: agent,
    body: IngestBatch,
    response: IngestResponse,
  },
  heartbeat: {
    method: "POST",
    path: `${API_PREFIX}/agent/heartbeat`,
    auth: agent,
    body: Heartbeat,
    response: HeartbeatResponse,
  },
  pollCommands: {
    method: "GET",
    path: `${API_PREFIX}/agent/commands`,
    auth: agent,
    query: Type.Object({ waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 60, default: 25 })) }),
    response: AgentCommands,
  },
  commandResult: {
    method: "POST",
    path: `${API_PREFIX}/agent/commands/:id/result`,
    auth: agent,
    params: IdParams,
    body: ActionResult,
    response: Empty,
  },

  // Hosts, events, process trees, timelines.
  listHosts: { method: "GET", path: `${API_PREFIX}/hosts`, auth: viewer, query: HostQuery, response: HostPage },
  getHost: { method: "GET", path: `${API_PREFIX}/hosts/:id`, auth: viewer, params: IdParams, response: Host },
  hostTimeline: {
    method: "GET",
    path: `${API_PREFIX}/hosts/:id/timeline`,
    auth: viewer,
    params: IdParams,
    query: Type.Object({ from: Type.Optional(Type.String()), to: Type.Optional(Type.String()), ...PageQuery }),
    response: Page(
      Type.Union([
        Type.Object({ kind: Type.Literal("event"), event: StoredEvent }),
        Type.Object({ kind: Type.Literal("alert"), alert: Alert }),
      ]),
    ),
  },
  processTree: {
    method: "GET",
    path: `${API_PREFIX}/hosts/:id/process-tree`,
    auth: viewer,
    params: IdParams,
    query: Type.Object({ pid: Type.Optional(Type.Integer({ minimum: 0 })), at: Type.Optional(Type.String()) }),
    response: ProcessTree,
  },
  searchEvents: {
    method: "POST",
    path: `${API_PREFIX}/events/search`,
    auth: viewer,
    body: EventSearch,
    response: Page(StoredEvent),
  },

  // Alerts.
  listAlerts: { method: "GET", path: `${API_PREFIX}/alerts`, auth: viewer, query: AlertQuery, response: Page(Alert) },
  getAlert: { method: "GET", path: `${API_PREFIX}/alerts/:id`, auth: viewer, params: IdParams, response: AlertDetail },
  updateAlert: {
    method: "PATCH",
    path: `${API_PREFIX}/alerts/:id`,
    auth: analyst,
    params: IdParams,
    body: AlertUpdate,
    response: Alert,
  },
  bulkUpdateAlerts: {
    method: "POST",
    path: `${API_PREFIX}/alerts/bulk`,
    auth: analyst,
    body: AlertBulkUpdate,
    response: Type.Object({ updated: Type.Integer() }),
  },
  commentAlert: {
    method: "POST",
    path: `${API_PREFIX}/alerts/:id/comments`,
    auth: analyst,
    params: IdParams,
    body: CommentCreate,
    response: AlertComment,
  },
  listSuppressions: {
    method: "GET",
    path: `${API_PREFIX}/suppressions`,
    auth: viewer,
    response: Type.Array(Suppression),
  },
  createSuppression: {
    method: "POST",
    path: `${API_PREFIX}/suppressions`,
    auth: analyst,
    body: SuppressionCreate,
    response: Suppression,
  },
  deleteSuppression: {
    method: "DELETE",
    path: `${API_PREFIX}/suppressions/:id`,
    auth: analyst,
    params: IdParams,
    response: Empty,
  },

  // Response commands.
  createCommand: {
    method: "POST",
    path: `${API_PREFIX}/hosts/:id/commands`,
    auth: analyst,
    params: IdParams,
    body: CommandCreate,
    response: Command,
  },
  listCommands: {
    method: "GET",
    path: `${API_PREFIX}/commands`,
    auth: viewer,
    query: Type.Object({ hostId: Type.Optional(Id), ...PageQuery }),
    response: Page(Command),
  },
  getCommand: { method: "GET", path: `${API_PREFIX}/commands/:id`, auth: viewer, params: IdParams, response: Command },

  // Console: dashboard, live stream, server-side rules.
  overview: { method: "GET", path: `${API_PREFIX}/overview`, auth: viewer, query: OverviewQuery, response: Overview },
  /** Server-Sent Events: each message is a `LiveMessage`, its `type` the SSE event name. No JSON response. */
  stream: { method: "GET", path: `${API_PREFIX}/stream`, auth: viewer },
  listRules: { method: "GET", path: `${API_PREFIX}/rules`, auth: admin, response: RuleList },
  updateRule: {
    method: "PATCH",
    path: `${API_PREFIX}/rules/:id`,
    auth: admin,
    // A rule without an id is named by its title, which may hold any character (URL-encoded in the path).
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) }),
    body: RuleUpdate,
    response: RuleInfo,
  },
  // The rule behind an alert, for every role that can see the alert (a rule without an id: its title, encoded).
  getRule: {
    method: "GET",
    path: `${API_PREFIX}/rules/:id`,
    auth: viewer,
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) }),
    response: RuleDetail,
  },
  testRule: {
    method: "POST",
    path: `${API_PREFIX}/rules/:id/test`,
    auth: admin,
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) }),
    body: RuleTestRequest,
    response: RuleTestResult,
  },
  attackCoverage: {
    method: "GET",
    path: `${API_PREFIX}/attack/coverage`,
    auth: viewer,
    query: AttackCoverageQuery,
    response: AttackCoverage,
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;
