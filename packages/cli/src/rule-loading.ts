import type { LoadResult } from "@ring3/detection";
import { loadRules } from "@ring3/detection";
import { readPlaceholders } from "./placeholders.ts";
import { collectRuleFiles, readRuleSources } from "./rule-files.ts";

/**
 * Rules from files and directories (with `--placeholders` values), or why there are none to run. `shipped`:
 * the paths are ring3's own content/rules, named as such when missing, since the user did not write them.
 */
export async function loadRuleFiles(
  paths: readonly string[],
  shipped: boolean,
  placeholders: string | undefined,
): Promise<LoadResult | string> {
  const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
  if (shipped) {
    const files = await collectRuleFiles(paths).catch(() => []);
    if (files.length === 0) {
      return `ring3's own rules (${paths.join(", ")}) are absent or empty: pass --rules <dir>, e.g. a SigmaHQ checkout's rules/windows`;
    }
  }
  let values: Record<string, string[]>;
  try {
    values = await readPlaceholders(placeholders);
  } catch (error) {
    return `cannot read the placeholders: ${message(error)}`;
  }
  try {
    return loadRules(await readRuleSources(paths), { placeholders: values });
  } catch (error) {
    return `cannot read the rules: ${message(error)}`;
  }
}
