import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/*
 * The agent's HTTP client for the server. TLS verification is never turned off: with a pinned CA (`ca`, the
 * PEM the server created, copied at enrollment) only a certificate issued by that CA is accepted, otherwise
 * the system's trust store decides. Plain HTTP is accepted only for a loopback address, as the server only
 * offers it there.
 */

export type LinkResponse = {
  readonly status: number;
  readonly body: unknown;
  /** `Retry-After` in milliseconds, when the server sent one. */
  readonly retryAfterMs: number | undefined;
};

/** The request never got an HTTP answer: refused, reset, timed out, TLS failure. */
export class LinkNetworkError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export type LinkClientOptions = {
  readonly serverUrl: string;
  /** PEM of the server's CA: the only issuer trusted for https. */
  readonly ca?: string;
  readonly credential?: string;
  /** Per request, unless the request says otherwise (default 30 s). */
  readonly timeoutMs?: number;
};

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/i;
/** Answers bigger than this are not read: nothing the agent asks for is that large. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** A server URL the agent may talk to, or why not. */
export function checkServerUrl(serverUrl: string): URL {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    throw new Error(`'${serverUrl}' is not a URL (e.g. https://ring3.example.org:8443)`);
  }
  if (url.protocol === "http:" && !LOOPBACK.test(url.hostname))
    throw new Error(`plain http is only for a loopback server; use https:// for ${url.hostname}`);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`unsupported scheme ${url.protocol}`);
  return url;
}

export class LinkClient {
  readonly baseUrl: URL;
  private readonly ca: string | undefined;
  private credential: string | undefined;
  private readonly timeoutMs: number;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly inflight = new Set<{ destroy(error?: Error): void }>();

  constructor(options: LinkClientOptions) {
    this.baseUrl = checkServerUrl(options.serverUrl);
    this.ca = options.ca;
    this.credential = options.credential;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.agent =
      this.baseUrl.protocol === "https:"
        ? new HttpsAgent({ keepAlive: true, ...(this.ca === undefined ? {} : { ca: this.ca }) })
        : new HttpAgent({ keepAlive: true });
  }

  setCredential(credential: string): void {
    this.credential = credential;
  }

  /**
   * One request; JSON in and out. `body` as a Buffer is sent as is (with `encoding`, e.g. gzip); anything else
   * is JSON-serialised. Resolves with any HTTP status; rejects with LinkNetworkError when there is none.
   */
  request(
    method: "GET" | "POST",
    path: string,
    options: { body?: unknown; encoding?: "gzip"; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<LinkResponse> {
    const url = new URL(path, this.baseUrl);
    const body =
      options.body === undefined
        ? undefined
        : Buffer.isBuffer(options.body)
          ? options.body
          : Buffer.from(JSON.stringify(options.body), "utf8");
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(body.length);
      if (options.encoding !== undefined) headers["content-encoding"] = options.encoding;
    }
    if (this.credential !== undefined) headers.authorization = `Bearer ${this.credential}`;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<LinkResponse>((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.agent, timeout: timeoutMs }, (res) => {
        readJson(res).then(resolve, reject);
      });
      this.inflight.add(req);
      req.on("close", () => this.inflight.delete(req));
      req.on("timeout", () => req.destroy(new LinkNetworkError("ETIMEDOUT", `no answer within ${timeoutMs} ms`)));
      req.on("error", (error: NodeJS.ErrnoException) => {
        reject(
          error instanceof LinkNetworkError ? error : new LinkNetworkError(error.code ?? "EIO", describeError(error)),
        );
      });
      if (options.signal !== undefined) {
        if (options.signal.aborted) req.destroy(new LinkNetworkError("EABORTED", "aborted"));
        else options.signal.addEventListener("abort", () => req.destroy(new LinkNetworkError("EABORTED", "aborted")));
      }
      req.end(body);
    });
  }

  /** Aborts every request in flight (a long-poll at stop) and closes idle connections. */
  close(): void {
    for (const req of this.inflight) req.destroy(new LinkNetworkError("EABORTED", "the link is closing"));
    this.agent.destroy();
  }
}

function describeError(error: NodeJS.ErrnoException): string {
  if (error.code === "ECONNREFUSED") return "connection refused";
  if (error.code === "DEPTH_ZERO_SELF_SIGNED_CERT" || error.code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    return `the server's certificate is not issued by the pinned CA (${error.code})`;
  if (error.code === "ERR_TLS_CERT_ALTNAME_INVALID") return `the server's certificate does not name this host`;
  return error.message;
}

function readJson(res: IncomingMessage): Promise<LinkResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.destroy(new LinkNetworkError("E2BIG", `answer over ${MAX_RESPONSE_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on("error", (error: NodeJS.ErrnoException) =>
      reject(error instanceof LinkNetworkError ? error : new LinkNetworkError(error.code ?? "EIO", error.message)),
    );
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      if (text.length > 0 && (res.headers["content-type"] ?? "").includes("json")) {
        try {
          body = JSON.parse(text);
        } catch {
          // Keep the text: the caller reports it as the server's answer.
        }
      }
      const retryAfter = Number(res.headers["retry-after"]);
      resolve({
        status: res.statusCode ?? 0,
        body,
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined,
      });
    });
  });
}

/** The `R3_ERR_…` code and message of an error answer, for logs. */
export function describeAnswer(response: LinkResponse): string {
  const body = response.body as { error?: { code?: unknown; message?: unknown } } | undefined;
  const error = typeof body === "object" && body !== null ? body.error : undefined;
  if (error !== undefined && typeof error.code === "string")
    return `${response.status} ${error.code}${typeof error.message === "string" ? `: ${error.message}` : ""}`;
  return `HTTP ${response.status}`;
}
