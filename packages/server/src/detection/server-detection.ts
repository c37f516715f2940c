import { createHash } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import type { CompiledRule, CorrelationMatch, Diagnostic, LoadResult, RuleMatch } from "@ring3/detection";
import { Detector, Ruleset, createDetector, documentRef, loadRules } from "@ring3/detection";
import type { AlertLevel, RuleDetail, RuleInfo, RuleList, WireAlert, WireEvent } from "@ring3/protocol";
import { ALERT_LEVELS } from "@ring3/protocol";
import type { Event } from "@ring3/schema";
import { alertGroupKey, eventImage } from "../group-key.ts";
import { readRuleDirs } from "./rule-files.ts";

/** An alert the server's own engine raised, and the host it belongs to. */
export type ServerAlert = { readonly hostId: string; readonly alert: WireAlert & { groupKey: string } };

const MAX_EXPLAINED_MATCHES = 64;

/**
 * The server runs the agent's engine (`createDetector` of @ring3/detection) in two ways, sharing one
 * correlation engine so a correlation can count matches from every host:
 *
 * - batches sent with `detect: true` (a host that only ships logs) go through every enabled rule: their rule
 *   matches and correlation hits become alerts;
 * - every other batch (its agent already ran its rules) goes only through the rules that correlations
 *   reference: only correlation hits become alerts, the agent raised the rule alerts itself.
 *
 * Events reach the engine in arrival order, host after host; a correlation window closes on the newest
 * event time seen from any host (and on the wall clock, see `advance`), so a host whose clock or upload
 * lags by more than a window can miss it.
 */
export class ServerDetection {
  readonly dirs: readonly string[];
  private readonly stateFile: string | undefined;
  private readonly load: LoadResult;
  private readonly readDiagnostics: readonly Diagnostic[];
  private readonly loadedAt: string;
  private readonly disabled: Set<string>;
  private runtimeDiagnostics: Diagnostic[] = [];
  private full: Detector | undefined;
  private correlationsOnly: Detector | undefined;
  /** Which host sent an event the engine saw, for correlation hits (they name events, not hosts). */
  private hostOf = new WeakMap<object, string>();

  private constructor(
    dirs: readonly string[],
    stateFile: string | undefined,
    load: LoadResult,
    readDiagnostics: readonly Diagnostic[],
    disabled: Set<string>,
    loadedAt: string,
  ) {
    this.dirs = dirs;
    this.stateFile = stateFile;
    this.load = load;
    this.readDiagnostics = readDiagnostics;
    this.disabled = disabled;
    this.loadedAt = loadedAt;
    this.build();
  }

  /**
   * Loads the rules under `dirs`. `stateFile` (JSON `{"disabled": [ref…]}`) keeps the rules an admin
   * disabled across restarts; absent, changes last until the process ends.
   */
  static async open(dirs: readonly string[], stateFile: string | undefined, now: Date): Promise<ServerDetection> {
    const { sources, diagnostics } = await readRuleDirs(dirs);
    const load = loadRules(sources);
    const disabled = new Set<string>();
    if (stateFile !== undefined) {
      try {
        const state = JSON.parse(await readFile(stateFile, "utf8")) as { disabled?: unknown };
        if (Array.isArray(state.disabled))
          for (const ref of state.disabled) if (typeof ref === "string") disabled.add(ref);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
          diagnostics.push({
            code: "R3_SERVER_RULE_STATE_UNREADABLE",
            severity: "warning",
            message: `cannot read the rule state, every rule is enabled: ${(error as Error).message}`,
            file: stateFile,
            line: 0,
            col: 0,
          });
        }
      }
    }
    return new ServerDetection(dirs, stateFile, load, diagnostics, disabled, now.toISOString());
  }

  get ruleCount(): number {
    return this.load.rules.length + this.load.correlations.length;
  }

  list(): RuleList {
    return {
      dirs: [...this.dirs],
      loadedAt: this.loadedAt,
      rules: [
        ...this.load.rules.map((r) => this.ruleInfo(r)),
        ...this.load.correlations.map((c) => this.correlationInfo(documentRef(c))!),
      ],
      diagnostics: [...this.readDiagnostics, ...this.load.diagnostics, ...this.runtimeDiagnostics].map((d) => ({
        ...d,
      })),
    };
  }

  /** Enables or disables a rule or correlation by ref; undefined when there is none. Rebuilds the engine. */
  async setEnabled(ref: string, enabled: boolean): Promise<RuleInfo | undefined> {
    const rule = this.load.rules.find((r) => r.ref === ref);
    const info = rule === undefined ? this.correlationInfo(ref) : this.ruleInfo(rule);
    if (info === undefined) return undefined;
    if (enabled) this.disabled.delete(ref);
    else this.disabled.add(ref);
    // Open correlation windows are lost with the old engine: a rule change is rare and deliberate.
    this.build();
    if (this.stateFile !== undefined) {
      const tmp = `${this.stateFile}.tmp`;
      await writeFile(tmp, JSON.stringify({ disabled: [...this.disabled].sort() }, null, 2) + "\n", { mode: 0o600 });
      await rename(tmp, this.stateFile);
    }
    return { ...info, enabled };
  }

  /** One rule or correlation with its source, for the rule page and the alert page. */
  detail(ref: string): RuleDetail | undefined {
    const rule = this.load.rules.find((r) => r.ref === ref);
    const doc = rule?.rule ?? this.load.correlations.find((c) => documentRef(c) === ref);
    const info = rule === undefined ? this.correlationInfo(ref) : this.ruleInfo(rule);
    if (doc === undefined || info === undefined) return undefined;
    return {
      ...info,
      ...(doc.description === undefined ? {} : { description: doc.description }),
      references: [...doc.references],
      tags: [...doc.tags],
      yaml: doc.yaml,
    };
  }

  /**
   * A ruleset of this one rule, enabled or not, to try it on stored events. `correlation` when `ref` names a
   * correlation (it counts other rules' matches, so it has no meaning alone); undefined when nothing has it.
   */
  single(ref: string): Ruleset | "correlation" | undefined {
    const rule = this.load.rules.find((r) => r.ref === ref);
    if (rule !== undefined) return new Ruleset([rule]);
    return this.load.correlations.some((c) => documentRef(c) === ref) ? "correlation" : undefined;
  }

  /** Titles of the enabled rules tagging each ATT&CK technique (upper-case id), for the coverage matrix. */
  techniqueCoverage(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.load.rules) {
      if (this.disabled.has(r.ref)) continue;
      for (const technique of r.techniques) {
        const titles = out.get(technique) ?? [];
        titles.push(r.rule.title);
        out.set(technique, titles);
      }
    }
    return out;
  }

  /** Runs a batch of one host through the engine (see the class comment for `full`). */
  detect(hostId: string, events: readonly WireEvent[], full: boolean): ServerAlert[] {
    const detector = full ? this.full : this.correlationsOnly;
    if (detector === undefined) return [];
    const out: ServerAlert[] = [];
    for (const wire of events) {
      // WireEvent is @ring3/schema's Event on the wire; the schema validated its envelope.
      const event = wire as unknown as Event;
      this.hostOf.set(event, hostId);
      for (const alert of detector.detect(event).alerts) {
        if (alert.kind === "rule") {
          if (full) out.push(ruleAlert(hostId, alert.match));
        } else out.push(this.correlationAlert(alert.match, hostId));
      }
    }
    return out;
  }

  /** Closes correlation windows that ended before `time` (a quiet fleet still gets its count alerts). */
  advance(time: Date, fallbackHostId: string | undefined): ServerAlert[] {
    if (this.full === undefined) return [];
    const out: ServerAlert[] = [];
    for (const alert of this.full.advance(time.toISOString()).alerts) {
      if (alert.kind !== "correlation") continue;
      const hit = this.correlationAlert(alert.match, fallbackHostId);
      if (hit.hostId !== "") out.push(hit);
    }
    return out;
  }

  private build(): void {
    const rules = this.load.rules.filter((r) => !this.disabled.has(r.ref));
    const correlations = this.load.correlations.filter((c) => !this.disabled.has(documentRef(c)));
    this.runtimeDiagnostics = [];
    this.hostOf = new WeakMap();
    if (rules.length === 0 && correlations.length === 0) {
      this.full = undefined;
      this.correlationsOnly = undefined;
      return;
    }
    const onRuleDisabled = (d: Diagnostic): void => void this.runtimeDiagnostics.push(d);
    const { detector, diagnostics } = createDetector({ rules, correlations }, { ruleset: { onRuleDisabled } });
    this.runtimeDiagnostics.push(...diagnostics);
    this.full = detector;
    const named = new Set(correlations.flatMap((c) => c.rules));
    const referenced = rules.filter((r) => named.has(r.rule.id ?? "") || named.has(r.rule.name ?? ""));
    this.correlationsOnly =
      referenced.length === 0
        ? undefined
        : new Detector(new Ruleset(referenced, { onRuleDisabled }), detector.correlations);
  }

  private ruleInfo(r: CompiledRule): RuleInfo {
    const logsource = Object.fromEntries(
      Object.entries(r.rule.logsource).filter(
        ([k, v]) => ["product", "category", "service"].includes(k) && v !== undefined,
      ),
    );
    return {
      id: r.ref,
      kind: "rule",
      title: r.rule.title,
      ...(r.rule.level === undefined ? {} : { level: r.rule.level }),
      ...(r.rule.status === undefined ? {} : { status: r.rule.status }),
      ...(r.rule.author === undefined ? {} : { author: r.rule.author }),
      file: r.rule.file,
      logsource,
      techniques: [...r.techniques],
      enabled: !this.disabled.has(r.ref),
    };
  }

  private correlationInfo(ref: string): RuleInfo | undefined {
    const c = this.load.correlations.find((x) => documentRef(x) === ref);
    if (c === undefined) return undefined;
    return {
      id: ref,
      kind: "correlation",
      title: c.title,
      ...(c.level === undefined ? {} : { level: c.level }),
      ...(c.status === undefined ? {} : { status: c.status }),
      ...(c.author === undefined ? {} : { author: c.author }),
      file: c.file,
      // A correlation's ATT&CK references show on its alerts (CorrelationMatch.techniques), not in the list.
      techniques: [],
      enabled: !this.disabled.has(ref),
    };
  }

  private correlationAlert(match: CorrelationMatch, fallbackHostId: string | undefined): ServerAlert {
    const last = match.matches[match.matches.length - 1];
    // Attributed to the host of the newest contributing event: the one that completed the pattern.
    const hostId = (last === undefined ? undefined : this.hostOf.get(last.event)) ?? fallbackHostId ?? "";
    const groupText = Object.entries(match.group)
      .map(([k, v]) => `${k}=${v ?? "∅"}`)
      .join(", ");
    const id = "srv-" + digest([match.file, match.correlationId, match.firstTime, match.lastTime, groupText]);
    return {
      hostId,
      alert: {
        id,
        time: match.lastTime,
        eventId: last?.event.id ?? "",
        ruleId: match.correlationId,
        ...ruleFields(match),
        explanation: {
          condition: `${match.type} = ${match.value}${groupText === "" ? "" : ` (${groupText})`}`,
          selections: match.matches.slice(-MAX_EXPLAINED_MATCHES).map((m) => ({
            name: m.ruleId,
            fields: [{ eventId: m.event.id, host: m.event.host, time: m.event.time }],
          })),
        },
        groupKey: alertGroupKey(match.correlationId, hostId, groupText),
      },
    };
  }
}

/** What an alert takes from the rule or correlation that raised it; the author too (DRL 1.1). */
function ruleFields(match: RuleMatch | CorrelationMatch) {
  return {
    title: match.title,
    level: alertLevel(match.level),
    ...(match.author === undefined ? {} : { author: match.author }),
    tags: [...match.tags],
    techniques: [...match.techniques],
    tactics: [...match.tactics],
  };
}

function ruleAlert(hostId: string, match: RuleMatch): ServerAlert {
  return {
    hostId,
    alert: {
      // Deterministic: the same rule on the same event of the same host is one alert, however often seen.
      id: "srv-" + digest([match.file, match.ruleId, hostId, match.event.id]),
      time: match.event.time,
      eventId: match.event.id,
      ruleId: match.ruleId,
      ...ruleFields(match),
      explanation: {
        condition: match.explanation.condition,
        selections: match.explanation.selections.map((s) => ({
          name: s.name,
          fields: s.fields.map((f) => ({ ...f })),
        })),
      },
      groupKey: alertGroupKey(match.ruleId, hostId, eventImage(match.event.fields)),
    },
  };
}

function alertLevel(level: string): AlertLevel {
  return (ALERT_LEVELS as readonly string[]).includes(level) ? (level as AlertLevel) : "medium";
}

function digest(parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 40);
}
