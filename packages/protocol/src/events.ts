import { Type, type Static } from "typebox";
import { Id, IsoTime, PageQuery } from "./common.ts";

const Text = (max: number) => Type.String({ maxLength: max });

export const WireLogsource = Type.Object(
  {
    product: Type.Optional(Text(64)),
    category: Type.Optional(Text(64)),
    service: Type.Optional(Text(128)),
  },
  { additionalProperties: false },
);

/** `@ring3/schema`'s Event on the wire: fields named as the Sigma taxonomy names them. */
export const WireEvent = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256 }),
  time: IsoTime,
  host: Text(255),
  logsource: WireLogsource,
  fields: Type.Record(Type.String({ maxLength: 256 }), Type.Unknown()),
  raw: Type.Optional(Type.Unknown()),
});
export type WireEvent = Static<typeof WireEvent>;

/** An event as the server stored it: which enrolled host sent it and when it arrived. */
export const StoredEvent = Type.Intersect([WireEvent, Type.Object({ hostId: Id, receivedAt: IsoTime })]);
export type StoredEvent = Static<typeof StoredEvent>;

export const FIELD_OPS = ["eq", "neq", "contains", "startswith", "endswith", "exists"] as const;
export const FieldFilter = Type.Object(
  {
    field: Type.String({ minLength: 1, maxLength: 256 }),
    op: Type.Enum(FIELD_OPS),
    value: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean()])),
  },
  { additionalProperties: false },
);
export type FieldFilter = Static<typeof FieldFilter>;

/** Event search: newest first. Field filters are case-insensitive, as Sigma compares. */
export const EventSearch = Type.Object(
  {
    from: Type.Optional(IsoTime),
    to: Type.Optional(IsoTime),
    hostId: Type.Optional(Id),
    logsource: Type.Optional(WireLogsource),
    filters: Type.Optional(Type.Array(FieldFilter, { maxItems: 32 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type EventSearch = Static<typeof EventSearch>;

/** One process of a reconstructed tree (from process_creation / process_termination events). */
export const ProcessTreeNode = Type.Object({
  pid: Type.Integer(),
  ppid: Type.Optional(Type.Integer()),
  image: Type.Optional(Type.String()),
  commandLine: Type.Optional(Type.String()),
  user: Type.Optional(Type.String()),
  startTime: Type.Optional(IsoTime),
  endTime: Type.Optional(IsoTime),
  eventId: Type.Optional(Type.String()),
  alertIds: Type.Array(Type.String()),
});
export type ProcessTreeNode = Static<typeof ProcessTreeNode>;

export const ProcessTree = Type.Object({
  hostId: Id,
  /** The process asked for; its ancestors, siblings and descendants are in `nodes`. */
  focusPid: Type.Optional(Type.Integer()),
  nodes: Type.Array(ProcessTreeNode),
});
export type ProcessTree = Static<typeof ProcessTree>;
