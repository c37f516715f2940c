import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_CODES, ROUTES } from "@ring3/protocol";
import type { ErrorBody, ErrorCode } from "@ring3/protocol";
import { StoreError } from "./store/store-error.ts";
import type { StoreErrorCode } from "./store/store-error.ts";

/**
 * A failure a handler means to report: a stable code from `ERROR_CODES` (which fixes the HTTP status), a
 * message for people and optional structured `details` for programs.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: unknown;
  /** Extra response headers (`Retry-After` on 429). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, details?: unknown, headers: Record<string, string> = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.statusCode = ERROR_CODES[code];
    this.details = details;
    this.headers = headers;
  }
}

function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

type ValidationIssue = { instancePath?: string; message?: string; keyword?: string; params?: unknown };

/** Fastify's own failures (parsing, limits, routing), by their `FST_ERR_*` code. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "R3_ERR_REQUEST_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "R3_ERR_REQUEST_UNSUPPORTED_MEDIA",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "R3_ERR_REQUEST_MALFORMED",
  FST_ERR_CTP_EMPTY_JSON_BODY: "R3_ERR_REQUEST_MALFORMED",
  FST_ERR_CTP_INVALID_JSON_BODY: "R3_ERR_REQUEST_MALFORMED",
  FST_ERR_BAD_URL: "R3_ERR_REQUEST_MALFORMED",
  FST_ERR_ASYNC_CONSTRAINT: "R3_ERR_REQUEST_MALFORMED",
};

/**
 * Maps anything thrown while serving a request to an `ErrorBody`. Unknown errors become R3_ERR_INTERNAL with
 * a fixed message: the stack and the original message go to the log, never to the client.
 */
export function toErrorResponse(
  error: unknown,
  request: FastifyRequest,
): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof ApiError) {
    return {
      status: error.statusCode,
      body: errorBody(error.code, error.message, error.details),
      headers: { ...error.headers },
    };
  }
  if (error instanceof StoreError) return storeErrorResponse(error);
  const fastifyError = error as Partial<FastifyError> & { validation?: ValidationIssue[] };
  if (Array.isArray(fastifyError.validation)) {
    // Only where and what: echoing the offending value back would reflect attacker input.
    const issues = fastifyError.validation.slice(0, 20).map((issue) => ({
      in: fastifyError.validationContext ?? "body",
      path: issue.instancePath === undefined || issue.instancePath === "" ? "/" : issue.instancePath,
      message: issue.message ?? issue.keyword ?? "invalid",
    }));
    const first = issues[0];
    const message =
      first === undefined
        ? "the request is invalid"
        : `${first.in}${first.path === "/" ? "" : first.path} ${first.message}`;
    return { status: 400, body: errorBody("R3_ERR_REQUEST_INVALID", message, { issues }), headers: {} };
  }
  let code = typeof fastifyError.code === "string" ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (code === undefined && error instanceof SyntaxError) code = "R3_ERR_REQUEST_MALFORMED";
  if (code === "R3_ERR_REQUEST_TOO_LARGE" && request.routeOptions.url === ROUTES.ingest.path) {
    code = "R3_ERR_INGEST_TOO_LARGE";
  }
  if (code !== undefined) return { status: ERROR_CODES[code], body: errorBody(code, publicMessage(code)), headers: {} };
  const status = typeof fastifyError.statusCode === "number" ? fastifyError.statusCode : 500;
  if (status >= 400 && status < 500) {
    return { status: 400, body: errorBody("R3_ERR_REQUEST_INVALID", "the request is invalid"), headers: {} };
  }
  return { status: 500, body: errorBody("R3_ERR_INTERNAL", "internal server error"), headers: {} };
}

/** Store failures by kind: the caller's bad input is a 4xx with the store's message, the store's own a 503. */
const STORE_CODES: Readonly<Record<StoreErrorCode, ErrorCode>> = {
  R3_ERR_STORE_BAD_CURSOR: "R3_ERR_STORE_BAD_CURSOR",
  R3_ERR_STORE_BAD_TIME: "R3_ERR_STORE_BAD_TIME",
  R3_ERR_STORE_BAD_QUERY: "R3_ERR_STORE_BAD_QUERY",
  R3_ERR_STORE_CONFLICT: "R3_ERR_STORE_CONFLICT",
  R3_ERR_STORE_OPEN: "R3_ERR_STORE_UNAVAILABLE",
  R3_ERR_STORE_READ_ONLY: "R3_ERR_STORE_UNAVAILABLE",
  R3_ERR_STORE_FULL: "R3_ERR_STORE_UNAVAILABLE",
  R3_ERR_STORE_CORRUPT: "R3_ERR_STORE_UNAVAILABLE",
  R3_ERR_STORE_BUSY: "R3_ERR_STORE_UNAVAILABLE",
  R3_ERR_STORE_CLOSED: "R3_ERR_STORE_UNAVAILABLE",
};

function storeErrorResponse(error: StoreError): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const code = STORE_CODES[error.code];
  if (code !== "R3_ERR_STORE_UNAVAILABLE")
    return { status: ERROR_CODES[code], body: errorBody(code, error.message), headers: {} };
  // The store's message names files and SQLite's own words: the log gets it, the client the kind of failure.
  const why = error.code.slice("R3_ERR_STORE_".length).toLowerCase().replace(/_/g, " ");
  return {
    status: ERROR_CODES[code],
    body: errorBody(code, `the store cannot take this now (${why}): nothing was stored, retry later`, {
      reason: error.code,
    }),
    headers: { "retry-after": "60" },
  };
}

function publicMessage(code: ErrorCode): string {
  switch (code) {
    case "R3_ERR_REQUEST_TOO_LARGE":
      return "the request body is too large";
    case "R3_ERR_INGEST_TOO_LARGE":
      return "the batch is too large: split it";
    case "R3_ERR_REQUEST_UNSUPPORTED_MEDIA":
      return "unsupported content type: send application/json";
    default:
      return "the request is malformed";
  }
}

/** Answers with the ErrorBody for `error`; `count` hears every code sent (the error metrics). */
export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  error: unknown,
  count: (code: string) => void,
): FastifyReply {
  const { status, body, headers } = toErrorResponse(error, request);
  if (status >= 500) request.log.error({ err: error }, "request failed");
  count(body.error.code);
  return reply.code(status).headers(headers).type("application/json; charset=utf-8").send(body);
}
