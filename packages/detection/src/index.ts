export type { Diagnostic, DiagnosticSeverity, SourcePosition } from "./diagnostics.ts";
export { formatDiagnostic, DiagnosticSink } from "./diagnostics.ts";
export type {
  SigmaRule,
  SigmaFilter,
  SigmaCorrelation,
  SigmaDocument,
  SigmaLogsource,
  RuleLevel,
  CorrelationType,
  CorrelationCondition,
  ConditionOperator,
} from "./sigma-rule.ts";
export { RULE_LEVELS, CORRELATION_TYPES, documentRef } from "./sigma-rule.ts";
export type { RuleSource, LoadOptions, LoadResult, LoadStats } from "./load-rules.ts";
export { loadRules } from "./load-rules.ts";
export type { CompiledRule } from "./compiled-rule.ts";
export type { MatchExplanation, CompiledDetection, Atom } from "./compile.ts";
export type { FieldMatch } from "./field-matcher.ts";
export type { RuleMatch, RulesetOptions, RulesetStats } from "./ruleset.ts";
export { Ruleset, DEFAULT_CATEGORY_PARENTS } from "./ruleset.ts";
export { EventView } from "./event-view.ts";
export { MODIFIERS } from "./modifiers.ts";
export type { ModifierDefinition, ModifierRole } from "./modifiers.ts";
export { parseCondition, isConditionError } from "./condition-parser.ts";
export type { ConditionNode } from "./condition-parser.ts";
export { parseTimespan } from "./rule-reader.ts";
export type {
  WindowsLogsourceMap,
  WindowsRecordOptions,
  ServiceEntry,
  EventEntry,
  FieldAlias,
} from "./logsources/windows-logsource-map.ts";
export {
  parseWindowsLogsourceMap,
  mergeWindowsLogsourceMaps,
  windowsRecordToEvent,
  categoryParents,
  serviceAliases,
  isMapped,
  EMPTY_WINDOWS_LOGSOURCE_MAP,
} from "./logsources/windows-logsource-map.ts";
export type { CorrelationMatch, CorrelationEngineOptions, CorrelationStats } from "./correlation-engine.ts";
export { CorrelationEngine } from "./correlation-engine.ts";
export type { Alert, DetectionResult, DetectorOptions } from "./detector.ts";
export { Detector, createDetector } from "./detector.ts";
