/**
 * Just enough of the Prometheus text exposition format (version 0.0.4) for the server's own metrics:
 * counters and histograms kept here, gauges sampled at scrape time by the caller.
 */

type Labels = Readonly<Record<string, string>>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    // Exposition format: label values escape backslash, double quote and newline.
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

export class Counter {
  readonly name: string;
  readonly help: string;
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry === undefined) this.values.set(key, { labels, value: by });
    else entry.value += by;
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, { value }] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines.join("\n");
  }
}

export class Histogram {
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(name: string, help: string, buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.counts = this.buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]! += 1;
  }

  get observations(): number {
    return this.count;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket{le="${le}"} ${this.counts[i]}`));
    lines.push(
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    );
    return lines.join("\n");
  }
}

export function gauge(name: string, help: string, samples: readonly { labels?: Labels; value: number }[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const s of samples) lines.push(`${name}${labelText(s.labels ?? {})} ${s.value}`);
  return lines.join("\n");
}

/** The server's own counters, shared by the plugins that feed them and the `/metrics` route. */
export class ServerMetrics {
  readonly batches = new Counter(
    "ring3_ingest_batches_total",
    "Ingest batches accepted, by outcome (stored or duplicate).",
  );
  readonly events = new Counter("ring3_ingest_events_total", "Events stored from agents.");
  readonly alerts = new Counter("ring3_ingest_alerts_total", "Alerts stored, by source (agent or server detection).");
  readonly rejected = new Counter("ring3_ingest_rejected_total", "Ingest batches refused, by error code.");
  readonly batchSeconds = new Histogram(
    "ring3_ingest_batch_duration_seconds",
    "Time to validate, store and run detection on one batch.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  readonly groupBatches = new Histogram(
    "ring3_ingest_group_batches",
    "Batches stored together in one transaction (the ingest queue groups the batches waiting).",
    [1, 2, 5, 10, 20, 50, 100, 200, 500],
  );
  readonly heartbeats = new Counter("ring3_heartbeats_total", "Agent heartbeats received.");
  readonly silentHosts = new Counter("ring3_host_silent_alerts_total", "Host-silent alerts raised.");
  readonly commands = new Counter("ring3_commands_total", "Response commands, by transition.");
  readonly logins = new Counter("ring3_logins_total", "Console logins, by outcome.");
  readonly errors = new Counter("ring3_http_errors_total", "Error responses, by code.");
}
