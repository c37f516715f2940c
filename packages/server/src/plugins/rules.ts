import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import type { StoredEvent } from "@ring3/protocol";
import type { Event } from "@ring3/schema";
import type { PluginOptions } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

/** A rule test reads at most this many stored events (then says `truncated`), a thousand at a time. */
const MAX_TEST_EVENTS = 100_000;
const TEST_PAGE = 1000;
const TEST_SAMPLES = 20;

/** The rules the server runs (for log-only hosts and cross-host correlations), with their diagnostics. */
export function rulesPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.listRules, () => ctx.detection.list());

  addRoute(app, ctx, ROUTES.getRule, ({ params }) => {
    const rule = ctx.detection.detail(params.id);
    if (rule === undefined) throw new ApiError("R3_ERR_RULE_NOT_FOUND", `no server rule '${params.id}'`);
    return rule;
  });

  addRoute(app, ctx, ROUTES.updateRule, async ({ params, body, principal }) => {
    const rule = await ctx.detection.setEnabled(params.id, body.enabled);
    if (rule === undefined) throw new ApiError("R3_ERR_RULE_NOT_FOUND", `no server rule '${params.id}'`);
    await ctx.audit({
      actor: principal.user.username,
      action: body.enabled ? "rule.enable" : "rule.disable",
      target: rule.id,
      details: { title: rule.title, file: rule.file },
    });
    return rule;
  });

  addRoute(app, ctx, ROUTES.testRule, async ({ params, body }) => {
    const ruleset = ctx.detection.single(params.id);
    if (ruleset === undefined) throw new ApiError("R3_ERR_RULE_NOT_FOUND", `no server rule '${params.id}'`);
    if (ruleset === "correlation") {
      throw new ApiError(
        "R3_ERR_RULE_NOT_TESTABLE",
        "a correlation counts other rules' matches: test the rules it names",
      );
    }
    const to = ctx.now();
    const from = new Date(to.getTime() - body.hours * 3_600_000);
    let scanned = 0;
    let matches = 0;
    let truncated = false;
    const samples: StoredEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await ctx.store.searchEvents({
        from: from.toISOString(),
        to: to.toISOString(),
        limit: TEST_PAGE,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const event of page.items) {
        scanned += 1;
        // A stored event is @ring3/schema's Event plus where it came from; the engine reads the Event part.
        if (ruleset.match(event as unknown as Event).length > 0) {
          matches += 1;
          if (samples.length < TEST_SAMPLES) samples.push(event);
        }
      }
      cursor = page.nextCursor;
      if (cursor !== undefined && scanned >= MAX_TEST_EVENTS) truncated = true;
    } while (cursor !== undefined && !truncated);
    return { from: from.toISOString(), to: to.toISOString(), eventsScanned: scanned, matches, truncated, samples };
  });
  done();
}
