import type { Trigger } from "@credmesh/events";
import { TIMESTAMP, isJsonObject, isTimestamp, objectField, own, requiredString, stringField, type JsonObject } from "../json/fields.ts";
import { CLOUDTRAIL_VERSION, EVENT_NAME, VERSION_ID } from "./aws-ids.ts";
import {
  drafted,
  firstPlainName,
  firstSecretArn,
  locateSecret,
  type DraftResult,
  type MutationDraft,
  type SecretLocation,
} from "./draft.ts";
import type { Envelope } from "./envelope.ts";
import { decisionForEventName } from "./event-names.ts";
import { ignored, rejected, type IgnoredOutcome, type RejectedOutcome } from "./outcomes.ts";

/**
 * CloudTrail records delivered as "AWS API Call via CloudTrail" and "AWS Service Event via
 * CloudTrail". Only identifiers are read from requestParameters, each by name: nothing from the
 * request is ever copied wholesale, so a value CloudTrail should not have logged cannot travel on.
 * @see ../../../../../shared/FORMATS.md sections A.2–A.4
 */

const SECRETS_MANAGER_EVENT_SOURCE = "secretsmanager.amazonaws.com";

/** CloudTrail's rule: the major version must be equal, the minor at least what we read. */
const CLOUDTRAIL_MAJOR_VERSION = 1;
/** Every 1.x record carries the fields read here; raise this if a newer field becomes required. */
const CLOUDTRAIL_MIN_MINOR_VERSION = 0;

const AWSCURRENT = "AWSCURRENT";
/** AWS's documented default when DeleteSecret names neither a window nor force. */
const DEFAULT_RECOVERY_WINDOW_DAYS = 30;

interface Header {
  readonly eventName: string;
  readonly eventTime: string;
}

export function draftFromCloudTrail(envelope: Envelope): DraftResult {
  const { detail } = envelope;
  const header = readHeader(envelope);
  if ("outcome" in header) return header;

  // Failed and read-only calls changed nothing; they are dropped before anything else is read,
  // since their identifiers may be missing or mistyped (responseElements is null on failures).
  if (!isAbsent(own(detail, "errorCode"))) return ignored("failed_call");
  if (own(detail, "readOnly") === true) return ignored("read_only_call");

  const decision = decisionForEventName(header.eventName);
  if ("ignore" in decision) return ignored(decision.ignore);

  const issues: string[] = [];
  const request = objectField(detail, "requestParameters", "detail.requestParameters", issues);
  const response = objectField(detail, "responseElements", "detail.responseElements", issues);
  if (issues.length > 0) return rejected("invalid_detail", issues);

  const specifics = readSpecifics(header.eventName, decision.publish, request);
  if (!("kind" in specifics)) return specifics;

  const secret = locate(envelope, request, response);
  if (!secret) {
    return rejected("unresolvable_secret", [
      "detail.responseElements.arn, detail.additionalEventData.SecretId, detail.requestParameters.secretId: " +
        "no Secrets Manager secret ARN or name",
    ]);
  }
  const actor = actorOf(detail);
  const trigger: Trigger = {
    source: "aws.eventbridge",
    eventId: envelope.id,
    eventName: header.eventName,
    eventTime: header.eventTime,
    ...(actor ? { actor } : {}),
  };
  return drafted({ id: envelope.id, ...specifics, secret, trigger });
}

function readHeader(envelope: Envelope): Header | RejectedOutcome {
  const { detail } = envelope;
  const issues: string[] = [];
  const version = requiredString(detail, "eventVersion", "detail.eventVersion", issues, CLOUDTRAIL_VERSION);
  const eventSource = requiredString(detail, "eventSource", "detail.eventSource", issues);
  const eventName = requiredString(detail, "eventName", "detail.eventName", issues, EVENT_NAME);
  const eventTime = stringField(detail, "eventTime", "detail.eventTime", issues, TIMESTAMP);
  if (eventTime !== undefined && !isTimestamp(eventTime)) issues.push(`detail.eventTime: expected ${TIMESTAMP.expected}`);
  if (issues.length > 0 || version === undefined || eventSource === undefined || eventName === undefined) {
    return rejected("invalid_detail", issues);
  }
  const [major = Number.NaN, minor = Number.NaN] = version.split(".").map(Number);
  if (major !== CLOUDTRAIL_MAJOR_VERSION || minor < CLOUDTRAIL_MIN_MINOR_VERSION) {
    return rejected("unsupported_cloudtrail_version", [
      `detail.eventVersion: expected major version ${CLOUDTRAIL_MAJOR_VERSION} (minor ≥ ${CLOUDTRAIL_MIN_MINOR_VERSION})`,
    ]);
  }
  if (eventSource !== SECRETS_MANAGER_EVENT_SOURCE) {
    return rejected("unsupported_source", [`detail.eventSource: only ${SECRETS_MANAGER_EVENT_SOURCE} is supported`]);
  }
  // The record's own time is when the vault changed; the envelope's is a fallback.
  return { eventName, eventTime: eventTime ?? envelope.time };
}

type Specifics = Pick<MutationDraft, "kind" | "versionId" | "deletion">;

/** The parameter-dependent part of the decision, per event name. */
function readSpecifics(
  eventName: string,
  kind: Specifics["kind"],
  request: JsonObject,
): Specifics | IgnoredOutcome | RejectedOutcome {
  const issues: string[] = [];
  const at = (key: string): string => `detail.requestParameters.${key}`;
  const token = (): string | undefined => stringField(request, "clientRequestToken", at("clientRequestToken"), issues, VERSION_ID);
  let specifics: Specifics;
  switch (eventName) {
    case "CreateSecret":
    case "UpdateSecret":
      specifics = withVersion(kind, token());
      break;
    case "PutSecretValue": {
      const stages = own(request, "versionStages");
      if (stages !== undefined && stages !== null) {
        if (!Array.isArray(stages) || !stages.every((stage) => typeof stage === "string")) {
          return rejected("invalid_detail", [`${at("versionStages")}: expected an array of strings`]);
        }
        // Staged without AWSCURRENT (e.g. AWSPENDING during rotation): not the live value yet.
        if (!stages.includes(AWSCURRENT)) return ignored("version_not_current");
      }
      specifics = withVersion(kind, token());
      break;
    }
    case "UpdateSecretVersionStage": {
      const stage = stringField(request, "versionStage", at("versionStage"), issues);
      const moveTo = stringField(request, "moveToVersionId", at("moveToVersionId"), issues, VERSION_ID);
      if (issues.length > 0) return rejected("invalid_detail", issues);
      if (stage !== AWSCURRENT || moveTo === undefined) return ignored("label_not_current");
      specifics = withVersion(kind, moveTo);
      break;
    }
    case "DeleteSecret": {
      const deletion = readDeletion(request, issues);
      specifics = { kind, ...(deletion ? { deletion } : {}) };
      break;
    }
    default:
      // RestoreSecret; RotationSucceeded, whose service event names no version: the replicator
      // reads what AWSCURRENT points at.
      specifics = { kind };
  }
  return issues.length > 0 ? rejected("invalid_detail", issues) : specifics;
}

function withVersion(kind: Specifics["kind"], versionId: string | undefined): Specifics {
  return versionId === undefined ? { kind } : { kind, versionId };
}

function readDeletion(request: JsonObject, issues: string[]): Specifics["deletion"] {
  const force = own(request, "forceDeleteWithoutRecovery");
  if (force !== undefined && force !== null && typeof force !== "boolean") {
    issues.push("detail.requestParameters.forceDeleteWithoutRecovery: expected a boolean");
    return undefined;
  }
  if (force === true) return { mode: "force" };
  const window = own(request, "recoveryWindowInDays");
  if (window === undefined || window === null) return { mode: "recoverable", recoveryWindowDays: DEFAULT_RECOVERY_WINDOW_DAYS };
  if (typeof window !== "number" || !Number.isInteger(window) || window < 0 || window > 90) {
    issues.push("detail.requestParameters.recoveryWindowInDays: expected a whole number of days");
    return undefined;
  }
  return { mode: "recoverable", recoveryWindowDays: window };
}

/**
 * ARNs that AWS wrote (responseElements — under any of its historical key casings — and the
 * service events' SecretId) are trusted before the SecretId the caller typed, which may be a
 * partial ARN or a name.
 */
function locate(envelope: Envelope, request: JsonObject, response: JsonObject): SecretLocation | undefined {
  const { detail } = envelope;
  const serviceIds = [
    own(asObject(own(detail, "additionalEventData")), "SecretId"),
    own(asObject(own(detail, "serviceEventDetails")), "secretId"),
  ];
  const requestId = own(request, "secretId");
  const arn = firstSecretArn([own(response, "arn"), own(response, "aRN"), own(response, "ARN"), ...serviceIds, requestId]);
  const name =
    // CreateSecret names the secret exactly; every other call only refers to it.
    firstPlainName([own(request, "name")]) ??
    arn?.name ??
    firstPlainName([own(response, "name"), own(response, "Name"), ...serviceIds, requestId]);
  return locateSecret(envelope, arn, name);
}

function asObject(value: unknown): JsonObject {
  return isJsonObject(value) ? value : {};
}

const ACTOR_LIMITS = { type: 64, arn: 2048, principalId: 512 } as const;

/** Who made the change (for audit and echo detection); fields the schema cannot hold are left out. */
function actorOf(detail: JsonObject): Trigger["actor"] {
  const identity = own(detail, "userIdentity");
  if (!isJsonObject(identity)) return undefined;
  const actor: { type?: string; arn?: string; principalId?: string } = {};
  for (const key of Object.keys(ACTOR_LIMITS) as (keyof typeof ACTOR_LIMITS)[]) {
    const value = own(identity, key);
    if (typeof value === "string" && value !== "" && value.length <= ACTOR_LIMITS[key]) actor[key] = value;
  }
  return Object.keys(actor).length > 0 ? actor : undefined;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}
