import type { MutationKind } from "@credmesh/events";
import type { IgnoreReason } from "./outcomes.ts";

/**
 * What each Secrets Manager event name means for replication, before its parameters are read.
 * CloudTrail records and input-transformer bodies share this table, so one event name never gets
 * two meanings. Parameter-dependent refinements (PutSecretValue's versionStages,
 * UpdateSecretVersionStage's label, DeleteSecret's recovery window) live with each input format.
 * @see ../../../../../shared/FORMATS.md sections A.3 and A.4
 */
export type NameDecision = { readonly publish: Exclude<MutationKind, "sync"> } | { readonly ignore: IgnoreReason };

export const EVENT_NAME_DECISIONS = {
  CreateSecret: { publish: "upsert" },
  PutSecretValue: { publish: "upsert" },
  // CloudTrail cannot tell whether UpdateSecret carried a new value; the replicator dedupes by version.
  UpdateSecret: { publish: "upsert" },
  // Only when AWSCURRENT moves; the CloudTrail and transformer readers refine this.
  UpdateSecretVersionStage: { publish: "upsert" },
  RotationSucceeded: { publish: "upsert" },
  DeleteSecret: { publish: "delete" },
  RestoreSecret: { publish: "restore" },
  RotateSecret: { ignore: "rotation_started" },
  RotationStarted: { ignore: "rotation_started" },
  RotationFailed: { ignore: "rotation_failed" },
  RotationAbandoned: { ignore: "rotation_abandoned" },
  TagResource: { ignore: "metadata_only" },
  UntagResource: { ignore: "metadata_only" },
  CancelRotateSecret: { ignore: "metadata_only" },
  PutResourcePolicy: { ignore: "metadata_only" },
  DeleteResourcePolicy: { ignore: "metadata_only" },
  ReplicateSecretToRegions: { ignore: "aws_native_replication" },
  RemoveRegionsFromReplication: { ignore: "aws_native_replication" },
  StopReplicationToReplica: { ignore: "aws_native_replication" },
} as const satisfies Record<string, NameDecision>;

type KnownEventName = keyof typeof EVENT_NAME_DECISIONS;

const UNSUPPORTED: NameDecision = { ignore: "unsupported_event_name" };

/** The decision for an event name; names not in the table are ignored as unsupported. */
export function decisionForEventName(eventName: string): NameDecision {
  return Object.hasOwn(EVENT_NAME_DECISIONS, eventName)
    ? EVENT_NAME_DECISIONS[eventName as KnownEventName]
    : UNSUPPORTED;
}
