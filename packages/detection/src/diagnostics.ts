/**
 * Every problem found while reading, validating or compiling content, or while running it. Collected, never
 * thrown: one bad rule must not stop the others (pySigma collects errors the same way).
 */
export const DIAGNOSTIC_SEVERITIES = ["error", "warning", "info"] as const;
export type DiagnosticSeverity = (typeof DIAGNOSTIC_SEVERITIES)[number];

export type SourcePosition = { readonly line: number; readonly col: number };

export type Diagnostic = {
  /** Stable code, `R3_<AREA>_<WHAT>`, that scripts and docs can rely on. */
  readonly code: string;
  readonly severity: DiagnosticSeverity;
  readonly message: string;
  readonly file: string;
  /** 1-based; 0 when the problem has no place in a file (a rule disabled at run time). */
  readonly line: number;
  readonly col: number;
  /** The rule (id, or title when it has no id) the problem belongs to, when known. */
  readonly rule?: string;
};

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  return `${where}: ${d.severity} ${d.code}: ${d.message}`;
}

/** Collects diagnostics for one source file, stamping the file name and rule on each. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  readonly file: string;
  rule: string | undefined;

  constructor(file: string) {
    this.file = file;
  }

  add(code: string, severity: DiagnosticSeverity, message: string, at: SourcePosition | undefined): void {
    const base = { code, severity, message, file: this.file, line: at?.line ?? 0, col: at?.col ?? 0 };
    this.items.push(this.rule === undefined ? base : { ...base, rule: this.rule });
  }

  error(code: string, message: string, at: SourcePosition | undefined): void {
    this.add(code, "error", message, at);
  }

  warning(code: string, message: string, at: SourcePosition | undefined): void {
    this.add(code, "warning", message, at);
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }
}
