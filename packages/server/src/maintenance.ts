import type { FastifyBaseLogger } from "fastify";
import type { Host } from "@ring3/protocol";
import type { ServerContext } from "./context.ts";
import { alertGroupKey } from "./group-key.ts";
import { storeServerAlerts } from "./plugins/ingest.ts";
import { expireCommands } from "./plugins/commands.ts";
import type { RetentionPolicy } from "./store/store.ts";

export const HOST_SILENT_RULE_ID = "ring3.host-silent";
const RETENTION_EVERY_MS = 3_600_000;

/**
 * Hosts without a heartbeat for `silentAfterSeconds` become silent and raise an alert. A stopped, crashed or
 * tampered-with agent all look the same from here: silence. Repeated silences of one host group into one
 * alert (its count grows), and the alert id names the last heartbeat so one silence is raised once.
 */
export async function sweepSilentHosts(ctx: ServerContext): Promise<Host[]> {
  const now = ctx.now();
  const silentBefore = new Date(now.getTime() - ctx.settings.silentAfterSeconds * 1000).toISOString();
  const hosts = await ctx.store.markSilentHosts(silentBefore);
  for (const host of hosts) {
    const lastSeen = host.lastSeen ?? host.enrolledAt;
    await storeServerAlerts(ctx, [
      {
        hostId: host.id,
        alert: {
          id: `host-silent-${host.id}-${Date.parse(lastSeen)}`,
          time: now.toISOString(),
          eventId: "",
          ruleId: HOST_SILENT_RULE_ID,
          title: "Host went silent: its agent stopped, crashed or was tampered with",
          level: "high",
          tags: ["ring3.health"],
          techniques: [],
          tactics: [],
          explanation: {
            condition: `no heartbeat for ${ctx.settings.silentAfterSeconds} s`,
            selections: [{ name: "heartbeat", fields: [{ lastSeen, hostname: host.hostname }] }],
          },
          groupKey: alertGroupKey(HOST_SILENT_RULE_ID, host.id, ""),
        },
      },
    ]);
    ctx.metrics.silentHosts.inc();
    ctx.hub.publish({ type: "host", host });
  }
  return hosts;
}

/**
 * The periodic work of a running server: silent hosts, command timeouts, correlation windows that close
 * with the wall clock, and (hourly, when configured) retention. One failing step is logged; the others
 * still run, and the next tick tries again.
 */
export class Maintenance {
  private readonly ctx: ServerContext;
  private readonly log: FastifyBaseLogger;
  private readonly retention: RetentionPolicy | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastRetention = 0;

  constructor(ctx: ServerContext, log: FastifyBaseLogger, retention: RetentionPolicy | undefined) {
    this.ctx = ctx;
    this.log = log;
    this.retention = retention;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass; a pass still running is awaited rather than overlapped. */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    const step = async (name: string, work: () => Promise<unknown>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        this.log.error({ err: error }, `maintenance: ${name} failed`);
      }
    };
    await step("silent hosts", () => sweepSilentHosts(this.ctx));
    await step("command timeouts", () => expireCommands(this.ctx));
    await step("correlation windows", () =>
      storeServerAlerts(this.ctx, this.ctx.detection.advance(this.ctx.now(), undefined)),
    );
    const now = this.ctx.now();
    if (this.retention !== undefined && now.getTime() - this.lastRetention >= RETENTION_EVERY_MS) {
      this.lastRetention = now.getTime();
      const policy = this.retention;
      await step("retention", async () => {
        const result = await this.ctx.store.applyRetention(policy, now.toISOString());
        if (result.eventsDeleted + result.alertsDeleted > 0) this.log.info(result, "retention applied");
      });
    }
  }
}
