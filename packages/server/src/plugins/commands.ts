import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import type { Command } from "@ring3/protocol";
import type { PluginOptions, ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";
import { requireHost } from "./hosts.ts";

const DEFAULT_TIMEOUT_SECONDS = 300;

/**
 * Response commands: an analyst queues one for a host; the host's agent, long-polling
 * `GET /agent/commands`, receives it as soon as it is queued, runs it and posts the result. Every step is
 * in the audit log (who asked for what, what the agent answered, what timed out).
 */
export function commandsPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.createCommand, async ({ params, body, principal }) => {
    await requireHost(ctx, params.id);
    const now = ctx.now();
    const timeoutSeconds = body.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const command = await ctx.store.createCommand({
      hostId: params.id,
      request: body.request,
      requestedBy: principal.user.username,
      ...(body.alertId === undefined ? {} : { alertId: body.alertId }),
      createdAt: now.toISOString(),
      deadline: new Date(now.getTime() + timeoutSeconds * 1000).toISOString(),
    });
    ctx.metrics.commands.inc({ transition: "queued", action: command.request.action });
    await ctx.audit({
      actor: principal.user.username,
      action: "command.create",
      target: command.id,
      details: { hostId: command.hostId, request: command.request, alertId: command.alertId ?? null, timeoutSeconds },
    });
    ctx.waiters.notify(command.hostId);
    ctx.hub.publish({ type: "command", command });
    return command;
  });

  addRoute(app, ctx, ROUTES.listCommands, async ({ query }) => ctx.store.listCommands(query));

  addRoute(app, ctx, ROUTES.getCommand, async ({ params }) => {
    const command = await ctx.store.getCommand(params.id);
    if (command === undefined) throw new ApiError("R3_ERR_COMMAND_NOT_FOUND", `no command '${params.id}'`);
    return command;
  });

  addRoute(app, ctx, ROUTES.pollCommands, async ({ query, principal, reply }) => {
    const hostId = principal.agent.id;
    let commands = await ctx.store.claimCommands(hostId, ctx.now().toISOString());
    const waitSeconds = query.waitSeconds ?? 25;
    if (commands.length === 0 && waitSeconds > 0) {
      // The agent hanging up must end the wait before a command is claimed for a connection that is gone.
      const gone = new AbortController();
      const onClose = (): void => gone.abort();
      reply.raw.once("close", onClose);
      await ctx.waiters.wait(hostId, waitSeconds * 1000, gone.signal);
      reply.raw.off("close", onClose);
      if (!gone.signal.aborted) commands = await ctx.store.claimCommands(hostId, ctx.now().toISOString());
    }
    for (const command of commands) {
      ctx.metrics.commands.inc({ transition: "delivered", action: command.request.action });
      ctx.hub.publish({ type: "command", command });
    }
    return { commands: commands.map((c) => ({ id: c.id, request: c.request, deadline: c.deadline })) };
  });

  addRoute(app, ctx, ROUTES.commandResult, async ({ params, body, principal }) => {
    const command = await ctx.store.completeCommand(principal.agent.id, params.id, body, ctx.now().toISOString());
    if (command === undefined) {
      throw new ApiError("R3_ERR_COMMAND_NOT_FOUND", `no command '${params.id}' awaiting a result from this host`);
    }
    ctx.metrics.commands.inc({ transition: command.status, action: command.request.action });
    await ctx.audit({
      actor: `agent:${principal.agent.id}`,
      action: "command.result",
      target: command.id,
      details: { status: command.status, ok: body.ok, code: body.code ?? null, message: body.message },
    });
    ctx.hub.publish({ type: "command", command });
    return {};
  });
  done();
}

/** Commands past their deadline without a result become timed_out (run by the server's maintenance tick). */
export async function expireCommands(ctx: ServerContext): Promise<Command[]> {
  const expired = await ctx.store.expireCommands(ctx.now().toISOString());
  for (const command of expired) {
    ctx.metrics.commands.inc({ transition: "timed_out", action: command.request.action });
    await ctx.audit({
      actor: "server",
      action: "command.timeout",
      target: command.id,
      details: { hostId: command.hostId, requestedBy: command.requestedBy, deadline: command.deadline },
    });
    ctx.hub.publish({ type: "command", command });
  }
  return expired;
}
