import { Type, type Static } from "typebox";
import { IsoTime } from "./common.ts";
import { FleetCounts } from "./agents.ts";

/** Alert counts over a time range, for the console's dashboard. */
export const AlertStats = Type.Object({
  byLevel: Type.Record(Type.String(), Type.Integer()),
  byTactic: Type.Record(Type.String(), Type.Integer()),
  topRules: Type.Array(Type.Object({ ruleId: Type.String(), title: Type.String(), count: Type.Integer() })),
  topHosts: Type.Array(Type.Object({ hostId: Type.String(), hostname: Type.String(), count: Type.Integer() })),
  /** Alert counts per hour bucket (ISO hour start) and level. */
  series: Type.Array(Type.Object({ bucket: Type.String(), level: Type.String(), count: Type.Integer() })),
});
export type AlertStats = Static<typeof AlertStats>;

export const OverviewQuery = Type.Object(
  {
    /** Default: 24 hours before `to`. */
    from: Type.Optional(IsoTime),
    /** Default: now. */
    to: Type.Optional(IsoTime),
  },
  { additionalProperties: false },
);

export const Overview = Type.Object({
  from: IsoTime,
  to: IsoTime,
  alerts: AlertStats,
  hosts: Type.Object({
    total: Type.Integer(),
    online: Type.Integer(),
    silent: Type.Integer(),
    isolated: Type.Integer(),
    byHealth: FleetCounts.properties.byHealth,
  }),
});
export type Overview = Static<typeof Overview>;
