import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import type { PluginOptions } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";
import { fleetCounts } from "./hosts.ts";

const DAY_MS = 86_400_000;

/** Alert triage: list and filter, detail, lifecycle and assignee, comments, suppressions, the dashboard. */
export function alertsPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.listAlerts, async ({ query }) => ctx.store.listAlerts(query));

  addRoute(app, ctx, ROUTES.getAlert, async ({ params }) => {
    const alert = await ctx.store.getAlert(params.id);
    if (alert === undefined) throw new ApiError("R3_ERR_ALERT_NOT_FOUND", `no alert '${params.id}'`);
    const event = alert.eventId === "" ? undefined : await ctx.store.getEvent(alert.hostId, alert.eventId);
    return { alert, ...(event === undefined ? {} : { event }), comments: await ctx.store.listComments(alert.id) };
  });

  addRoute(app, ctx, ROUTES.updateAlert, async ({ params, body, principal }) => {
    const alert = await ctx.store.updateAlert(params.id, body);
    if (alert === undefined) throw new ApiError("R3_ERR_ALERT_NOT_FOUND", `no alert '${params.id}'`);
    await ctx.audit({ actor: principal.user.username, action: "alert.update", target: alert.id, details: body });
    ctx.hub.publish({ type: "alert", alert });
    return alert;
  });

  addRoute(app, ctx, ROUTES.bulkUpdateAlerts, async ({ body, principal }) => {
    const updated = await ctx.store.bulkUpdateAlerts(body);
    await ctx.audit({
      actor: principal.user.username,
      action: "alert.bulk_update",
      details: { ids: body.ids.length <= 100 ? body.ids : body.ids.length, update: body.update, updated },
    });
    return { updated };
  });

  addRoute(app, ctx, ROUTES.commentAlert, async ({ params, body, principal }) => {
    if ((await ctx.store.getAlert(params.id)) === undefined) {
      throw new ApiError("R3_ERR_ALERT_NOT_FOUND", `no alert '${params.id}'`);
    }
    const comment = await ctx.store.addComment({
      alertId: params.id,
      author: principal.user.username,
      text: body.text,
      time: ctx.now().toISOString(),
    });
    await ctx.audit({
      actor: principal.user.username,
      action: "alert.comment",
      target: params.id,
      details: { comment: comment.id },
    });
    return comment;
  });

  addRoute(app, ctx, ROUTES.listSuppressions, async () => ctx.store.listSuppressions(ctx.now().toISOString()));

  addRoute(app, ctx, ROUTES.createSuppression, async ({ body, principal }) => {
    const suppression = await ctx.store.createSuppression({
      ...body,
      createdBy: principal.user.username,
      createdAt: ctx.now().toISOString(),
    });
    await ctx.audit({
      actor: principal.user.username,
      action: "suppression.create",
      target: suppression.id,
      details: body,
    });
    return suppression;
  });

  addRoute(app, ctx, ROUTES.deleteSuppression, async ({ params, principal }) => {
    if (!(await ctx.store.deleteSuppression(params.id))) {
      throw new ApiError("R3_ERR_SUPPRESSION_NOT_FOUND", `no suppression '${params.id}'`);
    }
    await ctx.audit({ actor: principal.user.username, action: "suppression.delete", target: params.id });
    return {};
  });

  addRoute(app, ctx, ROUTES.overview, async ({ query }) => {
    const to = query.to ?? ctx.now().toISOString();
    const from = query.from ?? new Date(Date.parse(to) - DAY_MS).toISOString();
    if (Number.isNaN(Date.parse(to)) || Number.isNaN(Date.parse(from))) {
      throw new ApiError("R3_ERR_REQUEST_INVALID", "from and to must be ISO 8601 times");
    }
    // Counted in the store: listing a fleet of 10,000 hosts here took ~250 ms of the thread that answers them.
    const hosts = await ctx.store.countHosts();
    const fleet = fleetCounts(hosts);
    return {
      from,
      to,
      alerts: await ctx.store.alertStats({ from, to }),
      hosts: {
        total: fleet.total,
        online: hosts.byState.online,
        silent: hosts.byState.silent,
        isolated: hosts.isolated,
        byHealth: fleet.byHealth,
      },
    };
  });
  done();
}
