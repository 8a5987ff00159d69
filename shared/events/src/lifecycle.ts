import { CORRELATION_ID, KEY_VAULT_OBJECT_NAME, KEY_VAULT_VERSION, VAULT_NAME } from "@credmesh/identifiers";
import { z } from "zod";
import { decoded, validated } from "./wire.ts";

/**
 * Canonical lifecycle event: something happened to a Key Vault object that is not a secret value
 * change to replicate — a key or certificate version, an approaching or passed expiry, an access
 * policy change. The identity-watcher consumes them. Identifiers and dates only, never a value.
 * @see ../../../shared/SPEC.md section 2 (identity-watcher) and ../../../shared/FORMATS.md section C
 */
export const LIFECYCLE_EVENT_TYPE = "io.credmesh.lifecycle.v1";

export const LIFECYCLE_KINDS = ["new_version", "near_expiry", "expired", "access_policy_changed"] as const;
export const LIFECYCLE_OBJECTS = ["secret", "key", "certificate", "vault"] as const;

export const lifecycleDataSchema = z.strictObject({
  kind: z.enum(LIFECYCLE_KINDS),
  objectType: z.enum(LIFECYCLE_OBJECTS),
  vaultName: z.string().regex(VAULT_NAME, "not a Key Vault name"),
  objectName: z.string().regex(KEY_VAULT_OBJECT_NAME, "not a Key Vault object name").optional(),
  version: z.string().regex(KEY_VAULT_VERSION, "not a Key Vault version (32 lowercase hex digits)").optional(),
  notBefore: z.iso.datetime({ offset: true }).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  trigger: z.strictObject({
    source: z.literal("azure.eventgrid"),
    eventId: z.string().min(1).max(256),
    /** The Event Grid event type, e.g. Microsoft.KeyVault.CertificateNearExpiry. */
    eventName: z.string().min(1).max(128),
    eventTime: z.iso.datetime({ offset: true }),
  }),
});

export const lifecycleEventSchema = z.strictObject({
  specversion: z.literal("1.0"),
  id: z.string().min(1).max(256),
  source: z.string().min(1).max(512),
  type: z.literal(LIFECYCLE_EVENT_TYPE),
  subject: z.string().min(1).max(1024),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal("application/json"),
  correlationid: z.string().regex(CORRELATION_ID),
  data: lifecycleDataSchema,
});

export type LifecycleData = z.infer<typeof lifecycleDataSchema>;
export type LifecycleEvent = Readonly<z.infer<typeof lifecycleEventSchema>>;

/** Builds, validates and freezes a lifecycle event; the id is the Event Grid event id. */
export function buildLifecycleEvent(data: LifecycleData): LifecycleEvent {
  const id = data.trigger.eventId;
  const vault = data.vaultName.toLowerCase();
  const candidate = {
    specversion: "1.0" as const,
    id,
    source: `credmesh/ingest/azure/${vault}`,
    type: LIFECYCLE_EVENT_TYPE,
    subject: `azure/${vault}/${data.objectType}${data.objectName ? `/${data.objectName.toLowerCase()}` : ""}`,
    time: data.trigger.eventTime,
    datacontenttype: "application/json" as const,
    correlationid: id.replace(/[^A-Za-z0-9._:-]/g, "-").slice(0, 128),
    data,
  };
  return validated(lifecycleEventSchema, candidate, "lifecycle event");
}

/** Parses and validates bytes from the bus. Throws {@link InvalidEventError}. */
export function decodeLifecycleEvent(bytes: Uint8Array): LifecycleEvent {
  return decoded(lifecycleEventSchema, bytes, "lifecycle event");
}
