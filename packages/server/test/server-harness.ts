import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import type { Role, WireAlert, WireEvent } from "@ring3/protocol";
import { ROUTES } from "@ring3/protocol";
import { hashPassword } from "../src/auth/passwords.ts";
import { hashSecret, newSecret } from "../src/auth/secrets.ts";
import type { ServerOptions } from "../src/create-server.ts";
import { createServer } from "../src/create-server.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import type { Store } from "../src/store/store.ts";

/** A clock tests move by hand (sweeper, command timeouts, session expiry). */
export class TestClock {
  ms: number;
  constructor(start = Date.parse("2026-03-01T12:00:00.000Z")) {
    this.ms = start;
  }
  now = (): Date => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export type TestServer = {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly clock: TestClock;
  readonly dataDir: string;
  /** Session tokens of one user per role. */
  readonly sessions: Readonly<Record<Role, string>>;
  readonly userIds: Readonly<Record<Role, string>>;
  /** The password every test user has. */
  readonly password: string;
  /** Enrolls an agent, returns its host id and credential. */
  enroll(hostname?: string): Promise<{ hostId: string; credential: string }>;
  call(options: InjectOptions & { as?: string }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
};

let sharedHash: Promise<string> | undefined;
const PASSWORD = "correct horse battery staple";

/**
 * The real server (createServer) on the real SQLite store in a temp dir, plain HTTP (inject needs no TLS),
 * maintenance driven by hand, one user per role with a session, ready for `inject()`.
 */
export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "ring3-server-test-"));
  const store = await openSqliteStore({ path: join(dataDir, "ring3.db") });
  const clock = new TestClock();
  const app = await createServer({
    store,
    dataDir,
    plainHttp: true,
    maintenanceIntervalMs: 0,
    now: clock.now,
    webDir: join(dataDir, "no-console"),
    ...options,
  });
  await app.ready();
  sharedHash ??= hashPassword(PASSWORD);
  const passwordHash = await sharedHash;
  const sessions = {} as Record<Role, string>;
  const userIds = {} as Record<Role, string>;
  for (const role of ["viewer", "analyst", "admin"] as const) {
    const user = await store.createUser({ username: `${role}-user`, passwordHash, role });
    const token = newSecret("session");
    await store.createSession({
      tokenHash: hashSecret(token),
      userId: user.id,
      expiresAt: new Date(clock.ms + 24 * 3600_000).toISOString(),
    });
    sessions[role] = token;
    userIds[role] = user.id;
  }
  const call = (options: InjectOptions & { as?: string }): Promise<LightMyRequestResponse> => {
    const { as, headers, ...rest } = options;
    return app.inject({
      ...rest,
      headers: { ...(as === undefined ? {} : { authorization: `Bearer ${as}` }), ...headers },
    });
  };
  const enroll = async (hostname = "host-a"): Promise<{ hostId: string; credential: string }> => {
    const created = await call({
      method: "POST",
      url: ROUTES.createEnrollmentToken.path,
      as: sessions.admin,
      payload: { ttlSeconds: 3600 },
    });
    const token = created.json<{ token: string }>().token;
    const enrolled = await call({
      method: "POST",
      url: ROUTES.enroll.path,
      payload: { token, hostname, machineId: `machine-${hostname}`, os: "linux", agentVersion: "0.1.0" },
    });
    if (enrolled.statusCode !== 200) throw new Error(`enroll failed: ${enrolled.body}`);
    const body = enrolled.json<{ agentId: string; credential: string }>();
    return { hostId: body.agentId, credential: body.credential };
  };
  return {
    app,
    store,
    clock,
    dataDir,
    sessions,
    userIds,
    password: PASSWORD,
    enroll,
    call,
    close: async () => {
      await app.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let eventCounter = 0;

/** A Linux process_creation event as the agent sends it. */
export function processEvent(overrides: Partial<WireEvent> & { fields?: Record<string, unknown> } = {}): WireEvent {
  eventCounter += 1;
  return {
    id: overrides.id ?? `evt-${eventCounter}`,
    time: overrides.time ?? "2026-03-01T11:59:00.000Z",
    host: overrides.host ?? "host-a",
    logsource: overrides.logsource ?? { product: "linux", category: "process_creation" },
    fields: {
      ProcessId: 4242,
      ParentProcessId: 1,
      Image: "/usr/bin/curl",
      CommandLine: "curl http://example.test/x.sh",
      User: "alice",
      ...overrides.fields,
    },
  };
}

export function agentAlert(event: WireEvent, overrides: Partial<WireAlert> = {}): WireAlert {
  return {
    id: `agent-alert-${event.id}`,
    time: event.time,
    eventId: event.id,
    ruleId: "rule-curl",
    title: "Curl download",
    level: "medium",
    tags: ["attack.t1105"],
    techniques: ["T1105"],
    tactics: ["command-and-control"],
    ...overrides,
  };
}

let batchCounter = 0;
export function batch(
  events: WireEvent[],
  alerts: WireAlert[] = [],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  batchCounter += 1;
  return { batchId: `batch-${Date.now()}-${batchCounter}`, events, alerts, ...extra };
}

/** An ingest request body, gzip-compressed as the agent sends it. */
export function gzipped(body: unknown): { payload: Buffer; headers: Record<string, string> } {
  return {
    payload: gzipSync(Buffer.from(JSON.stringify(body))),
    headers: { "content-type": "application/json", "content-encoding": "gzip" },
  };
}

/** The error code of a failed response, asserting it is an ErrorBody. */
export function errorCode(response: LightMyRequestResponse): string {
  const body = response.json<{ error?: { code?: unknown } }>();
  if (typeof body.error?.code !== "string") throw new Error(`not an ErrorBody: ${response.body.slice(0, 200)}`);
  return body.error.code;
}
