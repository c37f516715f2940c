import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Diagnostic, WindowsLogsourceMap } from "@ring3/detection";
import { mergeWindowsLogsourceMaps, parseWindowsLogsourceMap } from "@ring3/detection";

/** The channel/event-ID → logsource map ring3 ships; users extend it with `--logsources <file>`. */
export const SHIPPED_WINDOWS_LOGSOURCES = resolve(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "content",
  "logsources",
  "windows.yaml",
);

export async function loadWindowsLogsourceMap(
  extension: string | undefined,
): Promise<{ map: WindowsLogsourceMap | undefined; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const read = async (path: string): Promise<WindowsLogsourceMap | undefined> => {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      diagnostics.push({
        code: "R3_LOGSOURCE_UNREADABLE",
        severity: "error",
        message: `cannot read the logsource map: ${error instanceof Error ? error.message : String(error)}`,
        file: path,
        line: 0,
        col: 0,
      });
      return undefined;
    }
    const parsed = parseWindowsLogsourceMap(text, path);
    diagnostics.push(...parsed.diagnostics);
    return parsed.diagnostics.some((d) => d.severity === "error") ? undefined : parsed.map;
  };
  const base = await read(SHIPPED_WINDOWS_LOGSOURCES);
  if (base === undefined || extension === undefined) return { map: base, diagnostics };
  const extra = await read(resolve(extension));
  return { map: extra === undefined ? undefined : mergeWindowsLogsourceMaps(base, extra), diagnostics };
}
