import { AWS_ACCOUNT_ID, AWS_REGION, CORRELATION_ID, KEY_VAULT_OBJECT_NAME, KEY_VAULT_VERSION, RULE_ID, VAULT_NAME } from "@credmesh/identifiers";
import { z } from "zod";

/**
 * The canonical mutation event: a CloudEvents 1.0 envelope (structured JSON mode) whose data
 * carries identifiers only — which secret, where, which version, what happened — and never a
 * value. The replicator pulls the value from the source itself.
 * @see ../../../shared/SPEC.md section 2 (ingest) and section 4
 */
export const MUTATION_EVENT_TYPE = "io.credmesh.secret.mutation.v1";
export const SPEC_VERSION = "1.0";

export const MUTATION_KINDS = ["upsert", "delete", "restore", "sync"] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

const nonEmpty = z.string().min(1).max(2048);
const cloud = z.enum(["aws", "azure"]);

const awsOriginSchema = z.strictObject({
  cloud: z.literal("aws"),
  account: z.string().regex(AWS_ACCOUNT_ID, "an AWS account id has 12 digits"),
  region: z.string().regex(AWS_REGION, "not an AWS region"),
  /** The full ARN when known (preferred), else the name as the caller typed it. */
  secretId: nonEmpty,
  /** The secret's name when the event tells it. */
  secretName: z.string().min(1).max(512).optional(),
  /** The version the event announced (clientRequestToken / versionId), when known. */
  versionId: z.string().min(1).max(64).optional(),
});

const azureOriginSchema = z.strictObject({
  cloud: z.literal("azure"),
  vaultName: z.string().regex(VAULT_NAME, "not a Key Vault name"),
  secretName: z.string().regex(KEY_VAULT_OBJECT_NAME, "not a Key Vault secret name"),
  versionId: z.string().regex(KEY_VAULT_VERSION, "not a Key Vault version (32 lowercase hex digits)").optional(),
});

export const originSchema = z.discriminatedUnion("cloud", [awsOriginSchema, azureOriginSchema]);

const triggerSchema = z.strictObject({
  /** Which sender produced the event. */
  source: z.enum(["aws.eventbridge", "aws.eventbridge.transformer", "azure.eventgrid", "reconciler", "replay"]),
  /** The sender's event id (EventBridge id, Event Grid id); also the JetStream message id. */
  eventId: z.string().min(1).max(256).optional(),
  /** The API or event name that caused it (PutSecretValue, RotationSucceeded, ...). */
  eventName: z.string().min(1).max(128),
  eventTime: z.iso.datetime({ offset: true }),
  /** Who made the change, as the origin cloud recorded it (CloudTrail userIdentity). */
  actor: z
    .strictObject({
      type: z.string().max(64).optional(),
      arn: z.string().max(2048).optional(),
      principalId: z.string().max(512).optional(),
    })
    .optional(),
});

export const mutationDataSchema = z.strictObject({
  kind: z.enum(MUTATION_KINDS),
  /** The replication rule that put this secret in scope. */
  rule: z.string().regex(RULE_ID),
  destination: z.strictObject({ cloud }),
  origin: originSchema,
  /** For deletes: whether the origin can still recover the secret. */
  deletion: z
    .strictObject({
      mode: z.enum(["recoverable", "force"]),
      recoveryWindowDays: z.number().int().min(0).max(90).optional(),
    })
    .optional(),
  trigger: triggerSchema,
});

/** CloudEvents 1.0 context attributes we use; extension names are lowercase alphanumerics. */
export const mutationEventSchema = z.strictObject({
  specversion: z.literal(SPEC_VERSION),
  id: z.string().min(1).max(256),
  source: z.string().min(1).max(512),
  type: z.literal(MUTATION_EVENT_TYPE),
  subject: z.string().min(1).max(1024),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal("application/json"),
  /** Follows one mutation from webhook to vault write, across logs, audit and dead letters. */
  correlationid: z.string().regex(CORRELATION_ID),
  data: mutationDataSchema,
});

export type AwsOrigin = z.infer<typeof awsOriginSchema>;
export type AzureOrigin = z.infer<typeof azureOriginSchema>;
export type Origin = z.infer<typeof originSchema>;
export type Trigger = z.infer<typeof triggerSchema>;
export type MutationData = z.infer<typeof mutationDataSchema>;
export type MutationEvent = Readonly<z.infer<typeof mutationEventSchema>>;
