import { promisify } from "node:util";
import { gunzip, gunzipSync } from "node:zlib";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { LIMITS, ROUTES } from "@ring3/protocol";
import { ApiError } from "./errors.ts";

const gunzipAsync = promisify(gunzip);
/** Compressed bodies up to this size inflate on the event loop (at most a few ms even for a bomb, capped output). */
const SYNC_INFLATE_MAX_BYTES = 16 * 1024;

declare module "fastify" {
  interface FastifyRequest {
    /** Size of the JSON body once decoded (0 without a body). */
    bodyBytes: number;
  }
}

/**
 * Deeper JSON than any ring3 message needs (an event's fields nest a few levels). V8 parses deep JSON
 * iteratively, but serialising, matching or validating it later recurses: 100,000 `[` would exhaust the stack
 * there, so the parser refuses it up front.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of a JSON text, by one linear pass over its bytes that skips string contents (quotes
 * escaped with a backslash stay inside the string). Returns early once `limit` is passed.
 */
export function jsonDepthExceeds(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Decodes `Content-Encoding` with a cap on the decoded size: a small gzip body can inflate a thousandfold,
 * so the cap applies while inflating (zlib's `maxOutputLength`), not after.
 */
export async function decodeBody(body: Buffer, encoding: string | undefined, maxDecoded: number): Promise<Buffer> {
  const name = (encoding ?? "identity").trim().toLowerCase();
  if (name === "identity" || name === "") return body;
  if (name !== "gzip" && name !== "x-gzip") {
    throw new ApiError(
      "R3_ERR_REQUEST_UNSUPPORTED_MEDIA",
      `unsupported Content-Encoding '${name.slice(0, 32)}': use gzip`,
    );
  }
  try {
    // A small body inflates faster here than the round trip to libuv's thread pool costs (~20 µs against
    // ~70 µs of CPU for an agent's typical 1 KiB batch); a big one goes to the pool and leaves the loop free.
    return body.length <= SYNC_INFLATE_MAX_BYTES
      ? gunzipSync(body, { maxOutputLength: maxDecoded })
      : await gunzipAsync(body, { maxOutputLength: maxDecoded });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new ApiError("R3_ERR_REQUEST_TOO_LARGE", `the body inflates past ${maxDecoded} bytes`);
    }
    throw new ApiError("R3_ERR_REQUEST_MALFORMED", "the body is not valid gzip");
  }
}

/**
 * The one JSON body parser: `Content-Encoding: gzip` on any route (the agent compresses its batches), a
 * decoded-size cap (`LIMITS.maxBatchBytes` for ingest, `LIMITS.maxBodyBytes` elsewhere), a nesting cap, and
 * fastify's own parser for the rest (it refuses `__proto__` and `constructor.prototype` keys).
 */
export function registerJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser(
    "application/json",
    { parseAs: "buffer" },
    async (request: FastifyRequest, raw: Buffer | string): Promise<unknown> => {
      const ingest = request.routeOptions.url === ROUTES.ingest.path;
      const cap = ingest ? LIMITS.maxBatchBytes : LIMITS.maxBodyBytes;
      let body: Buffer;
      try {
        body = await decodeBody(
          Buffer.isBuffer(raw) ? raw : Buffer.from(raw),
          request.headers["content-encoding"],
          cap,
        );
      } catch (error) {
        if (ingest && error instanceof ApiError && error.code === "R3_ERR_REQUEST_TOO_LARGE") {
          throw new ApiError(
            "R3_ERR_INGEST_TOO_LARGE",
            `the batch inflates past LIMITS.maxBatchBytes (${cap} bytes): split it`,
          );
        }
        throw error;
      }
      request.bodyBytes = body.length;
      if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) {
        throw new ApiError("R3_ERR_REQUEST_TOO_DEEP", `JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
      return new Promise((resolve, reject) => {
        void parseJson(request, body.toString("utf8"), (error, value) => (error ? reject(error) : resolve(value)));
      });
    },
  );
}
