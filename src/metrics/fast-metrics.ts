/**
 * Hot-path metrics kept in plain numbers and rendered to Prometheus text at scrape time.
 * prom-client hashes the label set on every inc()/observe(), even through labels(); on the RPC
 * path that cost ~10% of a call. Label values must already be safe (escaped once on creation).
 */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[]): string {
  return names.map((n, i) => `${n}="${escapeLabel(values[i]!)}"`).join(",");
}

/** Drops every series whose label `index` equals `value` (e.g. a departed target node). */
function dropSeries(series: Map<string, unknown>, index: number, value: string): void {
  for (const key of [...series.keys()]) if (key.split("\u0000")[index] === value) series.delete(key);
}

export class FastCounter {
  private readonly series = new Map<string, { labels: string; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly constLabels: string,
  ) {}

  /** Returns a cell to increment; keep it (per label set) to avoid even the map lookup. */
  cell(values: readonly string[]): { value: number } {
    const key = values.join("\u0000");
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labelText(this.labelNames, values), value: 0 }));
    return s;
  }

  /** Forgets the series whose label `labelName` is `value`; cells handed out for them stop counting. */
  drop(labelName: string, value: string): void {
    dropSeries(this.series, this.labelNames.indexOf(labelName), value);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}{${s.labels}${this.constLabels}} ${s.value}`);
    return lines.join("\n");
  }
}

export interface HistogramCell {
  observe(value: number): void;
}

export class FastHistogram {
  private readonly series = new Map<string, { labels: string; counts: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly buckets: readonly number[],
    private readonly constLabels: string,
  ) {}

  cell(values: readonly string[]): HistogramCell {
    const key = values.join("\u0000");
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labelText(this.labelNames, values), counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    const series = s;
    const buckets = this.buckets;
    return {
      observe(value: number) {
        series.sum += value;
        series.count += 1;
        for (let i = 0; i < buckets.length; i++) {
          if (value <= buckets[i]!) {
            series.counts[i]! += 1;
            return;
          }
        }
      },
    };
  }

  /** Forgets the series whose label `labelName` is `value`. */
  drop(labelName: string, value: string): void {
    dropSeries(this.series, this.labelNames.indexOf(labelName), value);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      let cumulative = 0;
      const sep = s.labels ? "," : "";
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        lines.push(`${this.name}_bucket{${s.labels}${sep}le="${le}"${this.constLabels}} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket{${s.labels}${sep}le="+Inf"${this.constLabels}} ${s.count}`);
      lines.push(`${this.name}_sum{${s.labels}${this.constLabels}} ${s.sum}`);
      lines.push(`${this.name}_count{${s.labels}${this.constLabels}} ${s.count}`);
    }
    return lines.join("\n");
  }
}

export function constLabelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `,${k}="${escapeLabel(v)}"`)
    .join("");
}
