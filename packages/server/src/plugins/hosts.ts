import type { FastifyInstance } from "fastify";
import { HOST_HEALTHS, ROUTES } from "@ring3/protocol";
import type { FleetCounts, Host } from "@ring3/protocol";
import type { PluginOptions, ServerContext } from "../context.ts";
import type { HostCounts } from "../store/store.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

/** Agent heartbeats, and the console's views of hosts and their events: list, detail, timeline, process tree, search. */
export function hostsPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.heartbeat, async ({ body, principal }) => {
    const hostId = principal.agent.id;
    const now = ctx.now().toISOString();
    const recorded = await ctx.heartbeatQueue.run(1, { hostId, heartbeat: body, receivedAt: now });
    if (recorded === undefined) throw new ApiError("R3_ERR_HOST_NOT_FOUND", `no host '${hostId}'`);
    ctx.metrics.heartbeats.inc();
    // The console hears of a host when its health or version changes (a sensor that stops, an isolation, a
    // silent host back), not on every heartbeat of a large fleet.
    if (recorded.changed) {
      const host = await ctx.store.getHost(hostId);
      if (host !== undefined) ctx.hub.publish({ type: "host", host });
    }
    return { serverTime: now, pendingCommands: await ctx.store.countQueuedCommands(hostId, now) };
  });

  addRoute(app, ctx, ROUTES.listHosts, async ({ query }) => {
    const [page, counts] = await Promise.all([ctx.store.listHosts(query), ctx.store.countHosts()]);
    return { ...page, fleet: fleetCounts(counts) };
  });

  addRoute(app, ctx, ROUTES.getHost, async ({ params }) => requireHost(ctx, params.id));

  addRoute(app, ctx, ROUTES.hostTimeline, async ({ params, query }) => {
    await requireHost(ctx, params.id);
    return ctx.store.timeline(params.id, query);
  });

  addRoute(app, ctx, ROUTES.processTree, async ({ params, query }) => {
    await requireHost(ctx, params.id);
    return ctx.store.processTree(params.id, query.pid, query.at);
  });

  addRoute(app, ctx, ROUTES.searchEvents, async ({ body }) => ctx.store.searchEvents(body));
  done();
}

/** The fleet's size and its hosts by health, as the host list and the overview answer them. */
export function fleetCounts(counts: HostCounts): FleetCounts {
  return {
    total: HOST_HEALTHS.reduce((sum, health) => sum + counts.byHealth[health], 0),
    byHealth: counts.byHealth,
  };
}

export async function requireHost(ctx: ServerContext, id: string): Promise<Host> {
  const host = await ctx.store.getHost(id);
  if (host === undefined) throw new ApiError("R3_ERR_HOST_NOT_FOUND", `no host '${id}'`);
  return host;
}
