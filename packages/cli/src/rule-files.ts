import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { RuleSource } from "@ring3/detection";

/** Expands files and directories (recursively) into rule files, sorted so every run loads in the same order. */
export async function collectRuleFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path);
    if (info.isDirectory()) {
      const entries = await readdir(path);
      for (const name of entries.sort()) {
        if (name.startsWith(".")) continue;
        const child = join(path, name);
        const childInfo = await stat(child);
        if (childInfo.isDirectory() || /\.ya?ml$/i.test(name)) await walk(child);
      }
    } else {
      out.push(path);
    }
  };
  for (const p of paths) await walk(p);
  return out;
}

export async function readRuleSources(paths: readonly string[]): Promise<RuleSource[]> {
  const files = await collectRuleFiles(paths);
  return Promise.all(files.map(async (path) => ({ path, text: await readFile(path, "utf8") })));
}
