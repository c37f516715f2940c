import type { Static, TSchema } from "typebox";
import type { ROUTES, RouteName } from "./routes.ts";

/**
 * The TypeScript side of one route's declaration in `ROUTES`: what a client sends and gets back, derived from
 * the same TypeBox schemas the server validates with, so the console cannot drift from the server.
 */
type Part<N extends RouteName, K extends "params" | "query" | "body" | "response"> = (typeof ROUTES)[N] extends {
  readonly [P in K]: infer S extends TSchema;
}
  ? Static<S>
  : undefined;

export type RouteParams<N extends RouteName> = Part<N, "params">;
export type RouteQuery<N extends RouteName> = Part<N, "query">;
export type RouteBody<N extends RouteName> = Part<N, "body">;
export type RouteResponse<N extends RouteName> = Part<N, "response">;

/** The parts a call of route `N` takes: only those the route declares (`params`, `query`, `body`). */
export type RouteInput<N extends RouteName> = (RouteParams<N> extends undefined
  ? { params?: undefined }
  : { params: RouteParams<N> }) &
  (RouteQuery<N> extends undefined ? { query?: undefined } : { query?: RouteQuery<N> }) &
  (RouteBody<N> extends undefined ? { body?: undefined } : { body: RouteBody<N> });
