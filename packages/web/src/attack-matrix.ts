import type { AttackCoverage, AttackTechnique } from "@ring3/protocol";

/** A technique's cell: its own coverage plus its sub-techniques' (a rule for T1059.001 covers part of T1059). */
export type MatrixCell = {
  readonly technique: AttackTechnique;
  /** Distinct enabled rules on the technique or any of its sub-techniques. */
  readonly rules: readonly string[];
  readonly alerts: number;
  readonly subtechniques: readonly { technique: AttackTechnique; rules: readonly string[]; alerts: number }[];
};

export type MatrixColumn = {
  readonly tactic: AttackCoverage["tactics"][number];
  readonly cells: readonly MatrixCell[];
};

/** Columns in the catalog's tactic order; in each, the tactic's techniques by name, sub-techniques folded in. */
export function buildMatrix(data: AttackCoverage): MatrixColumn[] {
  const coverageOf = (id: string) => data.coverage[id.toUpperCase()] ?? { rules: [], alerts: 0 };
  const subs = new Map<string, AttackTechnique[]>();
  for (const technique of data.techniques) {
    if (technique.parent === undefined) continue;
    const list = subs.get(technique.parent) ?? [];
    list.push(technique);
    subs.set(technique.parent, list);
  }
  const cells = new Map<string, MatrixCell>();
  for (const technique of data.techniques) {
    if (technique.parent !== undefined) continue;
    const own = coverageOf(technique.id);
    const rules = new Set(own.rules);
    let alerts = own.alerts;
    const subtechniques = (subs.get(technique.id) ?? [])
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((sub) => {
        const c = coverageOf(sub.id);
        for (const rule of c.rules) rules.add(rule);
        alerts += c.alerts;
        return { technique: sub, rules: c.rules, alerts: c.alerts };
      });
    cells.set(technique.id, { technique, rules: [...rules].sort(), alerts, subtechniques });
  }
  return data.tactics.map((tactic) => ({
    tactic,
    cells: [...cells.values()]
      .filter((cell) => cell.technique.tactics.includes(tactic.shortname))
      .sort((a, b) => a.technique.name.localeCompare(b.technique.name)),
  }));
}

/** Colour steps of the matrix: none, one rule, a few, many. */
export function coverageLevel(rules: number): 0 | 1 | 2 | 3 {
  if (rules === 0) return 0;
  if (rules === 1) return 1;
  return rules <= 3 ? 2 : 3;
}

/** The layer format ATT&CK Navigator (v5) imports: https://github.com/mitre-attack/attack-navigator/tree/master/layers */
export type NavigatorLayer = {
  name: string;
  versions: { attack: string; navigator: string; layer: string };
  domain: "enterprise-attack";
  description: string;
  sorting: number;
  hideDisabled: boolean;
  techniques: {
    techniqueID: string;
    score: number;
    color: string;
    comment: string;
    enabled: boolean;
    metadata: { name: string; value: string }[];
    showSubtechniques: boolean;
  }[];
  gradient: { colors: string[]; minValue: number; maxValue: number };
  legendItems: { label: string; color: string }[];
  selectTechniquesAcrossTactics: boolean;
};

const ALERTED = "#e5484d";

/**
 * A Navigator layer of the coverage: score = enabled rules on the technique (the gradient colours it), and a
 * technique that raised alerts in the range is red, with the count and the rule titles in its comment.
 * Only techniques with rules or alerts are listed; Navigator leaves the rest uncoloured.
 */
export function navigatorLayer(data: AttackCoverage): NavigatorLayer {
  const ids = Object.keys(data.coverage).sort();
  const max = Math.max(1, ...ids.map((id) => data.coverage[id]?.rules.length ?? 0));
  const [major = "18"] = data.version.split(".");
  return {
    name: "ring3 detection coverage",
    versions: { attack: major, navigator: "5.1.0", layer: "4.5" },
    domain: "enterprise-attack",
    description: `Enabled ring3 rules per technique; alerts from ${data.from} to ${data.to}.`,
    sorting: 3,
    hideDisabled: false,
    techniques: ids.map((id) => {
      const c = data.coverage[id] ?? { rules: [], alerts: 0 };
      const comment = [
        c.rules.length > 0 ? `Rules: ${c.rules.join("; ")}` : "No enabled rule",
        `Alerts: ${c.alerts}`,
      ].join(". ");
      return {
        techniqueID: id,
        score: c.rules.length,
        color: c.alerts > 0 ? ALERTED : "",
        comment,
        enabled: true,
        metadata: [
          { name: "rules", value: String(c.rules.length) },
          { name: "alerts", value: String(c.alerts) },
        ],
        showSubtechniques: false,
      };
    }),
    gradient: { colors: ["#dbeafe", "#1d4ed8"], minValue: 0, maxValue: max },
    legendItems: [
      { label: "covered by enabled rules (darker: more)", color: "#1d4ed8" },
      { label: "alerts fired in the range", color: ALERTED },
    ],
    selectTechniquesAcrossTactics: true,
  };
}
