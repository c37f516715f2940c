import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Static, TSchema } from "typebox";
import { ErrorBody } from "@ring3/protocol";
import type { RouteAuth, RouteSpec } from "@ring3/protocol";
import type { AgentPrincipal, Principal, UserPrincipal } from "./auth/authenticate.ts";
import { authenticate } from "./auth/authenticate.ts";
import type { ServerContext } from "./context.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

type Part<S extends RouteSpec, K extends "params" | "query" | "body" | "response"> = S extends {
  readonly [P in K]: infer T extends TSchema;
}
  ? Static<T>
  : undefined;

type PrincipalFor<A extends RouteAuth> = A extends { kind: "user" }
  ? UserPrincipal
  : A extends { kind: "agent" }
    ? AgentPrincipal
    : undefined;

/** What a handler gets: the validated parts its route declares, and who is calling. */
export type RouteCall<S extends RouteSpec> = {
  readonly params: Part<S, "params">;
  readonly query: Part<S, "query">;
  readonly body: Part<S, "body">;
  readonly principal: PrincipalFor<S["auth"]>;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
};

/**
 * Registers one route of `ROUTES` exactly as declared: method, path, schemas (validated on the way in,
 * serialised on the way out, which drops any field the response schema does not name) and authentication,
 * checked in `onRequest` so nobody unauthenticated gets a body parsed.
 */
export function addRoute<S extends RouteSpec>(
  app: FastifyInstance,
  ctx: ServerContext,
  spec: S,
  handler: (call: RouteCall<S>) => Part<S, "response"> | Promise<Part<S, "response">>,
): void {
  app.route({
    method: spec.method,
    url: spec.path,
    schema: {
      ...(spec.params === undefined ? {} : { params: spec.params }),
      ...(spec.query === undefined ? {} : { querystring: spec.query }),
      ...(spec.body === undefined ? {} : { body: spec.body }),
      response: {
        ...(spec.response === undefined ? {} : { 200: spec.response }),
        "4xx": ErrorBody,
        "5xx": ErrorBody,
      },
    },
    onRequest: async (request) => {
      request.principal = await authenticate(ctx, request, spec.auth);
    },
    handler: async (request, reply) =>
      await handler({
        params: request.params as Part<S, "params">,
        query: request.query as Part<S, "query">,
        body: request.body as Part<S, "body">,
        principal: request.principal as PrincipalFor<S["auth"]>,
        request,
        reply,
      }),
  });
}
