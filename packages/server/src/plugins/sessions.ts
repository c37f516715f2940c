import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import { SESSION_COOKIE } from "../auth/authenticate.ts";
import { decoyHash, verifyPassword } from "../auth/passwords.ts";
import { hashSecret, newSecret } from "../auth/secrets.ts";
import type { PluginOptions } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

/** Console sign-in: a password exchanged for a session (HttpOnly cookie, or Bearer for API clients). */
export function sessionsPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  const cookie = (value: string, maxAge: number): string =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${ctx.settings.tls ? "; Secure" : ""}`;

  addRoute(app, ctx, ROUTES.login, async ({ body, request, reply }) => {
    const now = ctx.now();
    const address = request.ip;
    try {
      ctx.loginLimiter.check(address, body.username, now.getTime(), "failed logins");
    } catch (error) {
      ctx.metrics.logins.inc({ outcome: "rate_limited" });
      throw error;
    }
    const found = await ctx.store.findUserCredentials(body.username);
    // An unknown user costs the same scrypt as a wrong password: timing does not reveal which.
    const verified = await verifyPassword(body.password, found?.passwordHash ?? (await decoyHash()));
    if (found === undefined || !verified) {
      ctx.loginLimiter.recordFailure(address, body.username, now.getTime());
      ctx.metrics.logins.inc({ outcome: "failed" });
      await ctx.audit({
        actor: "anonymous",
        action: "auth.login_failed",
        details: { username: body.username, address },
      });
      throw new ApiError("R3_ERR_AUTH_INVALID_CREDENTIALS", "wrong username or password");
    }
    ctx.loginLimiter.recordSuccess(address, body.username);
    const token = newSecret("session");
    const expiresAt = new Date(now.getTime() + ctx.settings.sessionTtlSeconds * 1000).toISOString();
    await ctx.store.createSession({ tokenHash: hashSecret(token), userId: found.id, expiresAt });
    reply.header("set-cookie", cookie(token, ctx.settings.sessionTtlSeconds));
    ctx.metrics.logins.inc({ outcome: "succeeded" });
    await ctx.audit({ actor: found.username, action: "auth.login", details: { address } });
    const user = { id: found.id, username: found.username, role: found.role, createdAt: found.createdAt };
    return { user, token, expiresAt };
  });

  addRoute(app, ctx, ROUTES.logout, async ({ principal, reply }) => {
    await ctx.store.deleteSession(principal.sessionHash);
    reply.header("set-cookie", cookie("", 0));
    await ctx.audit({ actor: principal.user.username, action: "auth.logout" });
    return {};
  });

  addRoute(app, ctx, ROUTES.me, ({ principal }) => principal.user);
  done();
}
