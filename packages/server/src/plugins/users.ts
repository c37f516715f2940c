import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import { hashPassword } from "../auth/passwords.ts";
import type { PluginOptions } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

/** Console accounts (admin only) and the audit log. */
export function usersPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.listUsers, async () => ctx.store.listUsers());

  addRoute(app, ctx, ROUTES.createUser, async ({ body, principal }) => {
    if ((await ctx.store.findUserCredentials(body.username)) !== undefined) {
      throw new ApiError("R3_ERR_USER_EXISTS", `a user named '${body.username}' exists`);
    }
    const user = await ctx.store.createUser({
      username: body.username,
      passwordHash: await hashPassword(body.password),
      role: body.role,
    });
    await ctx.audit({
      actor: principal.user.username,
      action: "user.create",
      target: user.id,
      details: { username: user.username, role: user.role },
    });
    return user;
  });

  addRoute(app, ctx, ROUTES.deleteUser, async ({ params, principal }) => {
    if (params.id === principal.user.id) {
      throw new ApiError("R3_ERR_USER_SELF_DELETE", "you cannot delete the account you are signed in with");
    }
    const user = await ctx.store.getUser(params.id);
    if (user === undefined || !(await ctx.store.deleteUser(params.id))) {
      throw new ApiError("R3_ERR_USER_NOT_FOUND", `no user '${params.id}'`);
    }
    await ctx.audit({
      actor: principal.user.username,
      action: "user.delete",
      target: params.id,
      details: { username: user.username },
    });
    return {};
  });

  addRoute(app, ctx, ROUTES.auditLog, async ({ query }) => ctx.store.listAudit(query));
  done();
}
