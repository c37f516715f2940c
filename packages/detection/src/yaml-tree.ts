import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments } from "yaml";
import type { Node as YamlNode, Document } from "yaml";
import type { DiagnosticSink, SourcePosition } from "./diagnostics.ts";

/**
 * YAML reduced to what Sigma content needs, with a source position on every node so that a diagnostic can
 * point at file:line:col. Scalars keep their source text: `EventID: 0x10` or `Hash: 00ff` must not lose their
 * spelling to YAML's number parsing.
 */
export type YScalar = {
  readonly kind: "scalar";
  readonly value: string | number | boolean | null;
  /** The scalar as written (plain scalars) or its string value (quoted ones). */
  readonly text: string;
  readonly quoted: boolean;
  readonly pos: SourcePosition;
  /**
   * The scalar's source (block header and quotes included) when it spans several lines, so that an offset into
   * its folded value can be traced back to a line and column (a condition written with `>`). Undefined on one
   * line, where `pos` plus the offset is exact.
   */
  readonly raw?: string;
};
export type YMapEntry = { readonly key: string; readonly keyPos: SourcePosition; readonly value: YNode };
export type YMap = { readonly kind: "map"; readonly entries: readonly YMapEntry[]; readonly pos: SourcePosition };
export type YSeq = { readonly kind: "seq"; readonly items: readonly YNode[]; readonly pos: SourcePosition };
export type YNode = YScalar | YMap | YSeq;

export type YDocument = { readonly root: YNode | undefined; readonly pos: SourcePosition; readonly text: string };

const MAX_DEPTH = 64;

/** Parses every document of a (possibly multi-document) YAML file. Syntax errors become diagnostics. */
export function readYamlDocuments(text: string, sink: DiagnosticSink): YDocument[] {
  const lineCounter = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false }) as Document.Parsed[];
  } catch (error) {
    sink.error("R3_YAML_SYNTAX", `cannot parse YAML: ${String(error)}`, { line: 1, col: 1 });
    return [];
  }
  const at = (offset: number): SourcePosition => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const out: YDocument[] = [];
  for (const doc of docs) {
    let bad = false;
    for (const error of doc.errors) {
      bad = true;
      sink.error("R3_YAML_SYNTAX", error.message.split("\n")[0] ?? "YAML syntax error", at(error.pos[0]));
    }
    if (bad) continue;
    const start = doc.range[0];
    const source = text.slice(start, doc.range[2]);
    if (doc.contents === null) continue;
    // A node the converter had to leave out (an alias without anchor, a complex key, too deep) would silently
    // change the rule — a selection losing its only field matches everything — so the document is dropped.
    const before = sink.items.length;
    const root = convert(doc.contents, doc, at, text, sink, 0);
    if (sink.items.slice(before).some((d) => d.severity === "error")) continue;
    out.push({ root, pos: at(start), text: source });
  }
  return out;
}

function convert(
  node: unknown,
  doc: Document.Parsed,
  at: (offset: number) => SourcePosition,
  source: string,
  sink: DiagnosticSink,
  depth: number,
): YNode | undefined {
  if (depth > MAX_DEPTH) {
    sink.error("R3_YAML_TOO_DEEP", `YAML nested deeper than ${MAX_DEPTH} levels`, at(startOf(node)));
    return undefined;
  }
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target === undefined) {
      sink.error("R3_YAML_SYNTAX", `alias *${node.source} refers to no anchor`, at(node.range?.[0] ?? 0));
      return undefined;
    }
    return convert(target, doc, at, source, sink, depth + 1);
  }
  if (isScalar(node)) {
    const pos = at(node.range?.[0] ?? 0);
    const value = node.value;
    const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
    const v = typeof value === "bigint" ? Number(value) : value;
    if (v !== null && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      const text = node.source ?? JSON.stringify(v);
      return { kind: "scalar", value: text, text, quoted, pos };
    }
    const text = typeof v === "string" ? v : (node.source ?? String(v));
    const raw = node.range ? source.slice(node.range[0], node.range[1]) : "";
    if (raw.includes("\n")) return { kind: "scalar", value: v, text, quoted, pos, raw };
    return { kind: "scalar", value: v, text, quoted, pos };
  }
  if (isMap(node)) {
    const entries: YMapEntry[] = [];
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const keyPos = at((isScalar(keyNode) ? keyNode.range?.[0] : undefined) ?? node.range?.[0] ?? 0);
      const key = isScalar(keyNode) ? keyText(keyNode.value, keyNode.source) : "";
      if (!isScalar(keyNode)) {
        sink.error("R3_YAML_KEY", "mapping keys must be plain scalars", keyPos);
        continue;
      }
      const value = pair.value === null ? nullAt(keyPos) : convert(pair.value, doc, at, source, sink, depth + 1);
      if (value !== undefined) entries.push({ key, keyPos, value });
    }
    return { kind: "map", entries, pos: at(node.range?.[0] ?? 0) };
  }
  if (isSeq(node)) {
    const items: YNode[] = [];
    for (const item of node.items) {
      const value = item === null ? nullAt(at(node.range?.[0] ?? 0)) : convert(item, doc, at, source, sink, depth + 1);
      if (value !== undefined) items.push(value);
    }
    return { kind: "seq", items, pos: at(node.range?.[0] ?? 0) };
  }
  sink.error("R3_YAML_SYNTAX", "unsupported YAML node", at(startOf(node)));
  return undefined;
}

function startOf(node: unknown): number {
  return (node as { range?: readonly number[] } | null)?.range?.[0] ?? 0;
}

function keyText(value: unknown, source: string | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return source ?? JSON.stringify(value);
}

function nullAt(pos: SourcePosition): YScalar {
  return { kind: "scalar", value: null, text: "", quoted: false, pos };
}

export function mapGet(map: YMap, key: string): YMapEntry | undefined {
  return map.entries.find((e) => e.key === key);
}

/** Plain JavaScript value of a node, for metadata the engine only carries (tags, references, custom keys). */
export function toPlain(node: YNode): unknown {
  switch (node.kind) {
    case "scalar":
      return node.value;
    case "seq":
      return node.items.map(toPlain);
    case "map":
      return Object.fromEntries(node.entries.map((e) => [e.key, toPlain(e.value)]));
  }
}
