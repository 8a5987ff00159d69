import { describe, expect, it } from "vitest";
import { createMetrics } from "./registry.ts";
import { childrenOf } from "./children.ts";

describe("childrenOf", () => {
  it("returns one child per label combination, counting into the metric's own series", async () => {
    const metrics = createMetrics(undefined, { defaultMetrics: false });
    const requests = childrenOf(metrics.ingestRequests, ["endpoint", "status"]);
    const accepted = requests({ endpoint: "eventbridge", status: "202" });
    expect(requests({ endpoint: "eventbridge", status: "202" })).toBe(accepted);
    accepted.inc();
    requests({ endpoint: "eventbridge", status: "202" }).inc();
    requests({ endpoint: "eventbridge", status: "401" }).inc();
    // Same values in other keys are another series, not a cache hit.
    requests({ endpoint: "202", status: "eventbridge" }).inc();
    const values = (await metrics.ingestRequests.get()).values.map(({ labels, value }) => ({ ...labels, value }));
    expect(values).toEqual(
      expect.arrayContaining([
        { endpoint: "eventbridge", status: "202", value: 2 },
        { endpoint: "eventbridge", status: "401", value: 1 },
        { endpoint: "202", status: "eventbridge", value: 1 },
      ]),
    );
    expect(values).toHaveLength(3);
  });

  it("works for histograms (timers observe into the labelled series)", async () => {
    const metrics = createMetrics(undefined, { defaultMetrics: false });
    const duration = childrenOf(metrics.ingestRequestDuration, ["endpoint"]);
    duration({ endpoint: "eventgrid" }).startTimer()();
    const count = (await metrics.ingestRequestDuration.get()).values.find(
      (value) => value.metricName?.endsWith("_count") && value.labels.endpoint === "eventgrid",
    );
    expect(count?.value).toBe(1);
  });
});
