import type { MutationKind } from "@credmesh/events";
import { isArn, parseSecretArn } from "@credmesh/identifiers";
import { TIMESTAMP, isTimestamp, own, stringField, type Expectation, type JsonObject } from "../json/fields.ts";
import { ACCOUNT, EVENT_ID, EVENT_NAME, REGION, VERSION_ID } from "./aws-ids.ts";
import { drafted, type DraftResult } from "./draft.ts";
import { decisionForEventName } from "./event-names.ts";
import { ignored, rejected } from "./outcomes.ts";

/**
 * Bodies rendered by an EventBridge input transformer, as in the target configuration that
 * credmesh documents: `{eventId, eventName, eventTime, account, region, secretId, arn, versionId}`,
 * down to the minimal `{"arn": …}`. A path missing from the event may render as null or as an
 * empty string (FORMATS.md B leaves it open), so both mean "absent". Keys not listed here are
 * ignored, so a template may carry more (e.g. the rule name) without breaking ingest.
 * @see ../../../../../shared/FORMATS.md section B
 */

const TRANSFORMER_FIELDS = ["eventId", "eventName", "eventTime", "account", "region", "secretId", "arn", "versionId"] as const;

type TransformerField = (typeof TRANSFORMER_FIELDS)[number];

/** The trigger's eventName when the body does not say which event it was rendered from. */
const UNKNOWN_EVENT_NAME = "Unknown";

const ANY_TEXT: Expectation = { pattern: /^[\s\S]{1,2048}$/, expected: "a string" };

const EXPECTATIONS: Record<TransformerField, Expectation> = {
  eventId: EVENT_ID,
  eventName: EVENT_NAME,
  eventTime: TIMESTAMP,
  account: ACCOUNT,
  region: REGION,
  secretId: ANY_TEXT,
  arn: { pattern: /^arn:/, expected: "a Secrets Manager secret ARN" },
  versionId: VERSION_ID,
};

export function looksLikeTransformerBody(body: JsonObject): boolean {
  return TRANSFORMER_FIELDS.some((field) => Object.hasOwn(body, field));
}

/**
 * Reads a transformer body. The ARN is the one field that must be there: without it neither the
 * secret nor its home account and region are known. A known eventName gets the same meaning as in
 * a CloudTrail record; without one the mutation is a `sync`, which makes the replicator converge
 * to whatever the source holds.
 */
export function draftFromTransformer(body: JsonObject, now: () => Date): DraftResult {
  const issues: string[] = [];
  const fields: Partial<Record<TransformerField, string>> = {};
  for (const field of TRANSFORMER_FIELDS) {
    const value = own(body, field) === "" ? undefined : stringField(body, field, field, issues, EXPECTATIONS[field]);
    if (value !== undefined) fields[field] = value;
  }
  if (fields.eventTime !== undefined && !isTimestamp(fields.eventTime)) issues.push(`eventTime: expected ${TIMESTAMP.expected}`);
  const arnField = fields.arn === undefined ? undefined : parseSecretArn(fields.arn);
  if (fields.arn !== undefined && !arnField) issues.push(`arn: expected ${EXPECTATIONS.arn.expected}`);
  if (issues.length > 0) return rejected("invalid_transformer_body", issues);

  let kind: MutationKind = "sync";
  if (fields.eventName !== undefined) {
    const decision = decisionForEventName(fields.eventName);
    if ("ignore" in decision) return ignored(decision.ignore);
    // Without versionStage/moveToVersionId the body cannot say whether AWSCURRENT moved: converge.
    kind = fields.eventName === "UpdateSecretVersionStage" ? "sync" : decision.publish;
  }

  const secretIdArn = fields.secretId !== undefined && isArn(fields.secretId) ? parseSecretArn(fields.secretId) : undefined;
  const arn = arnField ?? secretIdArn;
  if (!arn) return rejected("unresolvable_secret", ["arn, secretId: a Secrets Manager secret ARN is required"]);

  // A versionId only means something for a value change; a delete or restore names no version.
  const versionId = kind === "upsert" || kind === "sync" ? fields.versionId : undefined;
  return drafted({
    ...(fields.eventId === undefined ? {} : { id: fields.eventId }),
    kind,
    // The ARN names the secret's home; account/region fields, when present, were only checked
    // for form. DeleteSecret arrives without its recovery window: `deletion` stays unset.
    secret: { account: arn.account, region: arn.region, arn: arn.arn, name: arn.name },
    ...(versionId === undefined ? {} : { versionId }),
    trigger: {
      source: "aws.eventbridge.transformer",
      ...(fields.eventId === undefined ? {} : { eventId: fields.eventId }),
      eventName: fields.eventName ?? UNKNOWN_EVENT_NAME,
      eventTime: fields.eventTime ?? now().toISOString(),
    },
  });
}
