import type { NatsConnection } from "@credmesh/bus";
import type { Logger } from "@credmesh/logging";
import { COORDINATION_BUCKETS, destinationKey, type Cloud } from "@credmesh/bus-names";
import { Kvm, type KV } from "@nats-io/kv";
import { takeKvLease } from "../kv-lease.ts";

/**
 * Coordination of reconcile runs between the replicas of a destination, in two JetStream KV
 * buckets (no extra infrastructure: the bus is already there):
 *
 * - `credmesh-reconcile-lock`: at most one run per destination at a time. A run creates the key
 *   `<destination>` (create fails while it exists) and renews it every third of the bucket's TTL;
 *   a replica that dies stops renewing and its lock expires with the bucket's max age.
 * - `credmesh-reconcile-runs`: when the last run of each destination finished, so the periodic
 *   schedule runs once per interval across all replicas, not once per replica. Keeps a short
 *   history (`nats kv history credmesh-reconcile-runs azure`).
 */
export const RECONCILE_LOCK_BUCKET = COORDINATION_BUCKETS.reconcileLock;
export const RECONCILE_RUNS_BUCKET = COORDINATION_BUCKETS.reconcileRuns;
/** Lock lifetime without renewal: the lock bucket's max age, set by the first replica to create it. */
export const LOCK_TTL_MS = 30_000;

export interface LockHolder {
  cell: string;
  runId: string;
  since: string;
}

/** What the runs bucket keeps per destination: the last finished run (or the schedule's baseline). */
export interface RunRecord {
  kind: "run" | "baseline";
  at: string;
  cell: string;
  runId?: string;
  trigger?: string;
  counts?: Record<string, number>;
}

export interface Lease {
  /** Aborted when the lock could not be renewed: another replica may hold it now. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export type Acquired = { lease: Lease } | { heldBy: LockHolder | undefined };

/** The coordination a reconcile service needs; a KV implementation below, fakes in tests. */
export interface RunCoordinator {
  acquire(holder: LockHolder): Promise<Acquired>;
  lastRun(): Promise<RunRecord | undefined>;
  recordRun(record: RunRecord): Promise<void>;
  /** Records `record` only if nothing was ever recorded, so a new deployment waits one interval. */
  baseline(record: RunRecord): Promise<void>;
}

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

function decode<T>(entry: { operation: string; value: Uint8Array } | null): T | undefined {
  if (!entry || entry.operation !== "PUT") return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(entry.value)) as T;
  } catch {
    return undefined;
  }
}

export class KvRunCoordinator implements RunCoordinator {
  readonly #locks: KV;
  readonly #runs: KV;
  readonly #key: string;
  readonly #logger: Logger;
  readonly #ttlMs: number;

  private constructor(locks: KV, runs: KV, destination: Cloud, logger: Logger, ttlMs: number) {
    this.#locks = locks;
    this.#runs = runs;
    this.#key = destinationKey(destination);
    this.#logger = logger;
    this.#ttlMs = ttlMs;
  }

  /**
   * Creates the buckets if they do not exist yet (idempotent), and binds to them. `lockTtlMs` is
   * the lock bucket's max age when this call creates it; an existing bucket keeps its own, and
   * renewals follow the bucket's actual TTL.
   */
  static async open(nc: NatsConnection, destination: Cloud, options: { replicas: number; logger: Logger; lockTtlMs?: number }): Promise<KvRunCoordinator> {
    const kvm = new Kvm(nc);
    const locks = await kvm.create(RECONCILE_LOCK_BUCKET, {
      history: 1,
      ttl: options.lockTtlMs ?? LOCK_TTL_MS,
      replicas: options.replicas,
      description: "credmesh: one reconcile run per destination at a time",
    });
    const runs = await kvm.create(RECONCILE_RUNS_BUCKET, {
      history: 10,
      replicas: options.replicas,
      description: "credmesh: the last reconcile runs per destination",
    });
    const ttlMs = (await locks.status()).ttl;
    return new KvRunCoordinator(locks, runs, destination, options.logger, ttlMs > 0 ? ttlMs : LOCK_TTL_MS);
  }

  async acquire(holder: LockHolder): Promise<Acquired> {
    const lease = await takeKvLease(this.#locks, this.#key, encode(holder), this.#ttlMs, this.#logger, "reconcile lock");
    if (lease) return { lease };
    return { heldBy: decode<LockHolder>(await this.#locks.get(this.#key)) };
  }

  async lastRun(): Promise<RunRecord | undefined> {
    return decode<RunRecord>(await this.#runs.get(this.#key));
  }

  async recordRun(record: RunRecord): Promise<void> {
    await this.#runs.put(this.#key, encode(record));
  }

  async baseline(record: RunRecord): Promise<void> {
    try {
      await this.#runs.create(this.#key, encode(record));
    } catch {
      // A run or a baseline is already recorded: keep it.
    }
  }
}
