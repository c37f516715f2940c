import type { CompiledDetection } from "./compile.ts";
import type { SigmaRule } from "./sigma-rule.ts";

/** A rule ready to run: its document, its compiled detection (filters already applied) and ATT&CK refs. */
export type CompiledRule = {
  readonly rule: SigmaRule;
  /** id, or title for rules without one. */
  readonly ref: string;
  readonly detection: CompiledDetection;
  /** ATT&CK technique ids from `attack.tNNNN[.NNN]` tags, upper-cased (`T1059.001`). */
  readonly techniques: readonly string[];
  /** ATT&CK tactic short names from `attack.<tactic>` tags (`execution`, `defense-evasion`). */
  readonly tactics: readonly string[];
  /** Titles of the meta-filters applied to this rule. */
  readonly filters: readonly string[];
};

const TACTICS = new Set([
  "reconnaissance",
  "resource-development",
  "initial-access",
  "execution",
  "persistence",
  "privilege-escalation",
  "defense-evasion",
  // ATT&CK v19 split defense-evasion into stealth and defense-impairment; SigmaHQ already tags both.
  "stealth",
  "defense-impairment",
  "credential-access",
  "discovery",
  "lateral-movement",
  "collection",
  "command-and-control",
  "exfiltration",
  "impact",
]);

export function attackRefs(tags: readonly string[]): { techniques: string[]; tactics: string[] } {
  const techniques: string[] = [];
  const tactics: string[] = [];
  for (const tag of tags) {
    const lower = tag.toLowerCase();
    if (!lower.startsWith("attack.")) continue;
    const rest = lower.slice("attack.".length);
    if (/^t\d{4}(\.\d{3})?$/.test(rest)) techniques.push(rest.toUpperCase());
    else {
      const tactic = rest.replace(/_/g, "-");
      if (TACTICS.has(tactic)) tactics.push(tactic);
    }
  }
  return { techniques, tactics };
}
