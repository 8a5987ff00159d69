import { hash, timingSafeEqual } from "node:crypto";
import type { Sensitive } from "@credmesh/logging";

/**
 * Constant-time membership test of a presented credential in a set of accepted ones. Both sides
 * are hashed first so lengths never leak, and every candidate is compared (no early exit), so
 * the time taken does not tell which key, or how much of one, matched.
 */
export class SharedSecretSet {
  readonly #digests: readonly Buffer[];

  constructor(secrets: readonly Sensitive<string>[]) {
    this.#digests = secrets.map((secret) => digest(secret.reveal()));
  }

  get size(): number {
    return this.#digests.length;
  }

  matches(presented: string | undefined): boolean {
    if (presented === undefined || this.#digests.length === 0) return false;
    const candidate = digest(presented);
    let matched = false;
    for (const accepted of this.#digests) matched = timingSafeEqual(candidate, accepted) || matched;
    return matched;
  }
}

/** One-shot SHA-256 (no Hash object per call: this runs on every delivery). */
function digest(value: string): Buffer {
  return hash("sha256", value, "buffer");
}
