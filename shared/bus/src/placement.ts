import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { busReachable } from "./connection.ts";

/** The stream behind a JetStream KV bucket. */
export function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

/** What JetStream says about one stream the service uses. */
export type StreamFinding =
  | { stream: string; state: "ok"; configured: number; placed: number }
  | { stream: string; state: "missing" }
  /** Configured with another replica count, or fewer peers placed than configured. */
  | { stream: string; state: "mismatch"; configured: number; placed: number | undefined }
  /** No answer now (an election, a reconnect): nothing is concluded from it. */
  | { stream: string; state: "unknown" };

/**
 * A stream's finding from its info. `placed` counts the peers of its raft group (the leader and
 * the replicas, online or not); while it has no leader (an election) only the configuration is
 * compared, since the group's membership is not reported then.
 */
export function judgeStream(info: Pick<StreamInfo, "config" | "cluster">, expected: number): StreamFinding {
  const stream = info.config.name;
  const configured = info.config.num_replicas;
  const placed = info.cluster?.leader ? 1 + (info.cluster.replicas?.length ?? 0) : undefined;
  if (configured !== expected || (placed !== undefined && placed !== configured)) return { stream, state: "mismatch", configured, placed };
  return { stream, state: "ok", configured, placed: placed ?? configured };
}

function describe(finding: StreamFinding, expected: number): string {
  switch (finding.state) {
    case "missing":
      return `${finding.stream} does not exist`;
    case "mismatch":
      return `${finding.stream} has ${finding.configured} replica(s)${finding.placed !== undefined && finding.placed !== finding.configured ? ` (${finding.placed} placed)` : ""}, CREDMESH_STREAM_REPLICAS is ${expected}`;
    case "ok":
    case "unknown":
      return `${finding.stream} ok`;
  }
}

/**
 * The streams and KV buckets a service uses, checked against `CREDMESH_STREAM_REPLICAS`: at boot
 * and on every readiness probe. A stream (or bucket) with another replica count than configured —
 * an R1 stream left from a single-node install now on a cluster, a bucket created by an older
 * release — is never silently used: it is logged (once per change), counted in
 * `credmesh_bus_stream_replicas_mismatch{stream}`, and `/readyz` answers 503 naming it. credmesh
 * does not change the replica count of an existing stream itself (scaling a live stream is an
 * operator's decision: `nats stream edit <stream> --replicas N`).
 *
 * A stream that does not answer (its leader being elected) is neither missing nor wrong: it keeps
 * its last finding, so an election does not take every replica out of its load balancer.
 */
export class StreamPlacement {
  readonly #nc: NatsConnection;
  readonly #expected: number;
  readonly #streams: string[];
  readonly #logger: Logger;
  readonly #metrics: Pick<Metrics, "busStreamReplicas" | "busStreamReplicasMismatch"> | undefined;
  readonly #last = new Map<string, StreamFinding>();

  constructor(nc: NatsConnection, options: { replicas: number; streams: readonly string[]; logger: Logger; metrics?: Pick<Metrics, "busStreamReplicas" | "busStreamReplicasMismatch"> }) {
    this.#nc = nc;
    this.#expected = options.replicas;
    this.#streams = [...options.streams];
    this.#logger = options.logger;
    this.#metrics = options.metrics;
  }

  /** Adds streams to check (a KV bucket's: {@link kvStreamName}). */
  track(...streams: string[]): this {
    for (const stream of streams) if (!this.#streams.includes(stream)) this.#streams.push(stream);
    return this;
  }

  /** Reads every stream's info once and records what it found. */
  async check(timeoutMs = 2_000): Promise<StreamFinding[]> {
    const jsm = await jetstreamManager(this.#nc, { timeout: timeoutMs });
    const findings = await Promise.all(
      this.#streams.map(async (stream): Promise<StreamFinding> => {
        try {
          return judgeStream(await jsm.streams.info(stream), this.#expected);
        } catch (error) {
          if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return { stream, state: "missing" };
          return { stream, state: "unknown" };
        }
      }),
    );
    for (const finding of findings) this.#record(finding);
    return findings;
  }

  /** The readiness check: every stream present with the configured replicas (as last known). */
  async readiness(): Promise<{ ok: boolean; detail?: string }> {
    if (!(await busReachable(this.#nc))) return { ok: false, detail: "the bus does not answer" };
    await this.check(1_000);
    const problems = this.#streams
      .map((stream) => this.#last.get(stream))
      .filter((finding): finding is StreamFinding => finding !== undefined && (finding.state === "missing" || finding.state === "mismatch"));
    if (problems.length === 0) return { ok: true };
    return { ok: false, detail: problems.map((finding) => describe(finding, this.#expected)).join("; ") };
  }

  #record(finding: StreamFinding): void {
    if (finding.state === "unknown") return;
    const before = this.#last.get(finding.stream);
    this.#last.set(finding.stream, finding);
    if (finding.state !== "missing") {
      this.#metrics?.busStreamReplicas.set({ stream: finding.stream, state: "configured" }, finding.configured);
      if (finding.placed !== undefined) this.#metrics?.busStreamReplicas.set({ stream: finding.stream, state: "placed" }, finding.placed);
    }
    this.#metrics?.busStreamReplicasMismatch.set({ stream: finding.stream }, finding.state === "ok" ? 0 : 1);
    if (before?.state === finding.state && (finding.state !== "mismatch" || (before.state === "mismatch" && before.configured === finding.configured && before.placed === finding.placed))) return;
    if (finding.state === "ok") {
      if (before !== undefined) this.#logger.info({ stream: finding.stream, replicas: finding.configured }, "stream replicas as configured again");
      return;
    }
    this.#logger.error(
      { stream: finding.stream, expected: this.#expected, ...(finding.state === "mismatch" ? { configured: finding.configured, placed: finding.placed } : {}) },
      `stream not as configured: ${describe(finding, this.#expected)}; not ready until it is fixed (nats stream edit ${finding.stream} --replicas ${this.#expected})`,
    );
  }
}
