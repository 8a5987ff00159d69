import autocannon, { type AutocannonResult } from "autocannon";
import { build, encodeIntoCompressedBase64 } from "hdr-histogram-js";
import type { EventBodies } from "./events.ts";
import type { Target } from "./target.ts";

/** Latency of 2xx responses in milliseconds, read from an hdr histogram kept in microseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** The histogram itself (values in µs), hdr's compressed base64, to re-read later. */
  histogramUs: string;
}

/** What one load run saw from the client side. */
export interface LoadRun {
  autocannon: AutocannonResult;
  latency: LatencySummary;
  /** Event ids the target acknowledged with a 2xx, taken from the response bodies. */
  acknowledgedIds: Set<string>;
  /** 2xx answers that said the event was a duplicate (expected 0: every id is new). */
  answeredDuplicate: number;
}

/**
 * Runs autocannon against `target` for a fixed time at fixed concurrency, one new event per
 * request. Latency is recorded here in microseconds rather than read from autocannon, whose
 * histogram discerns only whole milliseconds — too coarse for a floor of a few milliseconds.
 */
export async function runLoad(target: Target, bodies: EventBodies, connections: number, durationSeconds: number): Promise<LoadRun> {
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const acknowledgedIds = new Set<string>();
  let answeredDuplicate = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        connections,
        duration: durationSeconds,
        method: "POST",
        headers: target.headers,
        // Above ingest's own 3 s publish timeout, so a slow bus shows up as a 503, not a client timeout.
        timeout: 10,
        requests: [
          {
            setupRequest: (request) => ({ ...request, body: bodies.next().body }),
            onResponse: (status, body) => {
              if (status < 200 || status > 299) return;
              const answer = JSON.parse(body) as { id?: string; duplicate?: boolean };
              if (answer.id) acknowledgedIds.add(answer.id);
              if (answer.duplicate === true) answeredDuplicate++;
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on("response", (_client, status, _bytes, responseTimeMs) => {
      if (status >= 200 && status <= 299) histogram.recordValue(Math.max(1, Math.round(responseTimeMs * 1_000)));
    });
  });
  const ms = (us: number): number => Math.round(us) / 1_000;
  const latency: LatencySummary = {
    count: histogram.totalCount,
    mean: ms(histogram.mean),
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    max: ms(histogram.maxValue),
    histogramUs: encodeIntoCompressedBase64(histogram),
  };
  histogram.destroy();
  return { autocannon: result, latency, acknowledgedIds, answeredDuplicate };
}
