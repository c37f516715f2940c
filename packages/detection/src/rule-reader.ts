import type { DiagnosticSink, SourcePosition } from "./diagnostics.ts";
import type {
  ConditionOperator,
  ConditionText,
  CorrelationCondition,
  CorrelationType,
  FieldSpec,
  RuleLevel,
  SearchIdentifier,
  SigmaCorrelation,
  SigmaDetection,
  SigmaDocument,
  SigmaLogsource,
} from "./sigma-rule.ts";
import { CONDITION_OPERATORS, CORRELATION_TYPES, RULE_LEVELS } from "./sigma-rule.ts";
import type { YDocument, YMap, YNode, YScalar } from "./yaml-tree.ts";
import { mapGet, toPlain } from "./yaml-tree.ts";

/**
 * Read + validate: turns one YAML document into a rule, a filter or a correlation, or into diagnostics.
 * Nothing is compiled here; the compiler only ever sees structurally valid documents.
 */
export function readSigmaDocument(doc: YDocument, sink: DiagnosticSink): SigmaDocument | undefined {
  const root = doc.root;
  if (root?.kind !== "map") {
    sink.error("R3_RULE_NOT_A_MAP", "a Sigma document must be a YAML mapping", root?.pos ?? doc.pos);
    return undefined;
  }
  const id = optionalString(root, "id", sink);
  const titleNode = optionalString(root, "title", sink);
  sink.rule = id ?? titleNode;
  if (titleNode === undefined) {
    sink.error("R3_RULE_MISSING_TITLE", "`title` is required", root.pos);
  }
  const action = optionalString(root, "action", sink);
  if (action !== undefined) {
    sink.error(
      "R3_RULE_UNSUPPORTED_ACTION",
      `\`action: ${action}\` (Sigma 1.0 rule collections) is not part of Sigma 2; split the collection into rules`,
      mapGet(root, "action")?.keyPos,
    );
    return undefined;
  }
  const meta = {
    file: sink.file,
    pos: root.pos,
    id,
    name: optionalString(root, "name", sink),
    title: titleNode ?? "",
    description: optionalString(root, "description", sink),
    author: optionalString(root, "author", sink),
    date: optionalString(root, "date", sink),
    modified: optionalString(root, "modified", sink),
    tags: stringList(root, "tags", sink),
    references: stringList(root, "references", sink),
    yaml: doc.text,
  };
  const hasCorrelation = mapGet(root, "correlation") !== undefined;
  const hasFilter = mapGet(root, "filter") !== undefined;
  if (hasCorrelation) {
    const correlation = readCorrelation(root, sink);
    if (correlation === undefined || titleNode === undefined) return undefined;
    return {
      ...meta,
      kind: "correlation",
      status: optionalString(root, "status", sink),
      level: readLevel(root, sink),
      falsepositives: stringList(root, "falsepositives", sink),
      ...correlation,
    };
  }
  const logsource = readLogsource(root, sink);
  if (hasFilter) {
    const filterEntry = mapGet(root, "filter");
    if (filterEntry?.value.kind !== "map") {
      sink.error(
        "R3_FILTER_BAD",
        "`filter` must be a mapping with `rules`, selections and `condition`",
        filterEntry?.keyPos,
      );
      return undefined;
    }
    const rules = stringList(filterEntry.value, "rules", sink);
    if (rules.length === 0) {
      sink.error("R3_FILTER_NO_RULES", "`filter.rules` must name at least one rule id or name", filterEntry.keyPos);
    }
    const detection = readDetection(filterEntry.value, filterEntry.keyPos, sink, new Set(["rules"]));
    if (detection === undefined || logsource === undefined || titleNode === undefined || rules.length === 0) {
      return undefined;
    }
    return { ...meta, kind: "filter", logsource, rules, detection };
  }
  const detectionEntry = mapGet(root, "detection");
  if (detectionEntry === undefined) {
    sink.error("R3_RULE_MISSING_DETECTION", "`detection` is required", root.pos);
    return undefined;
  }
  if (detectionEntry.value.kind !== "map") {
    sink.error("R3_RULE_BAD_DETECTION", "`detection` must be a mapping", detectionEntry.value.pos);
    return undefined;
  }
  const detection = readDetection(detectionEntry.value, detectionEntry.keyPos, sink, new Set(["timeframe"]));
  if (mapGet(detectionEntry.value, "timeframe") !== undefined) {
    sink.warning(
      "R3_RULE_TIMEFRAME_IGNORED",
      "`detection.timeframe` belongs to the obsolete aggregation syntax; use a correlation rule",
      mapGet(detectionEntry.value, "timeframe")?.keyPos,
    );
  }
  if (logsource === undefined || detection === undefined || titleNode === undefined) return undefined;
  const level = readLevel(root, sink);
  return {
    ...meta,
    kind: "rule",
    status: optionalString(root, "status", sink),
    level,
    logsource,
    detection,
    falsepositives: stringList(root, "falsepositives", sink),
    fields: stringList(root, "fields", sink),
    regressionTestsPath: optionalString(root, "regression_tests_path", sink),
  };
}

function optionalString(map: YMap, key: string, sink: DiagnosticSink): string | undefined {
  const entry = mapGet(map, key);
  if (entry === undefined) return undefined;
  const node = entry.value;
  if (node.kind !== "scalar") {
    sink.error("R3_RULE_BAD_TYPE", `\`${key}\` must be a single value`, node.pos);
    return undefined;
  }
  if (node.value === null) return undefined;
  return node.text;
}

function stringList(map: YMap, key: string, sink: DiagnosticSink): string[] {
  const entry = mapGet(map, key);
  if (entry === undefined) return [];
  const node = entry.value;
  if (node.kind === "scalar") return node.value === null ? [] : [node.text];
  if (node.kind === "map") {
    sink.error("R3_RULE_BAD_TYPE", `\`${key}\` must be a list of values`, node.pos);
    return [];
  }
  const out: string[] = [];
  for (const item of node.items) {
    if (item.kind === "scalar") {
      if (item.value !== null) out.push(item.text);
    } else {
      // Some rules carry structured entries (e.g. `fields` with maps); keep them readable.
      out.push(JSON.stringify(toPlain(item)));
    }
  }
  return out;
}

function readLevel(map: YMap, sink: DiagnosticSink): RuleLevel | undefined {
  const level = optionalString(map, "level", sink);
  if (level === undefined) return undefined;
  if ((RULE_LEVELS as readonly string[]).includes(level)) return level as RuleLevel;
  sink.warning(
    "R3_RULE_BAD_LEVEL",
    `level '${level}' is not one of ${RULE_LEVELS.join(", ")}; treated as absent`,
    mapGet(map, "level")?.value.pos,
  );
  return undefined;
}

function readLogsource(root: YMap, sink: DiagnosticSink): SigmaLogsource | undefined {
  const entry = mapGet(root, "logsource");
  if (entry === undefined) {
    sink.error("R3_RULE_MISSING_LOGSOURCE", "`logsource` is required", root.pos);
    return undefined;
  }
  if (entry.value.kind !== "map") {
    sink.error("R3_RULE_BAD_LOGSOURCE", "`logsource` must be a mapping", entry.value.pos);
    return undefined;
  }
  const product = optionalString(entry.value, "product", sink);
  const category = optionalString(entry.value, "category", sink);
  const service = optionalString(entry.value, "service", sink);
  if (product === undefined && category === undefined && service === undefined) {
    sink.error(
      "R3_RULE_EMPTY_LOGSOURCE",
      "`logsource` needs at least one of product, category, service",
      entry.value.pos,
    );
    return undefined;
  }
  return {
    ...(product === undefined ? {} : { product: product.toLowerCase() }),
    ...(category === undefined ? {} : { category: category.toLowerCase() }),
    ...(service === undefined ? {} : { service: service.toLowerCase() }),
  };
}

/** `detection:` (or a filter's body): search identifiers plus `condition`. */
function readDetection(
  map: YMap,
  at: SourcePosition,
  sink: DiagnosticSink,
  ignoredKeys: ReadonlySet<string>,
): SigmaDetection | undefined {
  const identifiers = new Map<string, SearchIdentifier>();
  let conditions: ConditionText[] = [];
  let ok = true;
  for (const entry of map.entries) {
    if (entry.key === "condition") {
      conditions = readConditions(entry.value, sink) ?? [];
      if (conditions.length === 0) ok = false;
      continue;
    }
    if (ignoredKeys.has(entry.key)) continue;
    const identifier = readSearchIdentifier(entry.key, entry.keyPos, entry.value, sink);
    if (identifier === undefined) ok = false;
    else identifiers.set(entry.key, identifier);
  }
  if (mapGet(map, "condition") === undefined) {
    sink.error("R3_RULE_MISSING_CONDITION", "`condition` is required", at);
    return undefined;
  }
  return ok ? { identifiers, conditions } : undefined;
}

function readConditions(node: YNode, sink: DiagnosticSink): ConditionText[] | undefined {
  const one = (n: YNode): ConditionText | undefined => {
    if (n.kind !== "scalar" || typeof n.value !== "string") {
      sink.error("R3_CONDITION_NOT_STRING", "a condition must be a string", n.pos);
      return undefined;
    }
    return { text: n.value, pos: n.pos, quoted: n.quoted, raw: n.raw };
  };
  // Spec: "The condition can be a list, in this case, each of them generates a query. They are logically
  // linked with OR."
  const nodes = node.kind === "seq" ? node.items : [node];
  const out: ConditionText[] = [];
  for (const n of nodes) {
    const c = one(n);
    if (c === undefined) return undefined;
    out.push(c);
  }
  return out;
}

function readSearchIdentifier(
  name: string,
  pos: SourcePosition,
  node: YNode,
  sink: DiagnosticSink,
): SearchIdentifier | undefined {
  if (node.kind === "map") {
    const specs = readFieldMap(node, sink);
    return specs === undefined ? undefined : { name, pos, alternatives: [specs] };
  }
  if (node.kind === "scalar") {
    // A single plain value is a one-keyword list.
    return { name, pos, alternatives: [[{ field: undefined, modifiers: [], values: [node], pos: node.pos }]] };
  }
  const maps = node.items.filter((i) => i.kind === "map");
  const scalars = node.items.filter((i) => i.kind === "scalar");
  if (maps.length > 0 && scalars.length > 0) {
    sink.error(
      "R3_RULE_MIXED_LIST",
      `search identifier '${name}' mixes field maps and plain keywords in one list`,
      node.pos,
    );
    return undefined;
  }
  if (node.items.some((i) => i.kind === "seq")) {
    sink.error("R3_RULE_BAD_DETECTION", `search identifier '${name}' contains a nested list`, node.pos);
    return undefined;
  }
  if (maps.length > 0) {
    const alternatives: FieldSpec[][] = [];
    for (const m of maps) {
      const specs = readFieldMap(m, sink);
      if (specs === undefined) return undefined;
      alternatives.push(specs);
    }
    return { name, pos, alternatives };
  }
  return { name, pos, alternatives: [[{ field: undefined, modifiers: [], values: scalars, pos: node.pos }]] };
}

function readFieldMap(map: YMap, sink: DiagnosticSink): FieldSpec[] | undefined {
  const specs: FieldSpec[] = [];
  let ok = true;
  for (const entry of map.entries) {
    const [field = "", ...modifiers] = entry.key.split("|");
    const values = scalarValues(entry.value, entry.key, sink);
    if (values === undefined) {
      ok = false;
      continue;
    }
    // `'|all': [...]` is a keyword list with modifiers (spec: Keywords search).
    specs.push({ field: field === "" ? undefined : field, modifiers, values, pos: entry.keyPos });
  }
  return ok ? specs : undefined;
}

function scalarValues(node: YNode, key: string, sink: DiagnosticSink): YScalar[] | undefined {
  if (node.kind === "scalar") return [node];
  if (node.kind === "map") {
    sink.error(
      "R3_RULE_BAD_VALUE",
      `the value of '${key}' must be a value or a list of values, not a mapping`,
      node.pos,
    );
    return undefined;
  }
  const out: YScalar[] = [];
  for (const item of node.items) {
    if (item.kind !== "scalar") {
      sink.error("R3_RULE_BAD_VALUE", `the values of '${key}' must be plain values`, item.pos);
      return undefined;
    }
    out.push(item);
  }
  if (out.length > 1 && out.some((v) => v.value === null)) {
    // Spec: "`null` cannot be part of a list of field values as it is its own type".
    sink.error("R3_RULE_NULL_IN_LIST", `'${key}': null cannot be part of a list of values`, node.pos);
    return undefined;
  }
  return out;
}

const TIMESPAN = /^(\d+)([smhdwMy])$/;
const TIMESPAN_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  M: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

export function parseTimespan(text: string): number | undefined {
  const m = TIMESPAN.exec(text.trim());
  if (m === null) return undefined;
  return Number(m[1]) * (TIMESPAN_MS[m[2] ?? ""] ?? 0);
}

type CorrelationBody = Pick<
  SigmaCorrelation,
  "type" | "rules" | "groupBy" | "timespan" | "timespanMs" | "condition" | "aliases" | "generate"
>;

function readCorrelation(root: YMap, sink: DiagnosticSink): CorrelationBody | undefined {
  const entry = mapGet(root, "correlation");
  if (entry?.value.kind !== "map") {
    sink.error("R3_CORR_BAD", "`correlation` must be a mapping", entry?.keyPos);
    return undefined;
  }
  const body = entry.value;
  let ok = true;
  const type = optionalString(body, "type", sink);
  if (type === undefined || !(CORRELATION_TYPES as readonly string[]).includes(type)) {
    sink.error(
      "R3_CORR_BAD_TYPE",
      `correlation type must be one of ${CORRELATION_TYPES.join(", ")}${type === undefined ? "" : ` (got '${type}')`}`,
      mapGet(body, "type")?.value.pos ?? entry.keyPos,
    );
    ok = false;
  }
  const rules = stringList(body, "rules", sink);
  if (rules.length === 0) {
    sink.error("R3_CORR_NO_RULES", "`correlation.rules` must name at least one rule", entry.keyPos);
    ok = false;
  }
  const groupBy = stringList(body, "group-by", sink);
  const timespan = optionalString(body, "timespan", sink) ?? optionalString(body, "timeframe", sink);
  const timespanMs = timespan === undefined ? undefined : parseTimespan(timespan);
  if (timespanMs === undefined) {
    sink.error(
      "R3_CORR_BAD_TIMESPAN",
      "`correlation.timespan` is required: a number and one of s, m, h, d (e.g. 90m)",
      mapGet(body, "timespan")?.value.pos ?? entry.keyPos,
    );
    ok = false;
  }
  const condition = readCorrelationCondition(body, sink);
  const needsCondition = type !== "temporal" && type !== "temporal_ordered";
  if (condition === undefined && needsCondition) {
    sink.error("R3_CORR_MISSING_CONDITION", `a ${type ?? ""} correlation needs a condition`, entry.keyPos);
    ok = false;
  }
  const needsField =
    type === "value_count" || type === "value_sum" || type === "value_avg" || type === "value_percentile";
  if (needsField && condition !== undefined && condition.fields.length === 0) {
    sink.error(
      "R3_CORR_MISSING_FIELD",
      `a ${type} correlation needs \`condition.field\``,
      mapGet(body, "condition")?.keyPos,
    );
    ok = false;
  }
  const aliases = readAliases(body, sink);
  if (aliases === undefined) ok = false;
  const generateEntry = mapGet(body, "generate") ?? mapGet(root, "generate");
  const generate = generateEntry?.value.kind === "scalar" && generateEntry.value.value === true;
  if (!ok || type === undefined || timespan === undefined || timespanMs === undefined || aliases === undefined) {
    return undefined;
  }
  return {
    type: type as CorrelationType,
    rules,
    groupBy,
    timespan,
    timespanMs,
    condition,
    aliases,
    generate,
  };
}

function readCorrelationCondition(body: YMap, sink: DiagnosticSink): CorrelationCondition | undefined {
  const entry = mapGet(body, "condition");
  if (entry === undefined) return undefined;
  if (entry.value.kind !== "map") {
    sink.error("R3_CORR_BAD_CONDITION", "`correlation.condition` must be a mapping like `gte: 10`", entry.value.pos);
    return undefined;
  }
  const predicates: { operator: ConditionOperator; value: number }[] = [];
  let fields: string[] = [];
  for (const e of entry.value.entries) {
    if (e.key === "field") {
      fields = e.value.kind === "seq" ? e.value.items.map((i) => (i.kind === "scalar" ? i.text : "")) : [];
      if (e.value.kind === "scalar") fields = [e.value.text];
      continue;
    }
    if (!(CONDITION_OPERATORS as readonly string[]).includes(e.key)) {
      sink.error("R3_CORR_BAD_OPERATOR", `unknown condition operator '${e.key}'`, e.keyPos);
      return undefined;
    }
    const v = e.value.kind === "scalar" ? Number(e.value.text) : Number.NaN;
    if (!Number.isFinite(v)) {
      sink.error("R3_CORR_BAD_CONDITION", `'${e.key}' needs a number`, e.value.pos);
      return undefined;
    }
    predicates.push({ operator: e.key as ConditionOperator, value: v });
  }
  if (predicates.length === 0) {
    sink.error(
      "R3_CORR_BAD_CONDITION",
      "`correlation.condition` needs a comparison (gt, gte, lt, lte, eq, neq)",
      entry.keyPos,
    );
    return undefined;
  }
  return { predicates, fields };
}

function readAliases(body: YMap, sink: DiagnosticSink): Map<string, Map<string, string>> | undefined {
  const out = new Map<string, Map<string, string>>();
  const entry = mapGet(body, "aliases");
  if (entry === undefined) return out;
  if (entry.value.kind !== "map") {
    sink.error("R3_CORR_BAD_ALIASES", "`aliases` must map alias names to {rule name: field}", entry.value.pos);
    return undefined;
  }
  for (const alias of entry.value.entries) {
    if (alias.value.kind !== "map") {
      sink.error("R3_CORR_BAD_ALIASES", `alias '${alias.key}' must map rule names to field names`, alias.value.pos);
      return undefined;
    }
    const perRule = new Map<string, string>();
    for (const r of alias.value.entries) {
      if (r.value.kind !== "scalar") {
        sink.error("R3_CORR_BAD_ALIASES", `alias '${alias.key}': '${r.key}' must name a field`, r.value.pos);
        return undefined;
      }
      perRule.set(r.key, r.value.text);
    }
    out.set(alias.key, perRule);
  }
  return out;
}
