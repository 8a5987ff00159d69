import type { NatsConnection } from "@credmesh/bus";
import { COORDINATION_BUCKETS, provedVersionKey, tokenDigest, type Cloud } from "@credmesh/bus-names";
import { Kvm, type KV } from "@nats-io/kv";

export const PROVED_VERSIONS_BUCKET = COORDINATION_BUCKETS.reconcileVersions;

/**
 * How long a proof stays in the bucket without being written again. A source still listed has its
 * proof written again once it is older than half of this, so only proofs of sources that are gone
 * (or out of scope) expire.
 */
export const PROVED_VERSIONS_TTL_MS = 14 * 24 * 3_600_000;

/** What a versions read proved: the version current at the listing's creation second. */
export interface Proof {
  /** The current version's creation, whole seconds since the epoch, as the listing shows it. */
  second: number;
  versionId: string;
}

/** A proof as the store keeps it, with when it was written (epoch ms). */
export interface StoredProof extends Proof {
  storedAt: number;
}

/**
 * Where proofs outlive the process: shared by the replicas of a destination. Misses and failures
 * only cost a versions read; a proof is never wrong once made (see known-versions.ts), so a stale
 * one is harmless.
 */
export interface ProvedVersionStore {
  get(source: string): Promise<StoredProof | undefined>;
  put(source: string, proof: Proof): Promise<void>;
  /** Proofs not written again within this long expire. */
  readonly ttlMs: number;
}

/** Key Vault version ids are 32 hex digits; anything else in the bucket is not ours and is ignored. */
const VERSION_ID = /^[0-9a-zA-Z]{1,64}$/;

/**
 * The proofs of one destination's reconcile runs in the JetStream KV bucket
 * `credmesh-reconcile-versions`, one key per source (`<destination>.<digest of the source>`),
 * value `{source, second, versionId}` — version metadata, never a value. The bucket's max age
 * expires what is not written again (sources deleted or out of scope).
 */
export class KvProvedVersions implements ProvedVersionStore {
  readonly ttlMs: number;
  readonly #kv: KV;
  readonly #destination: Cloud;

  private constructor(kv: KV, destination: Cloud, ttlMs: number) {
    this.#kv = kv;
    this.#destination = destination;
    this.ttlMs = ttlMs;
  }

  /** Creates the bucket if it does not exist yet (idempotent), and binds to it. */
  static async open(nc: NatsConnection, destination: Cloud, options: { replicas: number; ttlMs?: number }): Promise<KvProvedVersions> {
    const kv = await new Kvm(nc).create(PROVED_VERSIONS_BUCKET, {
      history: 1,
      ttl: options.ttlMs ?? PROVED_VERSIONS_TTL_MS,
      replicas: options.replicas,
      description: "credmesh: Key Vault source versions proved current by reconcile runs (no values)",
    });
    const ttlMs = (await kv.status()).ttl;
    return new KvProvedVersions(kv, destination, ttlMs > 0 ? ttlMs : (options.ttlMs ?? PROVED_VERSIONS_TTL_MS));
  }

  async get(source: string): Promise<StoredProof | undefined> {
    const entry = await this.#kv.get(this.#key(source));
    if (!entry || entry.operation !== "PUT") return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(entry.value));
    } catch {
      return undefined;
    }
    const record = parsed as Partial<Proof & { source: string }> | null;
    if (record?.source !== source || !Number.isSafeInteger(record.second) || typeof record.versionId !== "string" || !VERSION_ID.test(record.versionId)) {
      return undefined;
    }
    return { second: record.second as number, versionId: record.versionId, storedAt: entry.created.getTime() };
  }

  async put(source: string, proof: Proof): Promise<void> {
    await this.#kv.put(this.#key(source), JSON.stringify({ source, second: proof.second, versionId: proof.versionId }));
  }

  // KV keys allow a narrow alphabet; source names do not fit it, their digest does.
  #key(source: string): string {
    return provedVersionKey(this.#destination, tokenDigest(source));
  }
}
