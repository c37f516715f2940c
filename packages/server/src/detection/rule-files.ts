import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Diagnostic, RuleSource } from "@ring3/detection";

/**
 * The YAML files under the server's rule directories, read in sorted order so every start loads the same
 * way. An unreadable directory becomes a diagnostic: the server starts with the rules it could read.
 */
export async function readRuleDirs(
  dirs: readonly string[],
): Promise<{ sources: RuleSource[]; diagnostics: Diagnostic[] }> {
  const sources: RuleSource[] = [];
  const diagnostics: Diagnostic[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path);
    if (!info.isDirectory()) {
      sources.push({ path, text: await readFile(path, "utf8") });
      return;
    }
    for (const name of (await readdir(path)).sort()) {
      if (name.startsWith(".")) continue;
      const child = join(path, name);
      if ((await stat(child)).isDirectory() || /\.ya?ml$/i.test(name)) await walk(child);
    }
  };
  for (const dir of dirs) {
    try {
      await walk(dir);
    } catch (error) {
      diagnostics.push({
        code: "R3_SERVER_RULES_UNREADABLE",
        severity: "error",
        message: `cannot read rules: ${(error as Error).message}`,
        file: dir,
        line: 0,
        col: 0,
      });
    }
  }
  return { sources, diagnostics };
}
