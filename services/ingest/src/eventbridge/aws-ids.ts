import { nameFromArn } from "@credmesh/events";
import type { Expectation } from "../json/fields.ts";

/**
 * The shapes of AWS identifiers as the event schema accepts them. Checking them here turns a bad
 * field into a named issue instead of a late schema failure.
 * @see ../../../../../shared/FORMATS.md sections A.1 and F
 */

export const ACCOUNT: Expectation = { pattern: /^\d{12}$/, expected: "an AWS account id of 12 digits" };

export const REGION: Expectation = { pattern: /^[a-z]{2}(-[a-z]+)+-\d$/, expected: "an AWS region code" };

/** EventBridge ids are UUIDs; the id also becomes the CloudEvents correlation id, hence this set. */
export const EVENT_ID: Expectation = { pattern: /^[A-Za-z0-9._:-]{1,128}$/, expected: "an event id (UUID)" };

/** CloudTrail event names are API or service-event names: letters and digits. */
export const EVENT_NAME: Expectation = { pattern: /^[A-Za-z0-9]{1,128}$/, expected: "an event name" };

/** ClientRequestToken / VersionId: 32–64 characters at AWS; the schema allows 1–64 visible ASCII. */
export const VERSION_ID: Expectation = { pattern: /^[\x21-\x7e]{1,64}$/, expected: "a version id (up to 64 characters)" };

export const TIMESTAMP: Expectation = {
  pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/,
  expected: "an ISO-8601 timestamp with a zone",
};

export const CLOUDTRAIL_VERSION: Expectation = { pattern: /^\d+\.\d+$/, expected: "a version like 1.11" };

export function isTimestamp(value: string): boolean {
  return TIMESTAMP.pattern.test(value) && !Number.isNaN(Date.parse(value));
}

/** A full Secrets Manager secret ARN, taken apart. */
export interface SecretArn {
  readonly arn: string;
  readonly account: string;
  readonly region: string;
  readonly name: string;
}

const SECRET_ARN_PREFIX = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:/;

/**
 * Parses a full secret ARN (with AWS's six-character suffix). A partial ARN — which `SecretId`
 * also accepts — yields undefined, unless its name happens to end in "-" plus six letters or
 * digits: that ambiguity is AWS's (FORMATS.md F), so callers prefer ARNs that AWS itself wrote
 * (responseElements, additionalEventData, resources) over the one the caller typed.
 */
export function parseSecretArn(value: string): SecretArn | undefined {
  const prefix = SECRET_ARN_PREFIX.exec(value);
  const name = nameFromArn(value);
  const region = prefix?.[1];
  const account = prefix?.[2];
  if (region === undefined || account === undefined || name === undefined) return undefined;
  return { arn: value, account, region, name };
}

/** True for anything ARN-like, full or partial; such a SecretId is never taken as a plain name. */
export function looksLikeArn(value: string): boolean {
  return value.startsWith("arn:");
}
