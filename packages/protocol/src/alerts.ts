import { Type, type Static } from "typebox";
import { AlertLevel, Id, IsoTime, PageQuery } from "./common.ts";
import { StoredEvent } from "./events.ts";

/** The engine's explanation of a match: which selections matched on which fields (`MatchExplanation`). */
export const Explanation = Type.Object({
  condition: Type.String(),
  selections: Type.Array(
    Type.Object({ name: Type.String(), fields: Type.Array(Type.Record(Type.String(), Type.Unknown())) }),
  ),
});

export const AncestorProcess = Type.Object({
  pid: Type.Integer(),
  image: Type.Union([Type.String(), Type.Null()]),
  commandLine: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

/**
 * An alert as a detector raised it (the agent's engine, or the server's for log-only hosts and cross-host
 * correlations). `id` is deterministic (rule + event) so a resent batch cannot raise it twice. `author` is
 * the rule's: the Detection Rule License requires it to travel with every match.
 */
export const WireAlert = Type.Object({
  id: Id,
  time: IsoTime,
  eventId: Type.String({ maxLength: 256 }),
  ruleId: Type.String({ maxLength: 128 }),
  title: Type.String({ maxLength: 512 }),
  level: AlertLevel,
  author: Type.Optional(Type.String({ maxLength: 1024 })),
  tags: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 64 }),
  techniques: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 64 }),
  tactics: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 }),
  explanation: Type.Optional(Explanation),
  ancestry: Type.Optional(Type.Array(AncestorProcess, { maxItems: 64 })),
});
export type WireAlert = Static<typeof WireAlert>;

export const ALERT_STATUSES = ["new", "in_progress", "resolved", "false_positive"] as const;
export const AlertStatus = Type.Enum(ALERT_STATUSES);
export type AlertStatus = Static<typeof AlertStatus>;

/**
 * An alert on the console. Repeats of one rule on one host and process image group into one alert
 * (`groupKey`), counted, with first and last sighting.
 */
export const Alert = Type.Intersect([
  WireAlert,
  Type.Object({
    hostId: Id,
    hostname: Type.String(),
    status: AlertStatus,
    assignee: Type.Optional(Type.String()),
    groupKey: Type.String(),
    count: Type.Integer({ minimum: 1 }),
    firstSeen: IsoTime,
    lastSeen: IsoTime,
  }),
]);
export type Alert = Static<typeof Alert>;

export const AlertComment = Type.Object({
  id: Id,
  alertId: Id,
  author: Type.String(),
  text: Type.String(),
  time: IsoTime,
});
export type AlertComment = Static<typeof AlertComment>;

export const AlertDetail = Type.Object({
  alert: Alert,
  event: Type.Optional(StoredEvent),
  comments: Type.Array(AlertComment),
});
export type AlertDetail = Static<typeof AlertDetail>;

export const ALERT_SORT_KEYS = ["lastSeen", "firstSeen", "level", "rule", "host", "status", "count"] as const;
export const AlertQuery = Type.Object(
  {
    status: Type.Optional(Type.Array(AlertStatus)),
    level: Type.Optional(Type.Array(AlertLevel)),
    hostId: Type.Optional(Id),
    ruleId: Type.Optional(Type.String({ maxLength: 128 })),
    technique: Type.Optional(Type.String({ maxLength: 32 })),
    q: Type.Optional(Type.String({ maxLength: 256, description: "substring of title, rule id or hostname" })),
    from: Type.Optional(IsoTime),
    to: Type.Optional(IsoTime),
    sort: Type.Optional(Type.Enum(ALERT_SORT_KEYS)),
    order: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc")])),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type AlertQuery = Static<typeof AlertQuery>;

export const AlertUpdate = Type.Object(
  {
    status: Type.Optional(AlertStatus),
    assignee: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type AlertUpdate = Static<typeof AlertUpdate>;

export const AlertBulkUpdate = Type.Object(
  { ids: Type.Array(Id, { minItems: 1, maxItems: 10_000 }), update: AlertUpdate },
  { additionalProperties: false },
);
export type AlertBulkUpdate = Static<typeof AlertBulkUpdate>;

export const CommentCreate = Type.Object(
  { text: Type.String({ minLength: 1, maxLength: 8192 }) },
  { additionalProperties: false },
);

/** Alerts matching it are stored as suppressed (never shown as new) until `expiresAt`. */
export const SuppressionCreate = Type.Object(
  {
    ruleId: Type.Optional(Type.String({ maxLength: 128 })),
    hostId: Type.Optional(Id),
    /** Optional event field that must equal `value` (case-insensitive), e.g. Image of a known admin tool. */
    field: Type.Optional(Type.String({ maxLength: 256 })),
    value: Type.Optional(Type.String({ maxLength: 4096 })),
    reason: Type.String({ minLength: 1, maxLength: 1024 }),
    expiresAt: IsoTime,
  },
  { additionalProperties: false },
);
export type SuppressionCreate = Static<typeof SuppressionCreate>;
export const Suppression = Type.Intersect([
  SuppressionCreate,
  Type.Object({ id: Id, createdBy: Type.String(), createdAt: IsoTime }),
]);
export type Suppression = Static<typeof Suppression>;
