import type { FieldFilter } from "@ring3/protocol";

/**
 * How the store compares an event field with a search value, in one place so the index, the SQL scan and
 * suppression matching agree. Sigma compares case-insensitively; a number matches its decimal text (ProcessId
 * 4242 equals "4242"); a list matches when any element does (auditd events carry `type: [SYSCALL, EXECVE]`,
 * packages/agent/src/normalise.ts); null, objects and nested lists match nothing but `exists`.
 */
export function fold(text: string): string {
  return text.toLowerCase();
}

/** The folded text of a scalar, or undefined for null, objects and lists. */
export function scalarText(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return fold(value);
    case "number":
    case "bigint":
    case "boolean":
      return String(value);
    default:
      return undefined;
  }
}

/** Every folded text a field value compares as. */
export function valueTexts(value: unknown): string[] {
  if (!Array.isArray(value)) {
    const text = scalarText(value);
    return text === undefined ? [] : [text];
  }
  const texts: string[] = [];
  for (const element of value) {
    const text = scalarText(element);
    if (text !== undefined) texts.push(text);
  }
  return texts;
}

export type TextOp = Exclude<FieldFilter["op"], "exists" | "neq">;

/** Whether one folded value text satisfies `op` against a folded needle. */
export function textMatches(op: TextOp, text: string, needle: string): boolean {
  switch (op) {
    case "eq":
      return text === needle;
    case "contains":
      return text.includes(needle);
    case "startswith":
      return text.startsWith(needle);
    case "endswith":
      return text.endsWith(needle);
  }
}

/** The folded needle of a filter (undefined for `exists`, whose value is a flag). */
export function filterNeedle(filter: FieldFilter): string | undefined {
  return filter.op === "exists" || filter.value === undefined ? undefined : (scalarText(filter.value) ?? "");
}

/** An integer field (ProcessId 4242 or "4242", as Sysmon's XML and the Linux agent write pids), else undefined. */
export function integerField(value: unknown): number | undefined {
  const n = typeof value === "string" && /^\s*-?\d{1,16}\s*$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : undefined;
}
