import { AWS_ACCOUNT_ID, AWS_REGION, CORRELATION_ID } from "@credmesh/identifiers";
import type { Expectation } from "../json/fields.ts";

/**
 * The shapes of AWS identifiers as the event schema accepts them (the patterns and the ARN parser
 * are @credmesh/identifiers'). Checking them here turns a bad field into a named issue instead of a
 * late schema failure.
 * @see ../../../../../shared/FORMATS.md sections A.1 and F
 */

export const ACCOUNT: Expectation = { pattern: AWS_ACCOUNT_ID, expected: "an AWS account id of 12 digits" };

export const REGION: Expectation = { pattern: AWS_REGION, expected: "an AWS region code" };

/** EventBridge ids are UUIDs; the id also becomes the CloudEvents correlation id, hence this set. */
export const EVENT_ID: Expectation = { pattern: CORRELATION_ID, expected: "an event id (UUID)" };

/** CloudTrail event names are API or service-event names: letters and digits. */
export const EVENT_NAME: Expectation = { pattern: /^[A-Za-z0-9]{1,128}$/, expected: "an event name" };

/** ClientRequestToken / VersionId: 32–64 characters at AWS; the schema allows 1–64 visible ASCII. */
export const VERSION_ID: Expectation = { pattern: /^[\x21-\x7e]{1,64}$/, expected: "a version id (up to 64 characters)" };

export const CLOUDTRAIL_VERSION: Expectation = { pattern: /^\d+\.\d+$/, expected: "a version like 1.11" };
