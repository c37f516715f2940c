import { Type, type Static } from "typebox";
import { Id, IsoTime, PageQuery } from "./common.ts";
import { WireAlert } from "./alerts.ts";
import { WireEvent } from "./events.ts";

/** Admin → server: a token an installer hands to new agents. Expiring and revocable; the secret is shown once. */
export const EnrollmentTokenCreate = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 256 })),
    ttlSeconds: Type.Integer({ minimum: 60, maximum: 365 * 24 * 3600 }),
    maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
export const EnrollmentToken = Type.Object({
  id: Id,
  description: Type.Optional(Type.String()),
  createdBy: Type.String(),
  createdAt: IsoTime,
  expiresAt: IsoTime,
  maxUses: Type.Optional(Type.Integer()),
  uses: Type.Integer(),
  revoked: Type.Boolean(),
});
export type EnrollmentToken = Static<typeof EnrollmentToken>;
/** Only the creation response carries the secret. */
export const EnrollmentTokenCreated = Type.Intersect([EnrollmentToken, Type.Object({ token: Type.String() })]);

/** Agent → server, once: the token buys a per-agent credential used on every later request. */
export const EnrollRequest = Type.Object(
  {
    token: Type.String({ minLength: 16, maxLength: 256 }),
    hostname: Type.String({ minLength: 1, maxLength: 255 }),
    machineId: Type.String({ minLength: 1, maxLength: 128 }),
    os: Type.String({ maxLength: 64 }),
    osVersion: Type.Optional(Type.String({ maxLength: 128 })),
    agentVersion: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type EnrollRequest = Static<typeof EnrollRequest>;
export const EnrollResponse = Type.Object({
  agentId: Id,
  /** Sent as `Authorization: Bearer <credential>` from now on. */
  credential: Type.String(),
  heartbeatIntervalSeconds: Type.Integer(),
  /**
   * The server's CA certificate (public). The agent pins the CA it was given out of band (`ring3 up`'s
   * output, the data dir's tls/ca.pem); this copy lets it check that pin and store the chain beside it.
   */
  caCertPem: Type.Optional(Type.String()),
});
export type EnrollResponse = Static<typeof EnrollResponse>;

/**
 * Agent → server: events and alerts, gzip-compressed (`Content-Encoding: gzip`). `batchId` makes ingest
 * idempotent: a batch the server already stored is acknowledged again and stored once.
 */
export const IngestBatch = Type.Object(
  {
    batchId: Type.String({ minLength: 8, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" }),
    events: Type.Array(WireEvent),
    alerts: Type.Array(WireAlert),
    /**
     * The sender ran no detection on these events (a host that only ships logs): the server runs its own
     * rules on them. Absent or false: the agent already matched them, and the server only feeds its
     * cross-host correlations.
     */
    detect: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type IngestBatch = Static<typeof IngestBatch>;
export const IngestResponse = Type.Object({
  batchId: Type.String(),
  duplicate: Type.Boolean(),
  events: Type.Integer(),
  alerts: Type.Integer(),
});
export type IngestResponse = Static<typeof IngestResponse>;

export const SENSOR_STATES = ["started", "degraded", "stopped"] as const;
export const SensorState = Type.Object({
  state: Type.Enum(SENSOR_STATES),
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
  detail: Type.Optional(Type.String({ maxLength: 1024 })),
});
export type SensorState = Static<typeof SensorState>;

/** Agent → server every `heartbeatIntervalSeconds`. Silence past a few intervals raises a host-silent alert. */
export const Heartbeat = Type.Object(
  {
    time: IsoTime,
    agentVersion: Type.String({ maxLength: 64 }),
    contentVersion: Type.String({ maxLength: 128 }),
    sensors: Type.Record(Type.String({ maxLength: 64 }), SensorState),
    /** Events waiting in the spool, not yet acknowledged by the server. */
    queueDepth: Type.Integer({ minimum: 0 }),
    spoolBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Loss counters by cause: sensor overruns, spool drops when full, oversized events… */
    dropped: Type.Record(Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 })),
    isolated: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type Heartbeat = Static<typeof Heartbeat>;
export const HeartbeatResponse = Type.Object({ serverTime: IsoTime, pendingCommands: Type.Integer() });
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

export const HOST_STATES = ["online", "silent"] as const;

/**
 * One word for a host, most urgent first, computed by the store so that the fleet can be counted and
 * filtered by it without reading every host: `silent` (no heartbeat for a few intervals; a crash or tampering
 * looks like silence), then `isolated` (cut off from the network by a response action), then `degraded` (it
 * reports, but a sensor is not running as asked and it sees less), else `online`.
 */
export const HOST_HEALTHS = ["online", "degraded", "isolated", "silent"] as const;
export const HostHealth = Type.Enum(HOST_HEALTHS);
export type HostHealth = Static<typeof HostHealth>;
export const Host = Type.Object({
  id: Id,
  hostname: Type.String(),
  machineId: Type.String(),
  os: Type.String(),
  osVersion: Type.Optional(Type.String()),
  agentVersion: Type.String(),
  contentVersion: Type.Optional(Type.String()),
  enrolledAt: IsoTime,
  lastSeen: Type.Optional(IsoTime),
  state: Type.Enum(HOST_STATES),
  health: HostHealth,
  isolated: Type.Boolean(),
  sensors: Type.Record(Type.String(), SensorState),
  queueDepth: Type.Integer(),
  dropped: Type.Record(Type.String(), Type.Integer()),
  openAlerts: Type.Integer(),
});
export type Host = Static<typeof Host>;

export const HostQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 256, description: "substring of the hostname, any case" })),
    health: Type.Optional(Type.Array(HostHealth)),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type HostQuery = Static<typeof HostQuery>;

/** Hosts by health over the whole fleet, whatever a listing's filter. */
export const FleetCounts = Type.Object({
  total: Type.Integer(),
  byHealth: Type.Object({
    online: Type.Integer(),
    degraded: Type.Integer(),
    isolated: Type.Integer(),
    silent: Type.Integer(),
  }),
});
export type FleetCounts = Static<typeof FleetCounts>;

/** A page of hosts in hostname order, and the fleet's counts for the filter chips beside it. */
export const HostPage = Type.Object({
  items: Type.Array(Host),
  nextCursor: Type.Optional(Type.String()),
  fleet: FleetCounts,
});
export type HostPage = Static<typeof HostPage>;
