import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { AttackTactic, AttackTechnique } from "@ring3/protocol";

/**
 * MITRE ATT&CK Enterprise, from the `enterprise-techniques.json` extract of mitre/cti
 * (`{attack_version, tactics: [{id, name, shortname}], techniques: [{id, name, tactics, parent, url}]}`).
 * ring3 does not ship it (MITRE's terms ask for attribution, and it changes twice a year): the server reads
 * it from `attackCatalogPath`, by default the development data beside the checkout.
 */
export type AttackCatalog = {
  readonly version: string;
  readonly tactics: readonly AttackTactic[];
  readonly techniques: readonly AttackTechnique[];
};

export function defaultAttackCatalogPath(): string {
  const root = process.env["R3_SHARED_DATA"] ?? resolve(import.meta.dirname, "..", "..", "..", "..", "shared", "data");
  return join(root, "attack", "enterprise-techniques.json");
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const records = (value: unknown): Record<string, unknown>[] =>
  Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null) : [];

/** Throws (ENOENT included) when the file is missing or is not a catalog. */
export async function readAttackCatalog(path: string): Promise<AttackCatalog> {
  const raw = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  const tactics: AttackTactic[] = [];
  for (const t of records(raw["tactics"])) {
    const [id, name, shortname] = [text(t["id"]), text(t["name"]), text(t["shortname"])];
    if (id !== undefined && name !== undefined && shortname !== undefined) tactics.push({ id, name, shortname });
  }
  const techniques: AttackTechnique[] = [];
  for (const t of records(raw["techniques"])) {
    const [id, name, parent, url] = [text(t["id"]), text(t["name"]), text(t["parent"]), text(t["url"])];
    if (id === undefined || name === undefined) continue;
    const tacticNames = Array.isArray(t["tactics"])
      ? t["tactics"].filter((x): x is string => typeof x === "string")
      : [];
    techniques.push({
      id: id.toUpperCase(),
      name,
      tactics: tacticNames,
      ...(parent === undefined ? {} : { parent: parent.toUpperCase() }),
      ...(url === undefined ? {} : { url }),
    });
  }
  if (tactics.length === 0 || techniques.length === 0) throw new Error(`${path}: not an ATT&CK catalog`);
  return { version: text(raw["attack_version"]) ?? "unknown", tactics, techniques };
}
