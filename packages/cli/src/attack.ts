import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";

/**
 * ATT&CK Enterprise techniques with their tactics, read from the `enterprise-techniques.json` extract of
 * mitre/cti (`{tactics: [{id, name, shortname}], techniques: [{id, name, tactics}], revoked_or_deprecated:
 * [{id, revoked_by}]}`). Many SigmaHQ rules tag a technique without its tactic; this names the tactic.
 * ring3 does not ship the catalog (MITRE's terms ask for attribution, and it changes twice a year): it is read
 * from `--attack <file>` or the development data beside the checkout, and without it tactics come from rule
 * tags only.
 */
export type AttackCatalog = {
  readonly version: string | undefined;
  /** Tactic short names of a technique (a sub-technique unknown to the catalog falls back to its parent). */
  tacticsOf(technique: string): readonly string[];
  /** "Defense Evasion (TA0005)" for `defense-evasion`; a tactic unknown to the catalog is title-cased ("Stealth"). */
  tacticLabel(shortname: string): string;
  /** Tactic short names in ATT&CK's kill-chain order, for sorting. */
  readonly tacticOrder: readonly string[];
};

/** Where the development data keeps the catalog: `$R3_SHARED_DATA` or `../shared/data` beside the checkout. */
export function defaultAttackCatalogPath(): string | undefined {
  const root = process.env["R3_SHARED_DATA"] ?? resolve(import.meta.dirname, "..", "..", "..", "..", "shared", "data");
  const path = join(root, "attack", "enterprise-techniques.json");
  return existsSync(path) ? path : undefined;
}

/** Used when no catalog is at hand: tags are the only source of tactics. */
export const TAGS_ONLY_CATALOG: AttackCatalog = {
  version: undefined,
  tacticsOf: () => [],
  tacticLabel: titleCase,
  tacticOrder: [],
};

/** `command-and-control` → "Command and Control", as ATT&CK writes its tactic names. */
function titleCase(shortname: string): string {
  return shortname
    .split("-")
    .map((word, i) =>
      i > 0 && ["and", "of", "the"].includes(word) ? word : word.charAt(0).toUpperCase() + word.slice(1),
    )
    .join(" ");
}

type RawCatalog = {
  attack_version?: unknown;
  tactics?: unknown;
  techniques?: unknown;
  revoked_or_deprecated?: unknown;
};

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null)
    : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Throws with the path in the message when the file cannot be read or is not a catalog. */
export async function loadAttackCatalog(path: string): Promise<AttackCatalog> {
  const raw = JSON.parse(await readFile(path, "utf8")) as RawCatalog;
  const tactics = list(raw.tactics);
  const techniques = list(raw.techniques);
  if (tactics.length === 0 || techniques.length === 0) {
    throw new Error(`${path}: not an ATT&CK catalog (no tactics or techniques)`);
  }
  const labels = new Map<string, string>();
  for (const t of tactics) {
    if (typeof t["shortname"] === "string") labels.set(t["shortname"], `${String(t["name"])} (${String(t["id"])})`);
  }
  const byId = new Map<string, readonly string[]>();
  for (const t of techniques) {
    if (typeof t["id"] === "string") byId.set(t["id"].toUpperCase(), strings(t["tactics"]));
  }
  // Rules written years ago still tag revoked ids (T1178 → T1134.005): follow them to the current technique.
  const revokedBy = new Map<string, string>();
  for (const r of list(raw.revoked_or_deprecated)) {
    if (typeof r["id"] === "string" && typeof r["revoked_by"] === "string") {
      revokedBy.set(r["id"].toUpperCase(), r["revoked_by"].toUpperCase());
    }
  }
  const tacticsOf = (technique: string): readonly string[] => {
    let id = technique.toUpperCase();
    for (let hops = 0; hops < 4 && !byId.has(id) && revokedBy.has(id); hops++) id = revokedBy.get(id) ?? id;
    return byId.get(id) ?? byId.get(id.split(".")[0] ?? id) ?? [];
  };
  return {
    version: typeof raw.attack_version === "string" ? raw.attack_version : undefined,
    tacticsOf,
    tacticLabel: (shortname) => labels.get(shortname) ?? titleCase(shortname),
    tacticOrder: [...labels.keys()],
  };
}

/** `attack.t1059.001`, and group (`attack.g0016`) and software (`attack.s0002`) tags: not tactics. */
const NOT_A_TACTIC = /^[gst]\d{4}(\.\d{3})?$/;

/**
 * A rule's tactics: its `attack.<tactic>` tags, read directly rather than against a fixed list because SigmaHQ
 * follows ATT&CK as it changes (`attack.stealth`, `attack.defense-impairment` are newer than v18's
 * `defense-evasion`). Only a rule without any tactic tag gets the catalog's tactics of its techniques, so two
 * ATT&CK versions are not mixed on one rule.
 */
export function ruleTactics(catalog: AttackCatalog, tags: readonly string[], techniques: readonly string[]): string[] {
  const tagged = new Set<string>();
  for (const tag of tags) {
    const lower = tag.toLowerCase();
    if (!lower.startsWith("attack.")) continue;
    const name = lower.slice("attack.".length);
    if (name !== "" && !NOT_A_TACTIC.test(name)) tagged.add(name.replace(/_/g, "-"));
  }
  if (tagged.size > 0) return [...tagged];
  const derived = new Set<string>();
  for (const technique of techniques) for (const tactic of catalog.tacticsOf(technique)) derived.add(tactic);
  return [...derived];
}
