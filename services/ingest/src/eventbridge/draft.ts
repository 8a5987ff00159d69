import type { MutationData, MutationKind, Trigger } from "@credmesh/events";
import { isArn, parseSecretArn, type SecretArn } from "@credmesh/identifiers";
import type { IgnoredOutcome, RejectedOutcome } from "./outcomes.ts";

/** Where a secret lives and what it is called: everything the scope check needs. */
export interface SecretLocation {
  readonly account: string;
  readonly region: string;
  /** The full ARN when the event carries one. */
  readonly arn?: string;
  readonly name: string;
}

/**
 * A mutation one input format wants to publish, before the scope check. Each reader
 * (CloudTrail, Secret Label Updated, input transformer) produces one, or decides earlier.
 */
export interface MutationDraft {
  /** The sender's event id; undefined lets buildMutationEvent make one. */
  readonly id?: string;
  readonly kind: MutationKind;
  readonly secret: SecretLocation;
  readonly versionId?: string;
  readonly deletion?: NonNullable<MutationData["deletion"]>;
  readonly trigger: Trigger;
}

export type DraftResult = { readonly outcome: "draft"; readonly draft: MutationDraft } | IgnoredOutcome | RejectedOutcome;

export function drafted(draft: MutationDraft): DraftResult {
  return { outcome: "draft", draft };
}

/** The first candidate that is a full secret ARN; candidates come in order of trust. */
export function firstSecretArn(candidates: readonly unknown[]): SecretArn | undefined {
  for (const candidate of candidates) {
    const parsed = typeof candidate === "string" ? parseSecretArn(candidate) : undefined;
    if (parsed) return parsed;
  }
  return undefined;
}

/** The first candidate that is a plain secret name (a non-empty string that is not ARN-like). */
export function firstPlainName(candidates: readonly unknown[]): string | undefined {
  for (const candidate of candidates) {
    if (typeof candidate === "string" && candidate !== "" && !isArn(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Locates the secret. A full ARN names the secret's home account and region, which wins over
 * the delivery's: a cross-account call is also recorded in the caller's account, but the secret
 * — and so the rule that covers it — belongs to the account in its ARN.
 */
export function locateSecret(
  delivery: { readonly account: string; readonly region: string },
  arn: SecretArn | undefined,
  name: string | undefined,
): SecretLocation | undefined {
  if (name === undefined) return undefined;
  return {
    account: arn?.account ?? delivery.account,
    region: arn?.region ?? delivery.region,
    ...(arn ? { arn: arn.arn } : {}),
    name,
  };
}
