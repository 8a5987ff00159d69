import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { build, encodeIntoCompressedBase64 } from "hdr-histogram-js";
import { round } from "../section.ts";

/** What one task of an open loop reports: its latency, or why it has none. */
export type TaskOutcome = { latencyMs: number; decision: string } | { failed: string };

export interface LatencyMs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** One open-loop run: a task started every 1/rate seconds, whether earlier ones finished or not. */
export interface OpenLoopResult {
  offeredPerSecond: number;
  /** Tasks started. */
  started: number;
  /** Tasks that finished with a latency. */
  completed: number;
  /** Completed per second of the run, from the first start to the last completion. */
  achievedPerSecond: number;
  /** How late the last task started against its schedule (the bench itself falling behind), ms. */
  scheduleLagMs: number;
  latencyMs: LatencyMs;
  /** µs hdr histogram, compressed base64. */
  histogramUs: string;
  /** Completed tasks by the replicator's decision (applied, skipped_stale, ...). */
  decisions: Record<string, number>;
  /** Tasks without a latency, by reason (no audit record within the drain time, a failed call, ...). */
  failures: Record<string, number>;
}

/**
 * Starts `task(index)` at a fixed rate for `durationSeconds` (open loop: a slow system gets the
 * same arrivals, and queueing shows in the latency), then waits for every task. Tasks bound their
 * own waits; this only schedules and collects.
 */
export async function openLoop(ratePerSecond: number, durationSeconds: number, task: (index: number) => Promise<TaskOutcome>): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round(ratePerSecond * durationSeconds));
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  const decisions: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const running: Array<Promise<void>> = [];
  const start = performance.now();
  let scheduleLagMs = 0;
  let lastDone = start;
  for (let index = 0; index < total; index++) {
    const due = start + (index * 1_000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    scheduleLagMs = Math.max(scheduleLagMs, performance.now() - due);
    running.push(
      task(index).then(
        (outcome) => {
          lastDone = Math.max(lastDone, performance.now());
          if ("failed" in outcome) failures[outcome.failed] = (failures[outcome.failed] ?? 0) + 1;
          else {
            histogram.recordValue(Math.max(1, Math.round(outcome.latencyMs * 1_000)));
            decisions[outcome.decision] = (decisions[outcome.decision] ?? 0) + 1;
          }
        },
        (error: unknown) => {
          const reason = error instanceof Error ? error.name : "error";
          failures[reason] = (failures[reason] ?? 0) + 1;
        },
      ),
    );
  }
  await Promise.all(running);
  const ms = (us: number): number => Math.round(us) / 1_000;
  const completed = histogram.totalCount;
  const result: OpenLoopResult = {
    offeredPerSecond: ratePerSecond,
    started: total,
    completed,
    achievedPerSecond: round(completed / ((lastDone - start) / 1_000)),
    scheduleLagMs: round(scheduleLagMs),
    latencyMs: {
      count: completed,
      p50: ms(histogram.getValueAtPercentile(50)),
      p90: ms(histogram.getValueAtPercentile(90)),
      p99: ms(histogram.getValueAtPercentile(99)),
      max: ms(histogram.maxValue),
      mean: ms(histogram.mean),
    },
    histogramUs: encodeIntoCompressedBase64(histogram),
    decisions,
    failures,
  };
  histogram.destroy();
  return result;
}
