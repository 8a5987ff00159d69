import type { NatsConnection } from "@credmesh/bus";
import { CredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { COORDINATION_BUCKETS, secretLeaseKey, tokenDigest, type Cloud } from "@credmesh/bus-names";
import { Kvm, type KV } from "@nats-io/kv";
import { takeKvLease } from "./kv-lease.ts";

/**
 * Per-secret leases: the guarantee that one secret is never processed by two replicas at once.
 *
 * Partition pinning already routes a secret to one replica, but a pin can move while the old
 * holder is still working (a pause longer than the pin timeout, a redelivery racing a slow
 * replica), so pinning alone is not exclusive. Before touching a secret a replica creates its
 * lease in a JetStream KV bucket (create fails if it exists), renews it while it works, and deletes
 * exactly its own revision afterwards. A replica that dies leaves a lease that expires after the
 * bucket's TTL; until then the message is handed back with a short delay.
 */
export const SECRET_LEASE_BUCKET = COORDINATION_BUCKETS.secretLeases;

export interface SecretLease {
  /** Aborted when the lease could not be renewed: stop before the next cloud call. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface SecretLeases {
  /** Takes the lease of a secret, or throws a retryable error if another replica holds it. */
  acquire(secretKey: string): Promise<SecretLease>;
}

export class KvSecretLeases implements SecretLeases {
  readonly #kv: KV;
  readonly #destination: Cloud;
  readonly #cell: string;
  readonly #ttlMs: number;
  readonly #logger: Logger;

  private constructor(kv: KV, destination: Cloud, cell: string, ttlMs: number, logger: Logger) {
    this.#kv = kv;
    this.#destination = destination;
    this.#cell = cell;
    this.#ttlMs = ttlMs;
    this.#logger = logger;
  }

  static async open(nc: NatsConnection, options: { destination: Cloud; cell: string; ttlMs: number; replicas: number; logger: Logger }): Promise<KvSecretLeases> {
    const kv = await new Kvm(nc).create(SECRET_LEASE_BUCKET, {
      history: 1,
      ttl: options.ttlMs,
      replicas: options.replicas,
      description: "credmesh: one replica at a time per secret",
    });
    const ttl = (await kv.status()).ttl;
    return new KvSecretLeases(kv, options.destination, options.cell, ttl > 0 ? ttl : options.ttlMs, options.logger);
  }

  async acquire(secretKey: string): Promise<SecretLease> {
    // KV keys allow a narrow alphabet; secret names do not fit it, their digest does.
    const key = secretLeaseKey(this.#destination, tokenDigest(secretKey));
    const value = new TextEncoder().encode(JSON.stringify({ cell: this.#cell, since: new Date().toISOString() }));
    let lease: SecretLease | undefined;
    try {
      lease = await takeKvLease(this.#kv, key, value, this.#ttlMs, this.#logger, "secret lease");
    } catch (error) {
      throw new CredmeshError("bus_unavailable", "the secret lease could not be taken", { cause: error });
    }
    if (!lease) {
      throw new CredmeshError("operation_in_progress", "another replica is replicating this secret", {
        retryAfterMs: Math.min(5_000, Math.ceil(this.#ttlMs / 6)),
      });
    }
    return lease;
  }
}
