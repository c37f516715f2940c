import type { FastifyInstance } from "fastify";
import { ROUTES } from "@ring3/protocol";
import type { LiveMessage } from "@ring3/protocol";
import type { PluginOptions } from "../context.ts";
import { ApiError } from "../errors.ts";
import { addRoute } from "../route.ts";

/** A comment line this often keeps proxies and the browser from timing the stream out. */
const KEEPALIVE_MS = 15_000;
/** A console that stops reading is cut off rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * The console's live view: Server-Sent Events (`text/event-stream`), one `LiveMessage` per event, its
 * `type` as the SSE event name and the JSON as data. Closing the page or signing out ends it; so does the
 * server shutting down (`preClose`).
 */
export function livePlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  const open = new Set<() => void>();
  app.addHook("preClose", (hookDone) => {
    for (const end of [...open]) end();
    hookDone();
  });

  addRoute(app, ctx, ROUTES.stream, ({ reply, principal }) => {
    if (open.size >= ctx.settings.maxStreams) {
      throw new ApiError("R3_ERR_SERVER_BUSY", `${open.size} live streams are open; close one first`);
    }
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      "x-content-type-options": "nosniff",
    });
    raw.write(`retry: 5000\n: ring3 live stream for ${principal.user.username}\n\n`);
    const send = (message: LiveMessage): void => {
      if (raw.writableLength > MAX_BUFFERED_BYTES) {
        end();
        return;
      }
      raw.write(`event: ${message.type}\ndata: ${JSON.stringify(message)}\n\n`);
    };
    const unsubscribe = ctx.hub.subscribe(send);
    const keepalive = setInterval(() => raw.write(": keepalive\n\n"), KEEPALIVE_MS);
    keepalive.unref();
    const end = (): void => {
      if (!open.delete(end)) return;
      unsubscribe();
      clearInterval(keepalive);
      raw.end();
    };
    open.add(end);
    raw.once("close", end);
    return undefined;
  });
  done();
}
