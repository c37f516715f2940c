import type { AuditEntry, IngestResponse } from "@ring3/protocol";
import type { CommandWaiters } from "./command-waiters.ts";
import type { ServerDetection } from "./detection/server-detection.ts";
import type { LiveHub } from "./live-hub.ts";
import type { LoginLimiter } from "./auth/login-limiter.ts";
import type { AgentBatch } from "./plugins/ingest.ts";
import type { ServerMetrics } from "./metrics-registry.ts";
import type { HeartbeatInput, HeartbeatRecord, Store } from "./store/store.ts";
import type { WriteQueue } from "./write-queue.ts";

/** Timing settings every plugin reads; defaults in create-server.ts. */
export type ServerSettings = {
  /** What enrollment tells agents; the fleet bench and `ring3 up` use the default, 30 s. */
  readonly heartbeatIntervalSeconds: number;
  /** No heartbeat for this long marks a host silent and raises an alert. */
  readonly silentAfterSeconds: number;
  readonly sessionTtlSeconds: number;
  /** Whether the listener is HTTPS (the session cookie is then `Secure`). */
  readonly tls: boolean;
  /** The CA agents pin, handed back on enrollment. */
  readonly caCertPem: string | undefined;
  /** Live streams open at most at once. */
  readonly maxStreams: number;
};

/** What the plugins share, passed to each as its options (plugins stay encapsulated). */
export type ServerContext = {
  readonly store: Store;
  readonly now: () => Date;
  readonly settings: ServerSettings;
  readonly hub: LiveHub;
  readonly metrics: ServerMetrics;
  readonly waiters: CommandWaiters;
  readonly ingestQueue: WriteQueue<AgentBatch, IngestResponse>;
  readonly heartbeatQueue: WriteQueue<HeartbeatInput, HeartbeatRecord | undefined>;
  readonly detection: ServerDetection;
  readonly loginLimiter: LoginLimiter;
  readonly audit: (entry: Omit<AuditEntry, "id" | "time">) => Promise<void>;
};

export type PluginOptions = { readonly ctx: ServerContext };
