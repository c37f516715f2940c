import type { CompiledDetection } from "./compile.ts";
import { compileDetection } from "./compile.ts";
import type { CompiledRule } from "./compiled-rule.ts";
import { attackRefs } from "./compiled-rule.ts";
import type { Diagnostic } from "./diagnostics.ts";
import { DiagnosticSink } from "./diagnostics.ts";
import type { CompileOptions } from "./field-matcher.ts";
import { readSigmaDocument } from "./rule-reader.ts";
import type { SigmaCorrelation, SigmaDocument, SigmaFilter, SigmaLogsource, SigmaRule } from "./sigma-rule.ts";
import { documentRef } from "./sigma-rule.ts";
import { readYamlFast } from "./yaml-fast.ts";
import type { YDocument } from "./yaml-tree.ts";
import { readYamlDocuments } from "./yaml-tree.ts";

export type RuleSource = { readonly path: string; readonly text: string };

export type LoadOptions = {
  /** Values for `|expand` placeholders, by name without percent signs. */
  readonly placeholders?: Readonly<Record<string, readonly string[]>>;
};

export type LoadStats = {
  readonly files: number;
  readonly documents: number;
  /** Detection rules read (compiled or not). */
  readonly rules: number;
  readonly compiled: number;
  readonly filters: number;
  readonly correlations: number;
};

export type LoadResult = {
  readonly rules: readonly CompiledRule[];
  readonly filters: readonly SigmaFilter[];
  readonly correlations: readonly SigmaCorrelation[];
  /** Rules that were read but did not compile, by ref, so tools can list them. */
  readonly failed: readonly SigmaRule[];
  readonly diagnostics: readonly Diagnostic[];
  readonly stats: LoadStats;
};

type Compiled = { readonly rule: SigmaRule; readonly detection: CompiledDetection };

/**
 * Read → validate → compile, for any number of files. Never throws: every problem, including an internal
 * error on one document, becomes a diagnostic and the other documents still load.
 */
export function loadRules(sources: readonly RuleSource[], options: LoadOptions = {}): LoadResult {
  const compileOptions: CompileOptions = {
    placeholders: new Map(Object.entries(options.placeholders ?? {})),
    stringTests: new Map(),
    literalGroups: new Map(),
  };
  const diagnostics: Diagnostic[] = [];
  const compiled: Compiled[] = [];
  const failed: SigmaRule[] = [];
  const filters: { filter: SigmaFilter; detection: CompiledDetection }[] = [];
  const correlations: SigmaCorrelation[] = [];
  let documents = 0;
  let ruleCount = 0;
  const seenIds = new Map<string, string>();

  for (const source of sources) {
    // Fast reader first; a file with anything to report is read again with positions (see yaml-fast.ts).
    const fast = readYamlFast(source.text);
    let file = fast === undefined ? undefined : loadFile(source.path, fast, compileOptions);
    if (file === undefined || file.diagnostics.length > 0 || reportsLater(file.documents, seenIds)) {
      const fileSink = new DiagnosticSink(source.path);
      const docs = readYamlDocuments(source.text, fileSink);
      file = loadFile(source.path, docs, compileOptions);
      diagnostics.push(...fileSink.items);
    }
    diagnostics.push(...file.diagnostics);
    for (const loaded of file.documents) {
      documents += 1;
      const parsed = loaded.parsed;
      if (parsed === undefined) {
        if (loaded.detectionLike) ruleCount += 1;
        continue;
      }
      if (parsed.kind === "rule") ruleCount += 1;
      if (parsed.id !== undefined) {
        const previous = seenIds.get(parsed.id);
        if (previous !== undefined) {
          diagnostics.push({
            code: "R3_RULE_DUPLICATE_ID",
            severity: "warning",
            message: `id ${parsed.id} is also used in ${previous}; this document is skipped`,
            file: source.path,
            line: parsed.pos.line,
            col: parsed.pos.col,
            rule: parsed.id,
          });
          if (parsed.kind === "rule") failed.push(parsed);
          continue;
        }
        seenIds.set(parsed.id, source.path);
      }
      if (parsed.kind === "rule") {
        if (loaded.detection === undefined) failed.push(parsed);
        else compiled.push({ rule: parsed, detection: loaded.detection });
      } else if (parsed.kind === "filter") {
        if (loaded.detection !== undefined) filters.push({ filter: parsed, detection: loaded.detection });
      } else {
        correlations.push(parsed);
      }
    }
  }

  const rules = applyFilters(compiled, filters, diagnostics);
  return {
    rules,
    filters: filters.map((f) => f.filter),
    correlations,
    failed,
    diagnostics,
    stats: {
      files: sources.length,
      documents,
      rules: ruleCount,
      compiled: rules.length,
      filters: filters.length,
      correlations: correlations.length,
    },
  };
}

type LoadedDocument = {
  readonly parsed: SigmaDocument | undefined;
  readonly detection: CompiledDetection | undefined;
  /** A document that failed to read but has a `detection` key still counts as a rule. */
  readonly detectionLike: boolean;
};

function loadFile(
  path: string,
  docs: readonly YDocument[],
  options: CompileOptions,
): { documents: LoadedDocument[]; diagnostics: Diagnostic[] } {
  const documents: LoadedDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const doc of docs) {
    const sink = new DiagnosticSink(path);
    let loaded: LoadedDocument = { parsed: undefined, detection: undefined, detectionLike: isDetectionLike(doc.root) };
    try {
      const parsed = readSigmaDocument(doc, sink);
      const detection =
        parsed !== undefined && parsed.kind !== "correlation"
          ? compileDetection(parsed.detection, options, sink)
          : undefined;
      loaded = { ...loaded, parsed, detection };
    } catch (error) {
      sink.error("R3_INTERNAL", `internal error while loading this document: ${String(error)}`, doc.pos);
    }
    documents.push(loaded);
    diagnostics.push(...sink.items);
  }
  return { documents, diagnostics };
}

/**
 * Whether a document may get a diagnostic after its file is loaded, which points at the document itself: a
 * duplicate id (below), a filter or correlation naming rules (once every file is read). The fast reader knows
 * no positions, so such a file is read again with them.
 */
function reportsLater(documents: readonly LoadedDocument[], seenIds: ReadonlyMap<string, string>): boolean {
  return documents.some(
    ({ parsed }) =>
      parsed !== undefined && (parsed.kind !== "rule" || (parsed.id !== undefined && seenIds.has(parsed.id))),
  );
}

function isDetectionLike(root: unknown): boolean {
  return (
    typeof root === "object" &&
    root !== null &&
    (root as { kind?: string }).kind === "map" &&
    (root as { entries: { key: string }[] }).entries.some((e) => e.key === "detection")
  );
}

/** A filter applies to a rule when it names the rule and its logsource asks for nothing the rule lacks. */
function logsourceCovers(filter: SigmaLogsource, rule: SigmaLogsource): boolean {
  return (
    (filter.product === undefined || filter.product === rule.product) &&
    (filter.category === undefined || filter.category === rule.category) &&
    (filter.service === undefined || filter.service === rule.service)
  );
}

/**
 * Meta-filters: the rule's condition becomes `(rule) and not (filter)` for every filter that names it. The
 * rule's prefilter atoms stay valid: a filter only ever removes matches.
 */
function applyFilters(
  compiled: readonly Compiled[],
  filters: readonly { filter: SigmaFilter; detection: CompiledDetection }[],
  diagnostics: Diagnostic[],
): CompiledRule[] {
  const byRef = new Map<string, Compiled[]>();
  for (const c of compiled) {
    for (const key of [c.rule.id, c.rule.name]) {
      if (key === undefined) continue;
      const list = byRef.get(key) ?? [];
      list.push(c);
      byRef.set(key, list);
    }
  }
  const applied = new Map<Compiled, { filter: SigmaFilter; detection: CompiledDetection }[]>();
  for (const f of filters) {
    for (const ref of f.filter.rules) {
      const targets = byRef.get(ref);
      if (targets === undefined) {
        diagnostics.push({
          code: "R3_FILTER_UNKNOWN_RULE",
          severity: "warning",
          message: `filter '${f.filter.title}' names rule '${ref}', which is not loaded`,
          file: f.filter.file,
          line: f.filter.pos.line,
          col: f.filter.pos.col,
          rule: documentRef(f.filter),
        });
        continue;
      }
      for (const target of targets) {
        if (!logsourceCovers(f.filter.logsource, target.rule.logsource)) {
          diagnostics.push({
            code: "R3_FILTER_LOGSOURCE_MISMATCH",
            severity: "warning",
            message: `filter '${f.filter.title}' has a logsource that rule '${ref}' does not have; not applied`,
            file: f.filter.file,
            line: f.filter.pos.line,
            col: f.filter.pos.col,
            rule: documentRef(f.filter),
          });
          continue;
        }
        const list = applied.get(target) ?? [];
        list.push(f);
        applied.set(target, list);
      }
    }
  }
  return compiled.map((c) => {
    const fs = applied.get(c) ?? [];
    const detection =
      fs.length === 0
        ? c.detection
        : filtered(
            c.detection,
            fs.map((f) => f.detection),
          );
    const { techniques, tactics } = attackRefs(c.rule.tags);
    return {
      rule: c.rule,
      ref: documentRef(c.rule),
      detection,
      techniques,
      tactics,
      filters: fs.map((f) => f.filter.title),
    };
  });
}

/** `rule and not filter1 and not filter2…` */
function filtered(rule: CompiledDetection, filters: readonly CompiledDetection[]): CompiledDetection {
  // A filter that its triggers decide is left to the vetoes once they have been applied.
  const undecided = filters.filter((f) => f.decided !== true);
  const ruleAfterVetoes = rule.afterVetoes ?? rule.test;
  return {
    atoms: rule.atoms,
    // Whatever makes a filter hold makes the rule false.
    vetoes: [...(rule.vetoes ?? []), ...filters.flatMap((f) => f.triggers ?? [])],
    // The filters' ops run on the rule's events too, so the prefilter must look for their groups.
    literalGroups: [rule, ...filters].flatMap((d) => d.literalGroups ?? []),
    test: (view) => rule.test(view) && !filters.some((f) => f.test(view)),
    afterVetoes: (view) => ruleAfterVetoes(view) && !undecided.some((f) => f.test(view)),
    explain: (view) => rule.explain(view),
  };
}
