import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import { hashSecret, newSecret } from "../auth/secrets.ts";
import type { PluginOptions } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

/** The limiter's account key for enrollments (no username can contain a NUL). */
const ENROLL_KEY = "\u0000enroll";

/**
 * Enrollment: an admin creates an expiring, revocable token (its secret shown once); an agent exchanges it
 * for a per-agent credential that authenticates every later request. Only hashes of both are stored.
 */
export function enrollmentPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  addRoute(app, ctx, ROUTES.listEnrollmentTokens, async () => ctx.store.listEnrollmentTokens());

  addRoute(app, ctx, ROUTES.createEnrollmentToken, async ({ body, principal }) => {
    const now = ctx.now();
    const secret = newSecret("enrollment");
    const token = await ctx.store.createEnrollmentToken({
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.maxUses === undefined ? {} : { maxUses: body.maxUses }),
      createdBy: principal.user.username,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + body.ttlSeconds * 1000).toISOString(),
      secretHash: hashSecret(secret),
    });
    await ctx.audit({
      actor: principal.user.username,
      action: "enrollment_token.create",
      target: token.id,
      details: { expiresAt: token.expiresAt, maxUses: token.maxUses ?? null },
    });
    return { ...token, token: secret };
  });

  addRoute(app, ctx, ROUTES.revokeEnrollmentToken, async ({ params, principal }) => {
    if (!(await ctx.store.revokeEnrollmentToken(params.id))) {
      throw new ApiError("R3_ERR_ENROLLMENT_TOKEN_NOT_FOUND", `no enrollment token '${params.id}'`);
    }
    await ctx.audit({ actor: principal.user.username, action: "enrollment_token.revoke", target: params.id });
    return {};
  });

  addRoute(app, ctx, ROUTES.enroll, async ({ body, request }) => {
    const clock = ctx.now();
    const now = clock.toISOString();
    // Guessing a 256-bit token is hopeless; the limit keeps refused attempts from flooding the audit log.
    ctx.loginLimiter.check(request.ip, ENROLL_KEY, clock.getTime(), "refused enrollments");
    const token = await ctx.store.consumeEnrollmentToken(hashSecret(body.token), now);
    if (token === undefined) {
      ctx.loginLimiter.recordFailure(request.ip, ENROLL_KEY, clock.getTime());
      await ctx.audit({
        actor: "anonymous",
        action: "agent.enroll_refused",
        details: { hostname: body.hostname, address: request.ip },
      });
      throw new ApiError("R3_ERR_ENROLL_TOKEN_INVALID", "the enrollment token is unknown, expired, revoked or used up");
    }
    const credential = newSecret("agent");
    const host = await ctx.store.createHost({
      hostname: body.hostname,
      machineId: body.machineId,
      os: body.os,
      ...(body.osVersion === undefined ? {} : { osVersion: body.osVersion }),
      agentVersion: body.agentVersion,
      credentialHash: hashSecret(credential),
      enrolledAt: now,
    });
    await ctx.audit({
      actor: `agent:${host.id}`,
      action: "agent.enroll",
      target: host.id,
      details: { hostname: host.hostname, enrollmentToken: token.id, address: request.ip },
    });
    ctx.hub.publish({ type: "host", host });
    return {
      agentId: host.id,
      credential,
      heartbeatIntervalSeconds: ctx.settings.heartbeatIntervalSeconds,
      ...(ctx.settings.caCertPem === undefined ? {} : { caCertPem: ctx.settings.caCertPem }),
    };
  });
  done();
}
