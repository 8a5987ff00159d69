/**
 * The cache's freshness rules as pure functions of an entry's age (time since a cloud last
 * confirmed the value current, measured from the START of that call, so a check that began
 * before a rotation never stretches the old value's life):
 *
 *   age < refreshAhead × ttl          fresh: served from the cache
 *   refreshAhead × ttl ≤ age < ttl    served from the cache; one version check runs in the background
 *   ttl ≤ age                         expired: the read waits for a version check; if every backend is
 *                                     unavailable, the old value is served while age < ttl + maxStaleness
 *
 * So a rotation is served at the latest `ttl` after it, and usually at `refreshAhead × ttl`
 * (the next read after the refresh point starts the check).
 */
export interface FreshnessSettings {
  ttlMs: number;
  /** Fraction of the TTL after which a read starts a background refresh (0 < r ≤ 1). */
  refreshAhead: number;
  /** How long past its TTL a value may still be served when every backend is unavailable. */
  maxStalenessMs: number;
}

export type Freshness = "fresh" | "refresh-ahead" | "expired";

export function freshness(confirmedAt: number, now: number, settings: FreshnessSettings): Freshness {
  const age = now - confirmedAt;
  if (age >= settings.ttlMs) return "expired";
  if (age >= settings.refreshAhead * settings.ttlMs) return "refresh-ahead";
  return "fresh";
}

/** Whether an expired value may still be served because every backend is unavailable. */
export function servableStale(confirmedAt: number, now: number, settings: FreshnessSettings): boolean {
  return now - confirmedAt < settings.ttlMs + settings.maxStalenessMs;
}
