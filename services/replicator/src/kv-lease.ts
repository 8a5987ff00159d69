import { CredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import type { KV } from "@nats-io/kv";

/**
 * A lease held as a JetStream KV entry: taken by create-if-absent, renewed (by revision) at a third
 * of the bucket's TTL while held, and released by deleting exactly our revision — a lease that
 * expired and was taken by someone else stays theirs. Shared by the reconcile lock and the
 * per-secret leases.
 */
export interface KvLease {
  /**
   * Aborted when a renewal failed: someone else may hold the lease now. Its reason is a retryable
   * `operation_in_progress` CredmeshError, so work aborted by it is handed back to the bus.
   */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/** Takes the lease, or resolves undefined when the key is already held; other failures throw. */
export async function takeKvLease(kv: KV, key: string, value: Uint8Array, ttlMs: number, logger: Logger, what: string): Promise<KvLease | undefined> {
  let revision: number;
  try {
    revision = await kv.create(key, value);
  } catch (error) {
    const current = await kv.get(key);
    if (current?.operation === "PUT") return undefined;
    throw error;
  }
  const lost = new AbortController();
  const renew = setInterval(() => {
    kv.update(key, value, revision).then(
      (next) => {
        revision = next;
      },
      (error: unknown) => {
        clearInterval(renew);
        logger.warn({ err: error }, `${what} could not be renewed`);
        lost.abort(new CredmeshError("operation_in_progress", `${what} lost: another holder may have it`, { cause: error, retryAfterMs: Math.min(5_000, Math.ceil(ttlMs / 6)) }));
      },
    );
  }, Math.max(1_000, Math.floor(ttlMs / 3)));
  renew.unref();
  return {
    lost: lost.signal,
    release: async () => {
      clearInterval(renew);
      if (lost.signal.aborted) return;
      await kv.delete(key, { previousSeq: revision }).catch((error: unknown) => {
        logger.warn({ err: error }, `${what} not released; it expires on its own`);
      });
    },
  };
}
