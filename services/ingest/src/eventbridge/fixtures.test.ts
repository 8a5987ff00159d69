import { describe, expect, it } from "vitest";
import type { MutationData, MutationKind } from "@credmesh/events";
import { normalizeEventBridge } from "./normalize.ts";
import { REJECT_STATUS, type IgnoreReason, type RejectReason } from "./outcomes.ts";
import { TEST_RULES, fixedClock, fixtureFiles, loadFixture } from "./test-fixtures.ts";

/**
 * The deliberate outcome of every AWS fixture. A new aws-* fixture fails the first test until it
 * is given an outcome here: each wire shape credmesh may receive has a decision someone made.
 */

const DB = "prod/payments/db-credentials";
const DB_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-credentials-Xa9TqZ";
const STRIPE = "prod/payments/stripe-api-key";
const STRIPE_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/stripe-api-key-K2m8Pw";

type Expected =
  | {
      outcome: "mutation";
      kind: MutationKind;
      name: string;
      arn: string;
      versionId?: string;
      deletion?: MutationData["deletion"];
      source: "aws.eventbridge" | "aws.eventbridge.transformer";
      eventName: string;
    }
  | { outcome: "ignored"; reason: IgnoreReason }
  | { outcome: "rejected"; reason: RejectReason; why: string };

const viaEventBridge = { outcome: "mutation", source: "aws.eventbridge" } as const;

const OUTCOMES: Record<string, Expected> = {
  "aws-cloudtrail-createsecret.json": {
    ...viaEventBridge,
    kind: "upsert",
    name: DB,
    arn: DB_ARN,
    versionId: "4945a569-3c52-4fe7-86c4-e42c617aee8c",
    eventName: "CreateSecret",
  },
  "aws-cloudtrail-putsecretvalue.json": {
    ...viaEventBridge,
    kind: "upsert",
    name: DB,
    arn: DB_ARN,
    versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
    eventName: "PutSecretValue",
  },
  // Its versionStages are ["AWSCURRENT", "replicated-v2"]: the new version is current.
  "aws-cloudtrail-putsecretvalue-versionstages.json": {
    ...viaEventBridge,
    kind: "upsert",
    name: DB,
    arn: DB_ARN,
    versionId: "e206198b-74df-407d-b6c3-100e0c5f771a",
    eventName: "PutSecretValue",
  },
  "aws-cloudtrail-updatesecret.json": {
    ...viaEventBridge,
    kind: "upsert",
    name: DB,
    arn: DB_ARN,
    versionId: "2dcfcf80-268e-448f-a025-5ea2cd4c76d1",
    eventName: "UpdateSecret",
  },
  "aws-cloudtrail-deletesecret-recovery.json": {
    ...viaEventBridge,
    kind: "delete",
    name: DB,
    arn: DB_ARN,
    deletion: { mode: "recoverable", recoveryWindowDays: 7 },
    eventName: "DeleteSecret",
  },
  "aws-cloudtrail-deletesecret-force.json": {
    ...viaEventBridge,
    kind: "delete",
    name: STRIPE,
    arn: STRIPE_ARN,
    deletion: { mode: "force" },
    eventName: "DeleteSecret",
  },
  "aws-cloudtrail-restoresecret.json": { ...viaEventBridge, kind: "restore", name: DB, arn: DB_ARN, eventName: "RestoreSecret" },
  "aws-cloudtrail-rotationsucceeded-service-event.json": {
    ...viaEventBridge,
    kind: "upsert",
    name: DB,
    arn: DB_ARN,
    eventName: "RotationSucceeded",
  },
  "aws-native-secret-label-updated.json": {
    ...viaEventBridge,
    kind: "upsert",
    name: DB,
    arn: DB_ARN,
    versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
    eventName: "Secret Label Updated",
  },
  "aws-input-transformer-arn-only.json": {
    outcome: "mutation",
    source: "aws.eventbridge.transformer",
    kind: "upsert",
    name: DB,
    arn: DB_ARN,
    versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
    eventName: "PutSecretValue",
  },
  "aws-cloudtrail-rotatesecret.json": { outcome: "ignored", reason: "rotation_started" },
  "aws-cloudtrail-rotationfailed-service-event.json": { outcome: "ignored", reason: "rotation_failed" },
  "aws-cloudtrail-tagresource.json": { outcome: "ignored", reason: "metadata_only" },
  "aws-cloudtrail-untagresource.json": { outcome: "ignored", reason: "metadata_only" },
  "aws-cloudtrail-replicatesecrettoregions.json": { outcome: "ignored", reason: "aws_native_replication" },
  // Not bodies EventBridge delivers, but if one ever arrives as a body it must be refused.
  "aws-apidestination-request-headers.json": { outcome: "rejected", reason: "unrecognized_body", why: "request headers" },
  "aws-eventbridge-target-config.json": { outcome: "rejected", reason: "unrecognized_body", why: "rule/target configuration" },
  "aws-secretsmanager-error-deleted.json": { outcome: "rejected", reason: "unrecognized_body", why: "API error body" },
  "aws-secretsmanager-error-name-scheduled-for-deletion.json": {
    outcome: "rejected",
    reason: "unrecognized_body",
    why: "API error body",
  },
};

describe("every AWS fixture has a deliberate outcome", () => {
  it("lists each aws-* fixture, and no fixture that is gone", () => {
    expect(fixtureFiles("aws-")).toEqual(Object.keys(OUTCOMES).sort());
  });

  it.each(Object.entries(OUTCOMES))("%s", (file, expected) => {
    const body = loadFixture(file);
    const result = normalizeEventBridge(body, TEST_RULES, { now: fixedClock });

    if (expected.outcome !== "mutation") {
      expect(result).toMatchObject({ outcome: expected.outcome, reason: expected.reason });
      if (result.outcome === "rejected") expect(REJECT_STATUS[result.reason]).toBe(400);
      return;
    }
    if (result.outcome !== "mutation") throw new Error(`expected a mutation, got ${JSON.stringify(result)}`);
    const { data } = result.event;
    const senderId = typeof body["id"] === "string" ? body["id"] : body["eventId"];
    const detail = (body["detail"] ?? {}) as Record<string, unknown>;
    const changedAt = detail["eventTime"] ?? body["time"] ?? body["eventTime"];
    expect(result.event.id).toBe(senderId);
    expect(data).toStrictEqual({
      kind: expected.kind,
      rule: "payments-to-azure",
      destination: { cloud: "azure" },
      origin: {
        cloud: "aws",
        account: "123456789012",
        region: "us-east-1",
        secretId: expected.arn,
        secretName: expected.name,
        ...(expected.versionId === undefined ? {} : { versionId: expected.versionId }),
      },
      ...(expected.deletion === undefined ? {} : { deletion: expected.deletion }),
      trigger: {
        source: expected.source,
        eventId: senderId,
        eventName: expected.eventName,
        eventTime: changedAt,
        ...(data.trigger.actor === undefined ? {} : { actor: data.trigger.actor }),
      },
    });
    expect(result.event.subject).toBe(`aws/123456789012/us-east-1/${expected.name}`);
  });

  it("records the CloudTrail caller as the actor, and no actor for service events", () => {
    const put = normalizeEventBridge(loadFixture("aws-cloudtrail-putsecretvalue.json"), TEST_RULES);
    const rotation = normalizeEventBridge(loadFixture("aws-cloudtrail-rotationsucceeded-service-event.json"), TEST_RULES);
    expect(put.outcome === "mutation" && put.event.data.trigger.actor).toStrictEqual({
      type: "AssumedRole",
      arn: "arn:aws:sts::123456789012:assumed-role/SecretsAdmin/alice@example.com",
      principalId: "AROA4EXAMPLEROLEID7Q:alice@example.com",
    });
    expect(rotation.outcome === "mutation" && rotation.event.data.trigger.actor).toBeUndefined();
  });
});
