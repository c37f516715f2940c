import type { FastifyRequest } from "fastify";
import type { Role, RouteAuth, User } from "@ring3/protocol";
import type { ServerContext } from "../context.ts";
import type { AgentIdentity } from "../store/store.ts";
import { ApiError } from "../errors.ts";
import { hashSecret, secretKind } from "./secrets.ts";

export type UserPrincipal = { readonly kind: "user"; readonly user: User; readonly sessionHash: string };
export type AgentPrincipal = { readonly kind: "agent"; readonly agent: AgentIdentity };
export type Principal = UserPrincipal | AgentPrincipal;

const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 0, analyst: 1, admin: 2 };

export const SESSION_COOKIE = "r3_session";

/** `Authorization: Bearer <secret>`, else (console routes only) the session cookie. */
function presentedSecret(request: FastifyRequest, cookie: boolean): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === "string") {
    const match = /^Bearer ([A-Za-z0-9_-]{1,512})$/.exec(header.trim());
    return match?.[1];
  }
  return cookie ? readCookie(request.headers.cookie, SESSION_COOKIE) : undefined;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,512}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/**
 * Who is calling, for a route that requires `auth`. Console routes take a session (cookie or Bearer) of a
 * user with at least the route's role; agent routes take an agent credential. A credential of the other
 * kind is refused with 403 (it is valid, just not here); a missing or unknown one with 401.
 */
export async function authenticate(
  ctx: ServerContext,
  request: FastifyRequest,
  auth: RouteAuth,
): Promise<Principal | undefined> {
  if (auth.kind === "public") return undefined;
  const secret = presentedSecret(request, auth.kind === "user");
  if (secret === undefined) {
    throw new ApiError(
      "R3_ERR_AUTH_REQUIRED",
      auth.kind === "user" ? "sign in first: no session" : "an agent credential is required",
    );
  }
  const kind = secretKind(secret);
  if (auth.kind === "user") {
    if (kind === "agent") throw new ApiError("R3_ERR_AUTH_FORBIDDEN", "an agent credential cannot call console routes");
    const sessionHash = hashSecret(secret);
    const user = kind === "session" ? await ctx.store.getSessionUser(sessionHash, ctx.now().toISOString()) : undefined;
    if (user === undefined)
      throw new ApiError("R3_ERR_AUTH_REQUIRED", "the session is unknown or expired: sign in again");
    if (ROLE_RANK[user.role] < ROLE_RANK[auth.role]) {
      throw new ApiError("R3_ERR_AUTH_FORBIDDEN", `this needs the ${auth.role} role; ${user.username} is ${user.role}`);
    }
    return { kind: "user", user, sessionHash };
  }
  if (kind === "session") throw new ApiError("R3_ERR_AUTH_FORBIDDEN", "a console session cannot call agent routes");
  const agent = kind === "agent" ? await ctx.store.getAgentByCredential(hashSecret(secret)) : undefined;
  if (agent === undefined) throw new ApiError("R3_ERR_AUTH_REQUIRED", "the agent credential is unknown: enroll again");
  return { kind: "agent", agent };
}
