import { CredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import type { KV } from "@nats-io/kv";

/**
 * A lease held as a JetStream KV entry: taken by create-if-absent, renewed (by revision) at a third
 * of the bucket's TTL while held, and released by deleting exactly our revision — a lease that
 * expired and was taken by someone else stays theirs. Shared by the reconcile lock and the
 * per-secret leases.
 *
 * **No two holders, whatever the bus does.** The server forgets the entry `ttl` after it stored
 * the last write, and a write is stored after it was sent; so the holder counts its lease valid
 * until `ttl` (less a safety margin for timers that fire late on a loaded machine) after it *sent*
 * its last successful create or renewal, and gives it up then — `lost` aborts — even while a
 * renewal is still waiting for an answer (a stream leader being elected, a frozen server). A
 * renewal's own wait is bounded by what is left of that validity. Another replica can create the
 * key only after the server removed it, i.e. after this holder stopped.
 */
export interface KvLease {
  /**
   * Aborted when the lease could not be renewed in time: someone else may hold it soon. Its reason
   * is a retryable `operation_in_progress` CredmeshError, so work aborted by it is handed back to
   * the bus.
   */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/** The holder's timing for a bucket TTL: renew every third, count it valid until TTL minus a margin. */
export function leaseTiming(ttlMs: number): { renewEveryMs: number; marginMs: number } {
  return { renewEveryMs: Math.max(250, Math.floor(ttlMs / 3)), marginMs: Math.max(250, Math.floor(ttlMs / 5)) };
}

/** Takes the lease, or resolves undefined when the key is already held; other failures throw. */
export async function takeKvLease(kv: KV, key: string, value: Uint8Array, ttlMs: number, logger: Logger, what: string): Promise<KvLease | undefined> {
  const { renewEveryMs, marginMs } = leaseTiming(ttlMs);
  let sentAt = Date.now();
  let revision: number;
  try {
    revision = await kv.create(key, value);
  } catch (error) {
    const current = await kv.get(key);
    if (current?.operation === "PUT") return undefined;
    throw error;
  }
  const lost = new AbortController();
  const retryAfterMs = Math.min(5_000, Math.ceil(ttlMs / 6));
  let renewTimer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearTimeout(renewTimer);
    clearTimeout(expiryTimer);
  };
  const lose = (message: string, cause?: unknown): void => {
    if (lost.signal.aborted) return;
    stop();
    logger.warn({ err: cause, key }, `${what} ${message}`);
    lost.abort(new CredmeshError("operation_in_progress", `${what} lost: another holder may have it`, { cause, retryAfterMs }));
  };
  const validUntil = (): number => sentAt + ttlMs - marginMs;
  const armExpiry = (): void => {
    clearTimeout(expiryTimer);
    expiryTimer = setTimeout(() => lose("expired before it could be renewed"), Math.max(0, validUntil() - Date.now()));
    expiryTimer.unref();
  };
  const renew = (): void => {
    const attemptSentAt = Date.now();
    const timeout = validUntil() - attemptSentAt;
    if (timeout <= 0) return lose("expired before it could be renewed");
    kv.update(key, value, revision, timeout).then(
      (next) => {
        if (lost.signal.aborted) return;
        revision = next;
        sentAt = attemptSentAt;
        armExpiry();
        renewTimer = setTimeout(renew, renewEveryMs);
        renewTimer.unref();
      },
      (error: unknown) => lose("could not be renewed", error),
    );
  };
  armExpiry();
  if (Date.now() >= validUntil()) {
    lose("expired before it was confirmed");
  } else {
    renewTimer = setTimeout(renew, renewEveryMs);
    renewTimer.unref();
  }
  return {
    lost: lost.signal,
    release: async () => {
      stop();
      if (lost.signal.aborted) return;
      await kv.delete(key, { previousSeq: revision }).catch((error: unknown) => {
        logger.warn({ err: error }, `${what} not released; it expires on its own`);
      });
    },
  };
}
