import type { Event } from "@ring3/schema";
import type { CorrelationEngineOptions, CorrelationMatch } from "./correlation-engine.ts";
import { CorrelationEngine } from "./correlation-engine.ts";
import type { Diagnostic } from "./diagnostics.ts";
import type { LoadResult } from "./load-rules.ts";
import type { RuleMatch, RulesetOptions } from "./ruleset.ts";
import { Ruleset } from "./ruleset.ts";

export type Alert =
  | { readonly kind: "rule"; readonly match: RuleMatch }
  | { readonly kind: "correlation"; readonly match: CorrelationMatch };

export type DetectionResult = {
  /** What to raise: stand-alone rule matches and correlation hits, in the order they happened. */
  readonly alerts: readonly Alert[];
  /** Every rule match, including those that only feed correlations. */
  readonly ruleMatches: readonly RuleMatch[];
  /** Every correlation hit, including those that only feed other correlations. */
  readonly correlationMatches: readonly CorrelationMatch[];
};

export type DetectorOptions = {
  readonly ruleset?: RulesetOptions;
  readonly correlation?: CorrelationEngineOptions;
};

/**
 * Rules and correlations together. A match becomes an alert unless a correlation consumes it: spec, `generate`
 * "defines if the rules referred from the correlation rule should be converted as stand-alone rules … or if
 * only the correlation query should be generated (default)". That holds for a correlation named by another
 * correlation too ("only the outermost correlation rule may define meta information").
 */
export class Detector {
  readonly ruleset: Ruleset;
  readonly correlations: CorrelationEngine;

  constructor(ruleset: Ruleset, correlations: CorrelationEngine) {
    this.ruleset = ruleset;
    this.correlations = correlations;
  }

  detect(event: Event): DetectionResult {
    // Windows that end before this event close first, whatever the event matches.
    const correlationMatches = this.correlations.advance(event.time);
    const ruleMatches = this.ruleset.match(event);
    const alerts: Alert[] = correlationMatches.map((m) => this.correlationAlert(m)).filter((a) => a !== undefined);
    for (const match of ruleMatches) {
      if (this.correlations.standsAlone(match)) alerts.push({ kind: "rule", match });
      for (const hit of this.correlations.observe(match)) {
        correlationMatches.push(hit);
        const alert = this.correlationAlert(hit);
        if (alert !== undefined) alerts.push(alert);
      }
    }
    return { alerts, ruleMatches, correlationMatches };
  }

  /** Moves event time forward without an event (a quiet sensor still closes its windows). */
  advance(time: string | number): DetectionResult {
    return this.correlationResult(this.correlations.advance(time));
  }

  /** End of input: evaluates every open correlation window. */
  flush(): DetectionResult {
    return this.correlationResult(this.correlations.flush());
  }

  private correlationResult(correlationMatches: CorrelationMatch[]): DetectionResult {
    const alerts = correlationMatches.map((m) => this.correlationAlert(m)).filter((a) => a !== undefined);
    return { alerts, ruleMatches: [], correlationMatches };
  }

  private correlationAlert(match: CorrelationMatch): Alert | undefined {
    return this.correlations.standsAlone(match) ? { kind: "correlation", match } : undefined;
  }
}

/**
 * Wires a load into a Detector. `diagnostics` are the correlation engine's (unknown rules, loops…); the
 * load's own stay in `load.diagnostics`.
 */
export function createDetector(
  load: Pick<LoadResult, "rules" | "correlations">,
  options: DetectorOptions = {},
): { readonly detector: Detector; readonly diagnostics: readonly Diagnostic[] } {
  const engine = new CorrelationEngine(load.correlations, load.rules, options.correlation);
  return {
    detector: new Detector(new Ruleset(load.rules, options.ruleset), engine),
    diagnostics: engine.diagnostics,
  };
}
