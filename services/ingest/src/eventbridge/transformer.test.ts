import { describe, expect, it } from "vitest";
import { normalizeEventBridge } from "./normalize.ts";
import type { Normalized } from "./outcomes.ts";
import { FIXED_NOW, TEST_RULES, awsOriginOf, fixedClock, fixtureFiles, loadFixture } from "./test-fixtures.ts";

const DB_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-credentials-Xa9TqZ";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const normalize = (body: unknown): Normalized => normalizeEventBridge(body, TEST_RULES, { now: fixedClock });

function mutationOf(result: Normalized) {
  if (result.outcome !== "mutation") throw new Error(`expected a mutation, got ${JSON.stringify(result)}`);
  return result.event;
}

/**
 * Renders the documented target's InputTemplate for an event, as EventBridge would: bare
 * placeholders get the JSON value. How a missing path renders is unverified (FORMATS.md B), so
 * both candidates are tried: null, and "" (what a quoted placeholder would give).
 */
function renderDocumentedTransformer(event: Record<string, unknown>, missing: null | ""): Record<string, unknown> {
  const config = loadFixture("aws-eventbridge-target-config.json") as {
    target: { InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string } };
  };
  const { InputPathsMap, InputTemplate } = config.target.InputTransformer;
  let text = InputTemplate;
  for (const [variable, path] of Object.entries(InputPathsMap)) {
    const value = lookup(event, path);
    text = text.replaceAll(`<${variable}>`, JSON.stringify(value ?? missing));
  }
  return JSON.parse(text) as Record<string, unknown>;
}

function lookup(root: unknown, path: string): unknown {
  let node = root;
  for (const step of path.replace(/^\$\./, "").split(".")) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, step)) return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return node;
}

type Expected = { outcome: "mutation"; kind: string; versionId?: string } | { outcome: "ignored" | "rejected"; reason: string };

/** What each fixture event becomes when it travels through the documented input transformer. */
const THROUGH_TRANSFORMER: Record<string, Expected> = {
  "aws-cloudtrail-createsecret.json": { outcome: "mutation", kind: "upsert", versionId: "4945a569-3c52-4fe7-86c4-e42c617aee8c" },
  "aws-cloudtrail-putsecretvalue.json": { outcome: "mutation", kind: "upsert", versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962" },
  "aws-cloudtrail-putsecretvalue-versionstages.json": {
    outcome: "mutation",
    kind: "upsert",
    versionId: "e206198b-74df-407d-b6c3-100e0c5f771a",
  },
  "aws-cloudtrail-updatesecret.json": { outcome: "mutation", kind: "upsert", versionId: "2dcfcf80-268e-448f-a025-5ea2cd4c76d1" },
  // The template has no path for the recovery window: the delete goes out without `deletion`.
  "aws-cloudtrail-deletesecret-recovery.json": { outcome: "mutation", kind: "delete" },
  "aws-cloudtrail-deletesecret-force.json": { outcome: "mutation", kind: "delete" },
  "aws-cloudtrail-restoresecret.json": { outcome: "mutation", kind: "restore" },
  "aws-cloudtrail-rotatesecret.json": { outcome: "ignored", reason: "rotation_started" },
  "aws-cloudtrail-rotationfailed-service-event.json": { outcome: "ignored", reason: "rotation_failed" },
  "aws-cloudtrail-tagresource.json": { outcome: "ignored", reason: "metadata_only" },
  "aws-cloudtrail-untagresource.json": { outcome: "ignored", reason: "metadata_only" },
  "aws-cloudtrail-replicatesecrettoregions.json": { outcome: "ignored", reason: "aws_native_replication" },
  // The documented template maps neither additionalEventData.SecretId nor resources[0]: these two
  // arrive without any ARN, and only the full event (no transformer) can carry them.
  "aws-cloudtrail-rotationsucceeded-service-event.json": { outcome: "rejected", reason: "unresolvable_secret" },
  "aws-native-secret-label-updated.json": { outcome: "rejected", reason: "unresolvable_secret" },
};

describe("the documented input transformer, applied to every AWS event fixture", () => {
  it("covers every fixture that is an EventBridge event", () => {
    const events = fixtureFiles("aws-").filter((file) => Object.hasOwn(loadFixture(file), "detail-type"));
    expect(events).toEqual(Object.keys(THROUGH_TRANSFORMER).sort());
  });

  it("renders the PutSecretValue fixture into exactly the transformer-body fixture", () => {
    const rendered = renderDocumentedTransformer(loadFixture("aws-cloudtrail-putsecretvalue.json"), null);
    expect(rendered).toStrictEqual(loadFixture("aws-input-transformer-arn-only.json"));
  });

  describe.each([null, ""] as const)("a missing path rendered as %j", (missing) => {
    it.each(Object.entries(THROUGH_TRANSFORMER))("%s", (file, expected) => {
      const event = loadFixture(file);
      const result = normalize(renderDocumentedTransformer(event, missing));
      if (expected.outcome !== "mutation") {
        expect(result).toMatchObject(expected);
        return;
      }
      const { data, id } = mutationOf(result);
      expect(id).toBe(event["id"]);
      expect(data.kind).toBe(expected.kind);
      expect(data.origin.versionId).toBe(expected.versionId);
      expect(data.deletion).toBeUndefined();
      expect(data.trigger.source).toBe("aws.eventbridge.transformer");
    });
  });
});

describe("transformer bodies", () => {
  it("accepts the minimal {arn} body as a sync, with a generated id and the injected clock", () => {
    const event = mutationOf(normalize({ arn: DB_ARN }));
    expect(event.id).toMatch(UUID);
    expect(event.time).toBe(FIXED_NOW.toISOString());
    expect(event.data).toStrictEqual({
      kind: "sync",
      rule: "payments-to-azure",
      destination: { cloud: "azure" },
      origin: {
        cloud: "aws",
        account: "123456789012",
        region: "us-east-1",
        secretId: DB_ARN,
        secretName: "prod/payments/db-credentials",
      },
      trigger: { source: "aws.eventbridge.transformer", eventName: "Unknown", eventTime: FIXED_NOW.toISOString() },
    });
  });

  it.each([null, ""])("treats %j fields as absent", (missing) => {
    const body = {
      eventId: missing,
      eventName: missing,
      eventTime: missing,
      account: missing,
      region: missing,
      secretId: missing,
      arn: DB_ARN,
      versionId: missing,
    };
    const event = mutationOf(normalize(body));
    expect(event.data.kind).toBe("sync");
    expect(event.data.trigger).toStrictEqual({
      source: "aws.eventbridge.transformer",
      eventName: "Unknown",
      eventTime: FIXED_NOW.toISOString(),
    });
    expect(event.data.origin.versionId).toBeUndefined();
  });

  it("takes the ARN from secretId when arn is missing (e.g. pre-2024 events that wrote aRN)", () => {
    const event = mutationOf(normalize({ eventName: "PutSecretValue", secretId: DB_ARN, arn: null }));
    expect(awsOriginOf(event).secretId).toBe(DB_ARN);
    expect(event.data.kind).toBe("upsert");
  });

  it("refuses a body without any ARN: the secret's home is unknown", () => {
    const result = normalize({ eventName: "PutSecretValue", secretId: "prod/payments/db-credentials", account: "123456789012" });
    expect(result).toMatchObject({ outcome: "rejected", reason: "unresolvable_secret" });
  });

  it("still ignores what it would ignore when the ARN is missing", () => {
    expect(normalize({ eventName: "TagResource", arn: null })).toStrictEqual({ outcome: "ignored", reason: "metadata_only" });
    expect(normalize({ eventName: "ListSecrets", arn: null })).toStrictEqual({
      outcome: "ignored",
      reason: "unsupported_event_name",
    });
  });

  it("names malformed fields without echoing them", () => {
    const result = normalize({ arn: "not-an-arn-MARKER", account: "MARKER", eventTime: 17, eventId: "bad id MARKER" });
    expect(result).toMatchObject({ outcome: "rejected", reason: "invalid_transformer_body" });
    const issues = result.outcome === "rejected" ? result.issues : [];
    expect(issues.map((issue) => issue.split(":")[0])).toEqual(["eventId", "eventTime", "account", "arn"]);
    expect(JSON.stringify(result)).not.toContain("MARKER");
  });

  it("sends deletes and restores without a version, and converges on a label move it cannot see", () => {
    const remove = mutationOf(normalize({ eventName: "DeleteSecret", arn: DB_ARN, versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962" }));
    expect(remove.data.kind).toBe("delete");
    expect(remove.data.origin.versionId).toBeUndefined();
    expect(remove.data.deletion).toBeUndefined();
    expect(mutationOf(normalize({ eventName: "RestoreSecret", arn: DB_ARN })).data.kind).toBe("restore");
    expect(mutationOf(normalize({ eventName: "UpdateSecretVersionStage", arn: DB_ARN })).data.kind).toBe("sync");
  });

  it("locates the secret by its ARN, not by the account and region fields", () => {
    const event = mutationOf(normalize({ arn: DB_ARN, account: "999999999999", region: "eu-west-1" }));
    expect(event.data.origin).toMatchObject({ account: "123456789012", region: "us-east-1" });
  });

  it("checks scope against the ARN's account, region and name", () => {
    const elsewhere = DB_ARN.replace("123456789012", "210987654321");
    expect(normalize({ arn: elsewhere })).toStrictEqual({
      outcome: "out_of_scope",
      reason: "no_matching_rule",
      secret: { account: "210987654321", region: "us-east-1", name: "prod/payments/db-credentials" },
    });
  });

  it("ignores keys it does not know, so a template may carry more", () => {
    expect(mutationOf(normalize({ arn: DB_ARN, ruleName: "secret-mutations" })).data.kind).toBe("sync");
  });
});
