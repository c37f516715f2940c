import type { FastifyInstance } from "fastify";
import { ALERT_LEVELS, HOST_HEALTHS, HOST_STATES } from "@ring3/protocol";
import type { PluginOptions } from "../context.ts";
import { gauge } from "../metrics-registry.ts";
import { descriptorUsage } from "../process-descriptors.ts";

const DAY_MS = 86_400_000;

/**
 * `GET /metrics` (Prometheus text format 0.0.4) and `GET /healthz`. Both are unauthenticated, as scrapers
 * and load balancers expect; they expose counts only, never host names, users or event content.
 */
export function metricsPlugin(app: FastifyInstance, { ctx }: PluginOptions, done: (error?: Error) => void): void {
  const started = Date.now();

  app.get("/healthz", async (_request, reply) => {
    try {
      const stats = await ctx.store.stats();
      const uptimeSeconds = Math.round((Date.now() - started) / 1000);
      // Degraded still answers 200: the server works (searches are slower), a person should look.
      return stats.indexProblem === undefined
        ? { status: "ok", store: ctx.store.engine, uptimeSeconds }
        : { status: "degraded", store: ctx.store.engine, uptimeSeconds, reasons: [stats.indexProblem] };
    } catch (error) {
      app.log.error({ err: error }, "health check: the store does not answer");
      return reply.code(503).send({ status: "unavailable", store: ctx.store.engine });
    }
  });

  app.get("/metrics", async (_request, reply) => {
    const now = ctx.now();
    const [hosts, stats, alertStats, descriptors] = await Promise.all([
      ctx.store.countHosts(),
      ctx.store.stats(),
      ctx.store.alertStats({ from: new Date(now.getTime() - DAY_MS).toISOString(), to: now.toISOString() }),
      descriptorUsage(),
    ]);
    const m = ctx.metrics;
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const text = [
      m.batches.render(),
      m.events.render(),
      m.alerts.render(),
      m.rejected.render(),
      m.batchSeconds.render(),
      m.groupBatches.render(),
      m.heartbeats.render(),
      m.silentHosts.render(),
      m.commands.render(),
      m.logins.render(),
      m.errors.render(),
      gauge(
        "ring3_hosts",
        "Enrolled hosts by state.",
        HOST_STATES.map((state) => ({ labels: { state }, value: hosts.byState[state] })),
      ),
      gauge("ring3_hosts_isolated", "Hosts cut off from the network by a response action.", [
        { value: hosts.isolated },
      ]),
      gauge(
        "ring3_hosts_health",
        "Enrolled hosts by health: silent, else isolated, else degraded (a sensor not running), else online.",
        HOST_HEALTHS.map((health) => ({ labels: { health }, value: hosts.byHealth[health] })),
      ),
      gauge(
        "ring3_alerts_last_24h",
        "Alerts seen in the last 24 hours, by level.",
        ALERT_LEVELS.map((level) => ({ labels: { level }, value: alertStats.byLevel[level] ?? 0 })),
      ),
      gauge("ring3_store_events", "Events stored.", [{ value: stats.events }]),
      gauge("ring3_store_alerts", "Alerts stored.", [{ value: stats.alerts }]),
      gauge("ring3_store_bytes", "Size of the store on disk.", [{ value: stats.bytes }]),
      gauge("ring3_store_index_lag_events", "Events stored but not yet in the search index.", [
        { value: stats.indexLag ?? 0 },
      ]),
      gauge("ring3_live_streams", "Console live streams open.", [{ value: ctx.hub.size }]),
      gauge("ring3_ingest_queued_events", "Events received, waiting for their turn to be stored.", [
        { value: ctx.ingestQueue.depth.units },
      ]),
      gauge("ring3_heartbeats_queued", "Heartbeats received, waiting for their turn to be stored.", [
        { value: ctx.heartbeatQueue.depth.items },
      ]),
      gauge("ring3_command_waiters", "Agents long-polling for commands.", [{ value: ctx.waiters.size }]),
      gauge("process_resident_memory_bytes", "Resident set size.", [{ value: memory.rss }]),
      gauge("process_heap_used_bytes", "V8 heap in use.", [{ value: memory.heapUsed }]),
      `# HELP process_cpu_seconds_total User and system CPU time.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      ...(descriptors === undefined
        ? []
        : [
            gauge("process_open_fds", "Open file descriptors (sockets included).", [{ value: descriptors.open }]),
            gauge("process_max_fds", "Limit of open file descriptors.", [{ value: descriptors.max }]),
          ]),
    ].join("\n\n");
    return reply.type("text/plain; version=0.0.4; charset=utf-8").send(text + "\n");
  });
  done();
}
