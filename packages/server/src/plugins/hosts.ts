import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import type { Host } from "@ring3/protocol";
import type { PluginOptions, ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

/** Agent heartbeats, and the console's views of hosts and their events: list, detail, timeline, process tree, search. */
export function hostsPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.heartbeat, async ({ body, principal }) => {
    const before = principal.host;
    const now = ctx.now().toISOString();
    await ctx.store.recordHeartbeat(before.id, body, now);
    ctx.metrics.heartbeats.inc();
    // The console hears of a host when its state changes, not on every heartbeat of a large fleet.
    if (before.state !== "online" || before.isolated !== body.isolated || before.agentVersion !== body.agentVersion) {
      const host = await ctx.store.getHost(before.id);
      if (host !== undefined) ctx.hub.publish({ type: "host", host });
    }
    return { serverTime: now, pendingCommands: await ctx.store.countQueuedCommands(before.id, now) };
  });

  addRoute(app, ctx, ROUTES.listHosts, async () => ctx.store.listHosts());

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

export async function requireHost(ctx: ServerContext, id: string): Promise<Host> {
  const host = await ctx.store.getHost(id);
  if (host === undefined) throw new ApiError("R3_ERR_HOST_NOT_FOUND", `no host '${id}'`);
  return host;
}
