import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import type { AttackCatalog } from "../attack-catalog.ts";
import { readAttackCatalog } from "../attack-catalog.ts";
import type { PluginOptions } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

const DAY_MS = 86_400_000;
/** Alerts counted per request at most (pages of a thousand); a bigger range undercounts, the matrix still shows. */
const MAX_ALERTS = 100_000;

/** The ATT&CK matrix with what the server's enabled rules cover and which techniques alerted in a range. */
export function attackPlugin(
  app: FastifyInstance,
  { ctx, catalogPath }: PluginOptions & { catalogPath: string },
  done: (error?: Error) => void,
): void {
  let catalog: Promise<AttackCatalog> | undefined;

  addRoute(app, ctx, ROUTES.attackCoverage, async ({ query }) => {
    catalog ??= readAttackCatalog(catalogPath);
    let loaded: AttackCatalog;
    try {
      loaded = await catalog;
    } catch (error) {
      catalog = undefined; // read again next time: the file may be put in place while the server runs
      app.log.warn({ err: error }, "ATT&CK catalog unavailable");
      throw new ApiError("R3_ERR_ATTACK_CATALOG_MISSING", `the ATT&CK catalog cannot be read at ${catalogPath}`);
    }
    const to = query.to ?? ctx.now().toISOString();
    const from = query.from ?? new Date(Date.parse(to) - 30 * DAY_MS).toISOString();
    if (Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to))) {
      throw new ApiError("R3_ERR_REQUEST_INVALID", "from and to must be ISO 8601 times");
    }
    const coverage: Record<string, { rules: string[]; alerts: number }> = {};
    const entry = (id: string): { rules: string[]; alerts: number } => (coverage[id] ??= { rules: [], alerts: 0 });
    for (const [technique, titles] of ctx.detection.techniqueCoverage()) entry(technique).rules.push(...titles);
    let counted = 0;
    let cursor: string | undefined;
    do {
      const page = await ctx.store.listAlerts({ from, to, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      for (const alert of page.items)
        for (const technique of alert.techniques) entry(technique.toUpperCase()).alerts += 1;
      counted += page.items.length;
      cursor = page.nextCursor;
    } while (cursor !== undefined && counted < MAX_ALERTS);
    return {
      version: loaded.version,
      from,
      to,
      tactics: [...loaded.tactics],
      techniques: [...loaded.techniques],
      coverage,
    };
  });
  done();
}
