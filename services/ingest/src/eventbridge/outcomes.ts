import type { AwsSecretRef, ScopeDecision } from "@credmesh/config";
import type { MutationEvent } from "@credmesh/events";

/**
 * Why an EventBridge delivery was deliberately not replicated. The HTTP layer answers 200 (the
 * sender must not retry) and counts the reason, so an operator sees what was dropped and why.
 * @see ../../../../../shared/SPEC.md section 2 (ingest)
 */
export const IGNORE_REASONS = {
  failed_call: "the API call failed (errorCode is set), so nothing changed in the vault",
  read_only_call: "a read-only call (Get/List/Describe) changes nothing",
  rotation_started: "rotation only began; the new version arrives with RotationSucceeded",
  rotation_failed: "rotation failed; AWSCURRENT still points at the version already replicated",
  rotation_abandoned: "rotation was abandoned; AWSCURRENT did not move",
  metadata_only: "tags, policies or rotation settings changed, not the value",
  aws_native_replication: "Secrets Manager's own cross-region replication, not ours to copy",
  version_not_current: "a value was staged without AWSCURRENT; a later event makes it current",
  label_not_current: "a staging label other than AWSCURRENT moved; the current value is unchanged",
  unsupported_event_name: "a Secrets Manager event name credmesh does not act on",
} as const satisfies Record<string, string>;

export type IgnoreReason = keyof typeof IGNORE_REASONS;

/**
 * Why a delivery was refused. Each issue names a field path and never repeats a value from the
 * body. Every reason is permanent: retrying the same body cannot help, so neither status below is
 * one that EventBridge retries (FORMATS.md B).
 */
export const REJECT_REASONS = {
  malformed_body: "the body is not a JSON object",
  unrecognized_body: "a JSON object that is neither an EventBridge event nor an input-transformer body",
  invalid_envelope: "an EventBridge envelope field is missing or malformed",
  unsupported_envelope_version: "the envelope version is not \"0\"",
  unsupported_source: "the event does not come from Secrets Manager (source / detail.eventSource)",
  unsupported_detail_type: "a detail-type other than the two CloudTrail ones and Secret Label Updated",
  invalid_detail: "a field of the CloudTrail record or native detail is missing or malformed",
  unsupported_cloudtrail_version: "the CloudTrail eventVersion has a major version other than 1",
  invalid_transformer_body: "an input-transformer field has the wrong type or format",
  unresolvable_secret: "no secret ARN or name can be found in an event that would be replicated",
  schema_violation: "the mutation built from the body breaks the event schema (e.g. a name too long)",
} as const satisfies Record<string, string>;

export type RejectReason = keyof typeof REJECT_REASONS;

/** 400: the body is broken; 422: well-formed, but nothing credmesh can act on. */
export type RejectStatus = 400 | 422;

/** The HTTP status for each {@link RejectReason}; the HTTP layer maps with this table only. */
export const REJECT_STATUS = {
  malformed_body: 400,
  unrecognized_body: 400,
  invalid_envelope: 400,
  unsupported_envelope_version: 422,
  unsupported_source: 422,
  unsupported_detail_type: 422,
  invalid_detail: 400,
  unsupported_cloudtrail_version: 422,
  invalid_transformer_body: 400,
  unresolvable_secret: 422,
  schema_violation: 422,
} as const satisfies Record<RejectReason, RejectStatus>;

/** Why a well-formed event is not covered by any replication rule (answered with 422). */
type OutOfScopeReason = Extract<ScopeDecision, { inScope: false }>["reason"];

interface MutationOutcome {
  readonly outcome: "mutation";
  /** Validated and frozen; publish it with its id as the JetStream message id. */
  readonly event: MutationEvent;
}

export interface IgnoredOutcome {
  readonly outcome: "ignored";
  readonly reason: IgnoreReason;
}

interface OutOfScopeOutcome {
  readonly outcome: "out_of_scope";
  readonly reason: OutOfScopeReason;
  /** Which secret no rule covers (identifiers only), for the operator's log line. */
  readonly secret: Readonly<AwsSecretRef>;
}

export interface RejectedOutcome {
  readonly outcome: "rejected";
  readonly reason: RejectReason;
  /** Field paths and what was expected of them; never a value from the body. */
  readonly issues: readonly string[];
}

/** The result of `normalizeEventBridge`: exactly one decision per delivery. */
export type Normalized = MutationOutcome | IgnoredOutcome | OutOfScopeOutcome | RejectedOutcome;

export function ignored(reason: IgnoreReason): IgnoredOutcome {
  return { outcome: "ignored", reason };
}

export function rejected(reason: RejectReason, issues: readonly string[]): RejectedOutcome {
  return { outcome: "rejected", reason, issues };
}
