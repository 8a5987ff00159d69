import { TIMESTAMP, isJsonObject, isTimestamp, own, requiredString, type JsonObject } from "../json/fields.ts";
import { ACCOUNT, EVENT_ID, REGION } from "./aws-ids.ts";
import { rejected, type RejectedOutcome } from "./outcomes.ts";

/**
 * The EventBridge envelope around every Secrets Manager event.
 * @see ../../../../../shared/FORMATS.md section A.1
 */

export const SECRETS_MANAGER_SOURCE = "aws.secretsmanager";

export const DETAIL_TYPES = {
  apiCall: "AWS API Call via CloudTrail",
  serviceEvent: "AWS Service Event via CloudTrail",
  labelUpdated: "Secret Label Updated",
} as const;

type DetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

export interface Envelope {
  readonly id: string;
  readonly detailType: DetailType;
  readonly account: string;
  readonly region: string;
  readonly time: string;
  /** Empty for CloudTrail-derived events; the secret ARN for Secret Label Updated. */
  readonly resources: readonly unknown[];
  readonly detail: JsonObject;
}

/**
 * True when the object claims to be an EventBridge event. Input-transformer bodies never carry
 * these keys, so a half-broken envelope is still judged as an envelope and named as such.
 */
export function looksLikeEnvelope(body: JsonObject): boolean {
  return Object.hasOwn(body, "detail-type") || Object.hasOwn(body, "source") || Object.hasOwn(body, "detail");
}

/**
 * Validates the envelope: malformed fields first (400, all named at once), then what credmesh
 * does not support (422).
 */
export function parseEnvelope(body: JsonObject): Envelope | RejectedOutcome {
  const issues: string[] = [];
  const version = requiredString(body, "version", "version", issues);
  const id = requiredString(body, "id", "id", issues, EVENT_ID);
  const source = requiredString(body, "source", "source", issues);
  const detailType = requiredString(body, "detail-type", "detail-type", issues);
  const account = requiredString(body, "account", "account", issues, ACCOUNT);
  const region = requiredString(body, "region", "region", issues, REGION);
  const time = requiredString(body, "time", "time", issues, TIMESTAMP);
  if (time !== undefined && !isTimestamp(time)) issues.push(`time: expected ${TIMESTAMP.expected}`);
  const resources = own(body, "resources") ?? [];
  if (!Array.isArray(resources)) issues.push("resources: expected an array");
  const detail = own(body, "detail");
  if (!isJsonObject(detail)) issues.push("detail: expected an object");

  if (
    issues.length > 0 ||
    version === undefined ||
    id === undefined ||
    source === undefined ||
    detailType === undefined ||
    account === undefined ||
    region === undefined ||
    time === undefined ||
    !Array.isArray(resources) ||
    !isJsonObject(detail)
  ) {
    return rejected("invalid_envelope", issues);
  }
  if (version !== "0") return rejected("unsupported_envelope_version", ['version: only "0" is supported']);
  if (source !== SECRETS_MANAGER_SOURCE) {
    return rejected("unsupported_source", [`source: only ${SECRETS_MANAGER_SOURCE} is supported`]);
  }
  if (!isDetailType(detailType)) {
    return rejected("unsupported_detail_type", [
      `detail-type: expected one of ${Object.values(DETAIL_TYPES).map((type) => `"${type}"`).join(", ")}`,
    ]);
  }
  return { id, detailType, account, region, time, resources, detail };
}

function isDetailType(value: string): value is DetailType {
  return (Object.values(DETAIL_TYPES) as readonly string[]).includes(value);
}
