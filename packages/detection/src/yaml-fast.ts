import * as jsYaml from "js-yaml";
import { FAILSAFE_SCHEMA, Type, loadAll } from "js-yaml";
import type { YDocument, YNode } from "./yaml-tree.ts";

/**
 * The fast path for reading rule files. `yaml` (which knows every node's position) reads the SigmaHQ corpus
 * in ~2.4 s; js-yaml reads it in ~0.4 s but keeps no positions. The loader reads with this first and, only
 * for a file that produced any diagnostic, reads it again with positions so the diagnostic can say
 * file:line:col. Nodes read here carry position 0:0 and must never reach a diagnostic.
 */
class YamlNumber {
  readonly value: number;
  readonly text: string;
  constructor(value: number, text: string) {
    this.value = value;
    this.text = text;
  }
}

// js-yaml exports its built-in scalar types at run time; @types/js-yaml does not declare them.
const types = (jsYaml as unknown as { types: Record<"null" | "bool" | "int" | "float", Type> }).types;

/** Plain scalars keep their source text (`0x10`, `00123`, `1.10`), as the positioned reader does. */
const schema = FAILSAFE_SCHEMA.extend({
  implicit: [
    types.null,
    types.bool,
    new Type("tag:yaml.org,2002:int", {
      kind: "scalar",
      resolve: (data: string) => types.int.resolve(data),
      construct: (data: string) => new YamlNumber(Number(types.int.construct(data)), data),
    }),
    new Type("tag:yaml.org,2002:float", {
      kind: "scalar",
      resolve: (data: string) => types.float.resolve(data),
      construct: (data: string) => new YamlNumber(Number(types.float.construct(data)), data),
    }),
  ],
});

const NOWHERE = { line: 0, col: 0 } as const;

/** Undefined when the fast reader cannot take the file (syntax error, several documents, anchors…). */
export function readYamlFast(text: string): YDocument[] | undefined {
  // Multi-document files need each document's own text; leave them to the positioned reader.
  if (/^(---|\.\.\.)\s*$/m.test(text.replace(/^---\s*\n/, ""))) return undefined;
  // js-yaml turns a complex key (`? [a, b]: x`, `[a, b]: x`) into the string "a,b" where the positioned reader
  // refuses it; leave anything like one to the positioned reader so that both decide alike.
  if (/^\s*\?(\s|$)|[{,]\s*\?\s|(^|[{,-])\s*[[{][^\n]{0,200}[\]}]\s*:(\s|$)/m.test(text)) return undefined;
  let docs: unknown[];
  try {
    docs = [];
    loadAll(text, (d) => docs.push(d), { schema, json: false });
  } catch {
    return undefined;
  }
  const out: YDocument[] = [];
  for (const d of docs) {
    if (d === null || d === undefined) continue;
    const root = convert(d, 0);
    if (root === undefined) return undefined;
    out.push({ root, pos: NOWHERE, text });
  }
  return out;
}

function convert(value: unknown, depth: number): YNode | undefined {
  if (depth > 64) return undefined;
  if (value === null) return { kind: "scalar", value: null, text: "", quoted: false, pos: NOWHERE };
  if (typeof value === "string") return { kind: "scalar", value, text: value, quoted: true, pos: NOWHERE };
  if (typeof value === "boolean") return { kind: "scalar", value, text: String(value), quoted: false, pos: NOWHERE };
  if (value instanceof YamlNumber) {
    return { kind: "scalar", value: value.value, text: value.text, quoted: false, pos: NOWHERE };
  }
  if (Array.isArray(value)) {
    const items: YNode[] = [];
    for (const item of value) {
      const node = convert(item, depth + 1);
      if (node === undefined) return undefined;
      items.push(node);
    }
    return { kind: "seq", items, pos: NOWHERE };
  }
  if (typeof value === "object") {
    const entries = [];
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const node = convert(v, depth + 1);
      if (node === undefined) return undefined;
      entries.push({ key, keyPos: NOWHERE, value: node });
    }
    return { kind: "map", entries, pos: NOWHERE };
  }
  return undefined;
}
