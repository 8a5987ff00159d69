import type { ErrorRecord, ReasonCode } from "@credmesh/errors";
import type { Sensitive } from "@credmesh/logging";
import type { ReadSource } from "@credmesh/metrics";

export type BackendRole = "primary" | "fallback";

/** The store that served a value. */
export interface ServedBy {
  role: BackendRole;
  cloud: "aws" | "azure";
  /** `aws/<account>/<region>` or the vault URL. */
  location: string;
  /** The secret's name in that store. */
  name: string;
}

/** Where the value came from originally, from the replica's provenance tags when it is a replica. */
export interface OriginReport {
  cloud: "aws" | "azure";
  /** The secret's name at its origin (the logical name). */
  name: string;
  /** The origin's version id the served value is a copy of (the served version itself at the origin). */
  version: string | undefined;
  /** When the origin created that version (`credmesh-origin-created`), for a replica. */
  versionCreatedAt?: Date | undefined;
  /** When credmesh wrote the replica (`credmesh-replicated-at`). */
  replicatedAt?: Date | undefined;
  /** True when the served store is not the origin. */
  replica: boolean;
}

/**
 * One read through the failover client: the value (blanked in every printed form) and where it
 * came from. Safe to log as a whole: `JSON.stringify(read)` shows `"value":"[REDACTED]"`.
 */
export interface SecretRead {
  /** The logical name that was asked for. */
  name: string;
  value: Sensitive<string>;
  /** "base64" when the value is base64 of binary data. */
  encoding: "utf8" | "base64";
  /** The version id in the store that served it. */
  versionId: string;
  servedBy: ServedBy;
  /** cache: held and fresh enough; cloud: read now; stale: held past its TTL because every backend failed. */
  source: ReadSource;
  /** Milliseconds since the start of the cloud call that last confirmed this version current. */
  ageMs: number;
  origin: OriginReport;
  /** Set when the fallback served because the primary was unavailable: the primary's failure. */
  failover?: { reason: ReasonCode; code?: string | undefined } | undefined;
  /** Set on a stale read: why no backend could confirm the value. */
  staleBecause?: ErrorRecord | undefined;
}
