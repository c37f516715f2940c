import { Type, type Static } from "typebox";
import { IsoTime } from "./common.ts";

/**
 * The ATT&CK Enterprise matrix with ring3's coverage of it, for the console's coverage page and its ATT&CK
 * Navigator export. The catalog is MITRE's (`enterprise-techniques.json` of mitre/cti, read from a path, never
 * shipped: its terms ask for attribution and it changes twice a year).
 */
export const AttackTactic = Type.Object({ id: Type.String(), name: Type.String(), shortname: Type.String() });
export type AttackTactic = Static<typeof AttackTactic>;

export const AttackTechnique = Type.Object({
  /** `T1059`, or `T1059.001` for a sub-technique. */
  id: Type.String(),
  name: Type.String(),
  /** Tactic short names, in matrix order. */
  tactics: Type.Array(Type.String()),
  /** The technique a sub-technique belongs to. */
  parent: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
});
export type AttackTechnique = Static<typeof AttackTechnique>;

export const AttackCoverageQuery = Type.Object(
  {
    /** Alerts counted from here; default 30 days before `to`. */
    from: Type.Optional(IsoTime),
    /** Default: now. */
    to: Type.Optional(IsoTime),
  },
  { additionalProperties: false },
);

export const AttackCoverage = Type.Object({
  /** The catalog's ATT&CK version, e.g. "18.1". */
  version: Type.String(),
  from: IsoTime,
  to: IsoTime,
  tactics: Type.Array(AttackTactic),
  techniques: Type.Array(AttackTechnique),
  /**
   * By technique id (upper case; a rule tagging `attack.t1059.001` covers T1059.001 only): titles of the
   * enabled rules that tag it, and how many alerts tagged with it were raised in [from, to]. Techniques with
   * neither are absent.
   */
  coverage: Type.Record(
    Type.String(),
    Type.Object({ rules: Type.Array(Type.String()), alerts: Type.Integer({ minimum: 0 }) }),
  ),
});
export type AttackCoverage = Static<typeof AttackCoverage>;
