import { ROUTES } from "@ring3/protocol";
import type { ErrorBody, RouteInput, RouteName, RouteResponse } from "@ring3/protocol";

/**
 * A failed call: the server's `ErrorBody` (stable `R3_ERR_*` code, message, details) with the HTTP status.
 * Failures that never reached the server get console-side codes (`R3_ERR_CONSOLE_*`) so callers branch on
 * codes only.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, body: ErrorBody) {
    super(body.error.message);
    this.name = "ApiError";
    this.status = status;
    this.code = body.error.code;
    this.details = body.error.details;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error = value.error;
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    typeof error.code === "string" &&
    "message" in error &&
    typeof error.message === "string"
  );
}

type Scalar = string | number | boolean;
type PathParams = Readonly<Record<string, Scalar>>;
type QueryParams = Readonly<Record<string, Scalar | readonly Scalar[] | undefined>>;

/** `/api/v1/alerts/:id` with `{id: "a:1"}` → `/api/v1/alerts/a%3A1`. */
export function fillPath(path: string, params: PathParams | undefined): string {
  return path.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`missing path parameter '${name}' for ${path}`);
    return encodeURIComponent(String(value));
  });
}

/** Arrays repeat their key (`status=new&status=resolved`), as the server's query parser reads them. */
export function queryString(query: QueryParams | undefined): string {
  if (query === undefined) return "";
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === "") continue;
    const items: readonly Scalar[] = typeof value === "object" ? value : [value];
    for (const item of items) search.append(key, String(item));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

export type CallOptions = { readonly signal?: AbortSignal };

/** Every 401 goes here (an expired session): the app shows the login page. */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/**
 * Calls a route of `ROUTES` by name with exactly the parts it declares, and returns its typed response.
 * The session is the HttpOnly cookie the login sets, so nothing secret lives in script-readable storage.
 */
export async function call<N extends RouteName>(
  name: N,
  input: RouteInput<N>,
  options: CallOptions = {},
): Promise<RouteResponse<N>> {
  const route = ROUTES[name];
  const url =
    fillPath(route.path, input.params as PathParams | undefined) + queryString(input.query as QueryParams | undefined);
  const init: RequestInit = {
    method: route.method,
    credentials: "same-origin",
    headers: { accept: "application/json" },
  };
  if (options.signal !== undefined) init.signal = options.signal;
  // A POST without a body must not claim JSON: fastify rejects an empty JSON body.
  if (input.body !== undefined) {
    init.headers = { accept: "application/json", "content-type": "application/json" };
    init.body = JSON.stringify(input.body);
  }
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (cause) {
    if (options.signal?.aborted === true) throw cause;
    throw new ApiError(0, {
      error: { code: "R3_ERR_CONSOLE_NETWORK", message: `the server cannot be reached (${String(cause)})` },
    });
  }
  const text = await response.text();
  let payload: unknown = undefined;
  if (text !== "") {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = undefined;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && name !== "login") onUnauthorized();
    throw new ApiError(
      response.status,
      isErrorBody(payload)
        ? payload
        : { error: { code: "R3_ERR_CONSOLE_HTTP", message: `${response.status} ${response.statusText}`.trim() } },
    );
  }
  if (payload === undefined && text !== "") {
    throw new ApiError(response.status, {
      error: { code: "R3_ERR_CONSOLE_BAD_RESPONSE", message: `${name}: the response is not JSON` },
    });
  }
  return (payload ?? {}) as RouteResponse<N>;
}

/** Message for an error shown to the user: the code travels with it so a report can name it. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
