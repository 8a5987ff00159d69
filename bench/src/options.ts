import { parseArgs } from "node:util";

/** What one bench run does; every loop in the bench is bounded by these numbers. */
export interface BenchOptions {
  /** Seconds of measurement per target. */
  durationSeconds: number;
  /** Concurrent HTTP connections (autocannon keeps one request in flight on each). */
  connections: number;
  /** Seconds of unmeasured load per target first (JIT, connection pools, stream file). */
  warmupSeconds: number;
  /** Concurrent deliveries of one event in the duplicates check. */
  duplicates: number;
}

const LIMITS = {
  duration: { env: "BENCH_DURATION", default: 10, min: 1, max: 300 },
  connections: { env: "BENCH_CONNECTIONS", default: 32, min: 1, max: 1_024 },
  warmup: { env: "BENCH_WARMUP", default: 3, min: 0, max: 60 },
  duplicates: { env: "BENCH_DUPLICATES", default: 100, min: 2, max: 1_000 },
} as const;

type Name = keyof typeof LIMITS;

/**
 * Reads `--duration 10 --connections 32 --warmup 3 --duplicates 100`, falling back to
 * BENCH_DURATION / BENCH_CONNECTIONS / BENCH_WARMUP / BENCH_DUPLICATES, then to the defaults.
 * A bad value stops the run before any process starts, naming the setting.
 */
export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      duration: { type: "string" },
      connections: { type: "string" },
      warmup: { type: "string" },
      duplicates: { type: "string" },
    },
  });
  const read = (name: Name): number => {
    const limit = LIMITS[name];
    const raw = values[name] ?? env[limit.env];
    if (raw === undefined || raw === "") return limit.default;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < limit.min || value > limit.max) {
      throw new RangeError(`--${name} / ${limit.env} must be a whole number from ${limit.min} to ${limit.max}, got "${raw}"`);
    }
    return value;
  };
  return { durationSeconds: read("duration"), connections: read("connections"), warmupSeconds: read("warmup"), duplicates: read("duplicates") };
}
