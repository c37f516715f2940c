/**
 * @ring3/server: the management server (fastify, encapsulated plugins, one `Store`).
 *
 * ```ts
 * import { startServer } from "@ring3/server";
 * const server = await startServer({ dataDir: "/var/lib/ring3", host: "127.0.0.1", port: 8443 });
 * console.log(server.url);                       // https://127.0.0.1:8443
 * console.log(server.ca?.certPath, server.ca?.fingerprint256); // what agents pin
 * if (server.admin) console.log(server.admin.username, server.admin.password); // first start only
 * await server.close();
 * ```
 *
 * - `startServer(options)`: creates the data dir, opens SQLite at `<dataDir>/ring3.db` (unless `store` is
 *   given), creates the first admin with a random password when there is no user (returned once, in
 *   `admin`), creates or reuses the CA and server certificate in `<dataDir>/tls/` (agents pin `ca.pem`),
 *   serves HTTPS (plain HTTP only with `plainHttp: true` on 127.0.0.1 / ::1), and the console bundle
 *   (packages/web/dist) at `/` when it is built. `close()` stops it all.
 * - `createServer(options)`: the fastify instance alone, not listening; tests call `inject()` on it.
 * - The API is `ROUTES` of @ring3/protocol (every error an `ErrorBody` with a code of `ERROR_CODES`), plus
 *   `GET /metrics` (Prometheus text) and `GET /healthz`.
 * - Server-side detection: `rulesDirs` are Sigma rules the server runs on batches sent with `detect: true`
 *   (hosts that ship logs without matching them), and, through the rules they name, correlations across all
 *   hosts. Admins list and enable/disable them (`listRules`, `updateRule`; kept in `<dataDir>/server-rules.json`).
 * - Ingest batches and heartbeats are queued and the ones waiting are stored together, one bounded group (one
 *   transaction) at a time and at most one group of each every 20 ms (write-queue.ts), so no request is stuck
 *   behind a long write and a fleet's commits do not swamp the store; past `ingestMaxWaitMs` of backlog they
 *   answer 503 + Retry-After and the agent resends a batch from its spool.
 */
export type { StartOptions, RunningServer } from "./start-server.ts";
export { startServer, ensureFirstAdmin, FIRST_ADMIN } from "./start-server.ts";
export type { ServerOptions, Ring3Handle } from "./create-server.ts";
export { createServer, ServerConfigError, isLoopback } from "./create-server.ts";
export type { Store } from "./store/store.ts";
export { openSqliteStore } from "./store/sqlite-store.ts";
/** For `ring3 up`, which issues its local agent an enrollment token straight in the store. */
export { hashSecret, newSecret } from "./auth/secrets.ts";
