import type { LifecycleData } from "@credmesh/events";
import type { IgnoreReason } from "./outcomes.ts";

/**
 * What each Event Grid event type means for credmesh, before its data is read. Key Vault
 * publishes exactly ten types (FORMATS.md C); a new secret version is a mutation to replicate,
 * everything else the identity-watcher wants as a lifecycle event. Key Vault has no delete,
 * recover or tag event: those changes are found by anti-entropy.
 * @see ../../../../../shared/FORMATS.md section C
 */
export type EventTypeDecision =
  | { readonly mutation: "upsert"; readonly objectType: "secret" }
  | { readonly lifecycle: LifecycleData["kind"]; readonly objectType: LifecycleData["objectType"] }
  | { readonly ignore: IgnoreReason };

export const SUBSCRIPTION_VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent";

const EVENT_TYPE_DECISIONS = {
  "Microsoft.KeyVault.SecretNewVersionCreated": { mutation: "upsert", objectType: "secret" },
  "Microsoft.KeyVault.SecretNearExpiry": { lifecycle: "near_expiry", objectType: "secret" },
  "Microsoft.KeyVault.SecretExpired": { lifecycle: "expired", objectType: "secret" },
  "Microsoft.KeyVault.KeyNewVersionCreated": { lifecycle: "new_version", objectType: "key" },
  "Microsoft.KeyVault.KeyNearExpiry": { lifecycle: "near_expiry", objectType: "key" },
  "Microsoft.KeyVault.KeyExpired": { lifecycle: "expired", objectType: "key" },
  "Microsoft.KeyVault.CertificateNewVersionCreated": { lifecycle: "new_version", objectType: "certificate" },
  "Microsoft.KeyVault.CertificateNearExpiry": { lifecycle: "near_expiry", objectType: "certificate" },
  "Microsoft.KeyVault.CertificateExpired": { lifecycle: "expired", objectType: "certificate" },
  "Microsoft.KeyVault.VaultAccessPolicyChanged": { lifecycle: "access_policy_changed", objectType: "vault" },
  // Sent to the endpoint when its subscription is deleted; not a vault change.
  "Microsoft.EventGrid.SubscriptionDeletedEvent": { ignore: "subscription_deleted" },
} as const satisfies Record<string, EventTypeDecision>;

type KnownEventType = keyof typeof EVENT_TYPE_DECISIONS;

const UNSUPPORTED: EventTypeDecision = { ignore: "unsupported_event_type" };

/** The decision for an event type (compared exactly, as Event Grid spells it); others are ignored. */
export function decisionForEventType(eventType: string): EventTypeDecision {
  return Object.hasOwn(EVENT_TYPE_DECISIONS, eventType) ? EVENT_TYPE_DECISIONS[eventType as KnownEventType] : UNSUPPORTED;
}
