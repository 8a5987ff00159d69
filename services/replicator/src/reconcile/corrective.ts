import { createHash } from "node:crypto";
import { buildMutationEvent, secretKeyOf, type MutationEvent, type Origin } from "@credmesh/events";
import type { Cloud } from "@credmesh/bus-names";
import type { OriginRef } from "@credmesh/replicas";

/**
 * Corrective mutations: ordinary mutation events with `trigger.source: "reconciler"`, on the same
 * partition subject as the cloud events of the same secret (the subject is the secret's origin
 * key), so per-secret ordering holds between them.
 */

/** Event ids are at most 256 characters; longer AWS names are replaced by a hash. */
const MAX_EVENT_ID = 256;

/**
 * The deterministic id of a corrective mutation, also its JetStream message id:
 * `reconcile:<destination>:<secret key>:<source version | deleted@<time> | gone>:<reason>`.
 * Two runs that find the same difference (concurrent replicas, a request right after a periodic
 * run) publish the same id, which JetStream stores once inside its duplicate window.
 */
export function correctiveEventId(destination: Cloud, origin: Origin, state: string, reason: string): string {
  const key = secretKeyOf(origin);
  const id = `reconcile:${destination}:${key}:${state}:${reason}`;
  if (id.length <= MAX_EVENT_ID) return id;
  const digest = createHash("sha256").update(key).digest("hex").slice(0, 40);
  return `reconcile:${destination}:sha256-${digest}:${state}:${reason}`.slice(0, MAX_EVENT_ID);
}

/** The origin of a mutation for a source secret, from its listed identity. */
export function originOf(ref: OriginRef, versionId?: string): Origin {
  if (ref.cloud === "aws") {
    return {
      cloud: "aws",
      account: ref.account,
      region: ref.region,
      secretId: ref.arn ?? ref.name,
      secretName: ref.name,
      ...(versionId ? { versionId } : {}),
    };
  }
  return { cloud: "azure", vaultName: ref.vault, secretName: ref.name, ...(versionId ? { versionId } : {}) };
}

export interface CorrectiveInput {
  destination: Cloud;
  kind: "sync" | "delete";
  rule: string;
  origin: Origin;
  /** `correctiveEventId`'s state part: the source version, `deleted@<unix>` or `gone`. */
  state: string;
  reason: string;
  /** Shared by every corrective mutation of one run, to follow a run through logs and audit. */
  correlationId: string;
  now: Date;
}

export function correctiveEvent(input: CorrectiveInput): MutationEvent {
  const id = correctiveEventId(input.destination, input.origin, input.state, input.reason);
  return buildMutationEvent({
    id,
    correlationId: input.correlationId,
    data: {
      kind: input.kind,
      rule: input.rule,
      destination: { cloud: input.destination },
      origin: input.origin,
      // The reconciler never infers a purge: a source that is merely gone from its listing is
      // treated as a recoverable deletion, so the replica stays recoverable whatever the rule's
      // force-delete policy.
      ...(input.kind === "delete" ? { deletion: { mode: "recoverable" as const } } : {}),
      trigger: { source: "reconciler", eventId: id, eventName: "Reconcile", eventTime: input.now.toISOString() },
    },
  });
}
