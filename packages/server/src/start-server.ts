import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { hashPassword } from "./auth/passwords.ts";
import { newPassword } from "./auth/secrets.ts";
import type { ServerOptions } from "./create-server.ts";
import { createServer } from "./create-server.ts";
import { openSqliteStore } from "./store/sqlite-store.ts";
import type { Store } from "./store/store.ts";

export type StartOptions = Omit<ServerOptions, "store"> & {
  /** Default: SQLite at `<dataDir>/ring3.db`, opened here and closed by `close()`. */
  readonly store?: Store;
};

export type RunningServer = {
  readonly app: FastifyInstance;
  readonly store: Store;
  /** `https://127.0.0.1:8443` (or http:// with `plainHttp`), with the port actually bound. */
  readonly url: string;
  readonly port: number;
  /** What agents pin: the CA file and its SHA-256 fingerprint. Undefined with `plainHttp`. */
  readonly ca: { readonly certPath: string; readonly fingerprint256: string; readonly created: boolean } | undefined;
  /** Only on the first start (no user yet): the admin account created, its password shown this once. */
  readonly admin: { readonly username: string; readonly password: string } | undefined;
  /** Stops listening, ends live streams and long-polls, closes the store if this call opened it. */
  close(): Promise<void>;
};

export const FIRST_ADMIN = "admin";

/** Creates the first admin when there is no user at all; returns its one-time password, else undefined. */
export async function ensureFirstAdmin(store: Store): Promise<{ username: string; password: string } | undefined> {
  if ((await store.countUsers()) > 0) return undefined;
  const password = newPassword();
  await store.createUser({ username: FIRST_ADMIN, passwordHash: await hashPassword(password), role: "admin" });
  await store.appendAudit({
    time: new Date().toISOString(),
    actor: "server",
    action: "user.create",
    details: { username: FIRST_ADMIN, role: "admin", reason: "first start" },
  });
  return { username: FIRST_ADMIN, password };
}

/** The whole server: data dir, store, first admin, TLS, listen. Stop it with `close()`. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const ownStore = options.store === undefined;
  const store = options.store ?? (await openSqliteStore({ path: join(options.dataDir, "ring3.db") }));
  let app: FastifyInstance | undefined;
  try {
    app = await createServer({ ...options, store });
    await app.listen({ host: app.ring3.host, port: app.ring3.port });
    // Only once the server is up: a password created for a server that then failed to start would be lost.
    const admin = await ensureFirstAdmin(store);
    const port = (app.server.address() as AddressInfo).port;
    const tls = app.ring3.tls;
    const hostInUrl = app.ring3.host.includes(":") ? `[${app.ring3.host}]` : app.ring3.host;
    const running = app;
    return {
      app,
      store,
      url: `${tls === undefined ? "http" : "https"}://${hostInUrl}:${port}`,
      port,
      ca:
        tls === undefined
          ? undefined
          : { certPath: tls.caCertPath, fingerprint256: tls.caFingerprint256, created: tls.createdCa },
      admin,
      close: async () => {
        await running.close();
        if (ownStore) await store.close();
      },
    };
  } catch (error) {
    await app?.close();
    if (ownStore) await store.close();
    throw error;
  }
}
