/** A prom-client metric with labels: Counter, Gauge, Histogram or Summary. */
interface Labelled<L extends string, C> {
  labels(labels: Partial<Record<L, string | number>>): C;
}

/**
 * Memoises a metric's labelled children, so a hot path pays one map lookup instead of prom-client
 * hashing (sorting and joining) the label object on every observation. The cache holds one entry
 * per label combination seen, as the metric itself does, so it grows no further than the series.
 *
 * @example
 *   const requests = childrenOf(metrics.ingestRequests, ["endpoint", "status"]);
 *   requests({ endpoint: "eventbridge", status: "202" }).inc();
 */
export function childrenOf<L extends string, C>(metric: Labelled<L, C>, labelNames: readonly L[]): (labels: Readonly<Record<L, string>>) => C {
  const children = new Map<string, C>();
  return (labels) => {
    // \u0001 cannot occur in a label value credmesh sets (they come from constant tables).
    const key = labelNames.map((name) => labels[name]).join("\u0001");
    let child = children.get(key);
    if (child === undefined) {
      child = metric.labels(labels);
      children.set(key, child);
    }
    return child;
  };
}
