import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import fastifyStatic from "@fastify/static";
import { TypeBoxValidatorCompiler } from "@fastify/type-provider-typebox";
import Fastify from "fastify";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { LIMITS } from "@ring3/protocol";
import { LoginLimiter } from "./auth/login-limiter.ts";
import { registerJsonParser } from "./body-parser.ts";
import { CommandWaiters } from "./command-waiters.ts";
import type { ServerContext, ServerSettings } from "./context.ts";
import { ServerDetection } from "./detection/server-detection.ts";
import { ApiError, sendError } from "./errors.ts";
import { LiveHub } from "./live-hub.ts";
import { Maintenance } from "./maintenance.ts";
import { WriteQueue } from "./write-queue.ts";
import { ServerMetrics } from "./metrics-registry.ts";
import { defaultAttackCatalogPath } from "./attack-catalog.ts";
import { alertsPlugin } from "./plugins/alerts.ts";
import { attackPlugin } from "./plugins/attack.ts";
import { commandsPlugin } from "./plugins/commands.ts";
import { enrollmentPlugin } from "./plugins/enrollment.ts";
import { hostsPlugin } from "./plugins/hosts.ts";
import { ingestPlugin, storeBatches } from "./plugins/ingest.ts";
import { livePlugin } from "./plugins/live.ts";
import { metricsPlugin } from "./plugins/metrics.ts";
import { rulesPlugin } from "./plugins/rules.ts";
import { sessionsPlugin } from "./plugins/sessions.ts";
import { usersPlugin } from "./plugins/users.ts";
import type { RetentionPolicy, Store } from "./store/store.ts";
import type { TlsMaterial } from "./tls/certificates.ts";
import { ensureTls } from "./tls/certificates.ts";

export type ServerOptions = {
  readonly store: Store;
  /** Holds tls/ (the CA and server certificate) and server-rules.json (rules an admin disabled). */
  readonly dataDir: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8443. */
  readonly port?: number;
  /** Serve plain HTTP instead of HTTPS: refused unless `host` is a loopback address. */
  readonly plainHttp?: boolean;
  /** Sigma rules the server runs itself (log-only hosts, cross-host correlations). Default none. */
  readonly rulesDirs?: readonly string[];
  /** The console's built bundle; default packages/web/dist, served only when its index.html exists. */
  readonly webDir?: string;
  /** MITRE's `enterprise-techniques.json` for the coverage page; default the development data beside the checkout. */
  readonly attackCatalogPath?: string;
  /** Extra names (DNS or IP) the server certificate must cover, besides localhost and this hostname. */
  readonly tlsNames?: readonly string[];
  /** Default 30. */
  readonly heartbeatIntervalSeconds?: number;
  /** Default three heartbeat intervals. */
  readonly silentAfterSeconds?: number;
  /** Default 12 hours. */
  readonly sessionTtlSeconds?: number;
  /** Default 100. */
  readonly maxStreams?: number;
  /**
   * Ingest answers 503 + Retry-After once the oldest batch waiting has waited this long (default 2000); so does
   * the heartbeat route for heartbeats.
   */
  readonly ingestMaxWaitMs?: number;
  /** …or hold more events than this (default 100,000). */
  readonly maxQueuedEvents?: number;
  /** Applied hourly when given. */
  readonly retention?: RetentionPolicy;
  /** How often maintenance runs (silent hosts, command timeouts…); default 5000; 0: only `ring3.maintenance.tick()`. */
  readonly maintenanceIntervalMs?: number;
  /** The clock (tests move it). */
  readonly now?: () => Date;
  readonly logger?: FastifyServerOptions["logger"];
};

/** What `createServer` hangs on the fastify instance as `app.ring3`. */
export type Ring3Handle = {
  readonly context: ServerContext;
  readonly maintenance: Maintenance;
  readonly tls: TlsMaterial | undefined;
  /** Every route registered, `METHOD path` (the route-table test compares them with `ROUTES`). */
  readonly routes: readonly string[];
  readonly host: string;
  readonly port: number;
};

declare module "fastify" {
  interface FastifyInstance {
    ring3: Ring3Handle;
  }
}

export class ServerConfigError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "ServerConfigError";
    this.code = code;
  }
}

const DEFAULT_WEB_DIR = resolve(import.meta.dirname, "..", "..", "web", "dist");
/**
 * One ingest transaction holds at most this many events and batches: 10,000 agents send 1,000 batches of ten
 * events a second, and storing an event takes some 20 µs of the loop (`npm run bench:ingest`), so a group of
 * 5,000 holds the loop (and the heartbeats waiting) for about 0.1 s; up to 500 batches of ten fit in it.
 */
const INGEST_GROUP_EVENTS = 5000;
const INGEST_GROUP_BATCHES = 500;
/**
 * At most one commit of ingest and one of heartbeats per this many ms while they keep coming (write-queue.ts).
 * At 10,000 agents that is some 20 batches and 7 heartbeats a commit instead of one each, for at most 20 ms
 * more on a request the agent does not wait on: its link sends batches and heartbeats in the background.
 */
const WRITE_INTERVAL_MS = 20;
/** 10,000 agents send some 330 heartbeats a second: a group holds three seconds of them. */
const HEARTBEAT_GROUP = 1000;

export function isLoopback(host: string): boolean {
  return host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

/**
 * Builds the server as a fastify instance, not yet listening (`inject()` works on it as is). Plugins are
 * encapsulated and share one `ServerContext`. Call `startServer` for the whole lifecycle (store, first
 * admin, listen, stop).
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8443;
  if (options.plainHttp === true && !isLoopback(host)) {
    throw new ServerConfigError(
      "R3_ERR_SERVER_PLAIN_HTTP_REFUSED",
      `plain HTTP is allowed only on a loopback address (127.0.0.1 or ::1), not on ${host}: credentials would cross the network in clear`,
    );
  }
  const now = options.now ?? (() => new Date());
  const tls =
    options.plainHttp === true
      ? undefined
      : await ensureTls(join(options.dataDir, "tls"), certificateNames(host, options.tlsNames ?? []), now());
  const heartbeatIntervalSeconds = options.heartbeatIntervalSeconds ?? 30;
  const settings: ServerSettings = {
    heartbeatIntervalSeconds,
    silentAfterSeconds: options.silentAfterSeconds ?? 3 * heartbeatIntervalSeconds,
    sessionTtlSeconds: options.sessionTtlSeconds ?? 12 * 3600,
    tls: tls !== undefined,
    caCertPem: tls?.caCertPem,
    maxStreams: options.maxStreams ?? 100,
  };
  const store = options.store;
  const ctx: ServerContext = {
    store,
    now,
    settings,
    hub: new LiveHub(),
    metrics: new ServerMetrics(),
    waiters: new CommandWaiters(),
    ingestQueue: new WriteQueue(
      {
        maxWaitMs: options.ingestMaxWaitMs ?? 2000,
        maxQueuedUnits: options.maxQueuedEvents ?? 100_000,
        maxGroupUnits: INGEST_GROUP_EVENTS,
        maxGroupItems: INGEST_GROUP_BATCHES,
        minIntervalMs: WRITE_INTERVAL_MS,
      },
      (batches) => storeBatches(ctx, batches),
      (events) => `ingest is ${events} events behind: keep the batch and resend it`,
    ),
    heartbeatQueue: new WriteQueue(
      {
        maxWaitMs: options.ingestMaxWaitMs ?? 2000,
        maxQueuedUnits: 20 * HEARTBEAT_GROUP,
        maxGroupUnits: HEARTBEAT_GROUP,
        maxGroupItems: HEARTBEAT_GROUP,
        minIntervalMs: WRITE_INTERVAL_MS,
      },
      async (beats) => (await store.recordHeartbeats(beats)).map((value) => ({ status: "fulfilled" as const, value })),
      (beats) => `${beats} heartbeats are waiting to be stored: send the next one`,
    ),
    detection: await ServerDetection.open(options.rulesDirs ?? [], join(options.dataDir, "server-rules.json"), now()),
    loginLimiter: new LoginLimiter(),
    audit: async (entry) => {
      await store.appendAudit({ ...entry, time: now().toISOString() });
    },
  };

  const countError = (code: string): void => ctx.metrics.errors.inc({ code });
  const app = Fastify({
    logger: options.logger ?? false,
    ...(tls === undefined ? {} : { https: { key: tls.keyPem, cert: tls.certPem } }),
    bodyLimit: LIMITS.maxBodyBytes,
    // A client has this long to send a whole request (slow-loris); longer than any long-poll wait (60 s).
    requestTimeout: 120_000,
    // Ids are up to 128 characters, rule refs (titles) up to 512 once URL-encoded.
    routerOptions: { maxParamLength: 2048 },
    requestIdHeader: false,
    frameworkErrors: (error, request, reply) => {
      sendError(reply, request, error, countError);
    },
  }) as unknown as FastifyInstance;

  // TypeBox checks the protocol's schemas as declared: unknown properties are refused (400), not stripped, and
  // only path and query strings are converted to the declared types (a JSON body is never coerced).
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  const routes: string[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  const maintenance = new Maintenance(ctx, app.log, options.retention);
  app.decorate("ring3", { context: ctx, maintenance, tls, routes, host, port });
  app.decorateRequest("principal", undefined);
  app.decorateRequest("bodyBytes", 0);
  registerJsonParser(app);

  app.setErrorHandler((error, request, reply) => sendError(reply, request, error, countError));

  app.addHook("onSend", async (request, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("x-frame-options", "DENY");
    if (request.url.startsWith("/api/")) reply.header("cache-control", "no-store");
    else if (String(reply.getHeader("content-type") ?? "").startsWith("text/html")) {
      reply.header(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; " +
          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
      );
    }
    return payload;
  });

  app.addHook("preClose", async () => {
    // Long-polls answer now, so closing does not wait out their 25 s.
    ctx.waiters.close();
    await maintenance.stop();
  });

  for (const plugin of [
    sessionsPlugin,
    usersPlugin,
    enrollmentPlugin,
    ingestPlugin,
    hostsPlugin,
    alertsPlugin,
    commandsPlugin,
    livePlugin,
    rulesPlugin,
    metricsPlugin,
  ]) {
    await app.register(plugin, { ctx });
  }
  await app.register(attackPlugin, { ctx, catalogPath: options.attackCatalogPath ?? defaultAttackCatalogPath() });

  const webDir = options.webDir ?? DEFAULT_WEB_DIR;
  const hasConsole = existsSync(join(webDir, "index.html"));
  if (hasConsole) await app.register(fastifyStatic, { root: webDir, prefix: "/", wildcard: true, index: "index.html" });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    // The console is a single-page app: its routes (/alerts/…) are its own, so they all get index.html.
    if (hasConsole && request.method === "GET" && !path.startsWith("/api/") && path !== "/metrics") {
      return reply.type("text/html; charset=utf-8").sendFile("index.html");
    }
    return sendError(
      reply,
      request,
      new ApiError("R3_ERR_ROUTE_NOT_FOUND", `no route ${request.method} ${path.slice(0, 256)}`),
      countError,
    );
  });

  if ((options.maintenanceIntervalMs ?? 5000) > 0) maintenance.start(options.maintenanceIntervalMs ?? 5000);
  return app;
}

/** localhost, loopback, this machine's name and the listen address (when it is one), plus `extra`. */
function certificateNames(host: string, extra: readonly string[]): string[] {
  const names = ["localhost", "127.0.0.1", "::1", hostname(), ...extra];
  if (host !== "0.0.0.0" && host !== "::" && host !== "") names.push(host);
  return [...new Set(names)];
}
