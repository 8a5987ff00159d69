import { describe, expect, it } from "vitest";
import { parseRules } from "@credmesh/config";
import { decodeMutationEvent, encodeEvent, mutationDataSchema, mutationEventSchema } from "@credmesh/events";
import { normalizeEventBridge } from "./normalize.ts";
import { IGNORE_REASONS, REJECT_REASONS, REJECT_STATUS, type Normalized } from "./outcomes.ts";
import { TEST_RULES, awsOriginOf, fixedClock, loadFixture } from "./test-fixtures.ts";

const DB_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-credentials-Xa9TqZ";
const DB = "prod/payments/db-credentials";

type Body = Record<string, unknown> & { detail: Record<string, unknown> };

/** A fresh copy of a fixture event, changed by `edit`. */
function event(file: string, edit: (body: Body) => void = () => {}): Body {
  const body = loadFixture(`aws-${file}.json`) as Body;
  edit(body);
  return body;
}

function params(body: Body): Record<string, unknown> {
  return body.detail["requestParameters"] as Record<string, unknown>;
}

const normalize = (body: unknown): Normalized => normalizeEventBridge(body, TEST_RULES, { now: fixedClock });

function mutationOf(result: Normalized) {
  if (result.outcome !== "mutation") throw new Error(`expected a mutation, got ${JSON.stringify(result)}`);
  return result.event;
}

describe("body shape", () => {
  it.each([
    ["null", null],
    ["an array", [loadFixture("aws-cloudtrail-putsecretvalue.json")]],
    ["a string", "PutSecretValue"],
    ["a number", 42],
  ])("refuses %s as malformed (400)", (_, body) => {
    const result = normalize(body);
    expect(result).toMatchObject({ outcome: "rejected", reason: "malformed_body" });
    expect(result.outcome === "rejected" && REJECT_STATUS[result.reason]).toBe(400);
  });

  it("refuses an object that is neither an event nor a transformer body", () => {
    expect(normalize({})).toMatchObject({ outcome: "rejected", reason: "unrecognized_body" });
  });
});

describe("envelope", () => {
  it("names a missing id", () => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => delete body["id"]));
    expect(result).toStrictEqual({ outcome: "rejected", reason: "invalid_envelope", issues: ["id: required"] });
  });

  it("names every malformed field at once, without echoing values", () => {
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body["account"] = "MARKER";
        body["region"] = "MARKER";
        body["time"] = "yesterday MARKER";
        body["detail"] = "MARKER" as unknown as Record<string, unknown>;
      }),
    );
    expect(result).toMatchObject({ outcome: "rejected", reason: "invalid_envelope" });
    expect(result.outcome === "rejected" && result.issues.map((issue) => issue.split(":")[0])).toEqual([
      "account",
      "region",
      "time",
      "detail",
    ]);
    expect(JSON.stringify(result)).not.toContain("MARKER");
  });

  it.each([
    ["source", "aws.s3", "unsupported_source"],
    ["detail-type", "Object Created", "unsupported_detail_type"],
    ["version", "1", "unsupported_envelope_version"],
  ] as const)("refuses %s %j as unsupported (422)", (key, value, reason) => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => (body[key] = value)));
    expect(result).toMatchObject({ outcome: "rejected", reason });
    expect(REJECT_STATUS[reason]).toBe(422);
  });
});

describe("CloudTrail record", () => {
  it.each(["2.0", "0.9"])("refuses eventVersion %s (major must be 1)", (version) => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => (body.detail["eventVersion"] = version)));
    expect(result).toMatchObject({ outcome: "rejected", reason: "unsupported_cloudtrail_version" });
  });

  it.each(["1.05", "1.08", "1.11", "1.99"])("accepts eventVersion %s", (version) => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => (body.detail["eventVersion"] = version)));
    expect(result.outcome).toBe("mutation");
  });

  it.each([["1"], [1.11], [undefined]])("refuses the malformed eventVersion %j", (version) => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => (body.detail["eventVersion"] = version)));
    expect(result).toMatchObject({ outcome: "rejected", reason: "invalid_detail" });
  });

  it("refuses a record from another service", () => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => (body.detail["eventSource"] = "s3.amazonaws.com")));
    expect(result).toMatchObject({ outcome: "rejected", reason: "unsupported_source" });
  });

  it.each(["aRN", "ARN"])("reads the secret ARN under the %s key", (key) => {
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body.detail["responseElements"] = { [key]: DB_ARN };
        params(body)["secretId"] = DB; // the caller typed the name
      }),
    );
    expect(mutationOf(result).data.origin).toMatchObject({ secretId: DB_ARN, secretName: DB });
  });

  it("falls back to a plain-name secretId when no ARN was logged (responseElements null)", () => {
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body.detail["responseElements"] = null;
        params(body)["secretId"] = DB;
      }),
    );
    expect(mutationOf(result).data.origin).toStrictEqual({
      cloud: "aws",
      account: "123456789012",
      region: "us-east-1",
      secretId: DB,
      secretName: DB,
      versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
    });
  });

  it("refuses a change whose only identifier is a partial ARN", () => {
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body.detail["responseElements"] = null;
        params(body)["secretId"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db";
      }),
    );
    expect(result).toMatchObject({ outcome: "rejected", reason: "unresolvable_secret" });
    expect(result.outcome === "rejected" && REJECT_STATUS[result.reason]).toBe(422);
  });

  it("reads a service event's secret from serviceEventDetails.secretId as well", () => {
    const result = normalize(
      event("cloudtrail-rotationsucceeded-service-event", (body) => {
        delete body.detail["additionalEventData"];
        body.detail["serviceEventDetails"] = { secretId: DB_ARN };
      }),
    );
    expect(awsOriginOf(mutationOf(result)).secretId).toBe(DB_ARN);
  });

  it("uses the envelope time when the record has none", () => {
    const result = normalize(event("cloudtrail-restoresecret", (body) => delete body.detail["eventTime"]));
    expect(mutationOf(result).data.trigger.eventTime).toBe("2025-06-02T14:15:21Z");
  });
});

describe("decisions", () => {
  it("ignores failed calls before looking for the secret", () => {
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body.detail["errorCode"] = "ResourceNotFoundException";
        body.detail["responseElements"] = null;
        params(body)["secretId"] = "typo/not-in-any-rule";
      }),
    );
    expect(result).toStrictEqual({ outcome: "ignored", reason: "failed_call" });
  });

  it("ignores read-only calls", () => {
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body.detail["eventName"] = "GetSecretValue";
        body.detail["readOnly"] = true;
      }),
    );
    expect(result).toStrictEqual({ outcome: "ignored", reason: "read_only_call" });
  });

  // "constructor" and "toString" must not reach Object.prototype through the decision table.
  it.each(["ValidateResourcePolicy", "constructor", "toString"])("ignores the unsupported event name %s", (name) => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => (body.detail["eventName"] = name)));
    expect(result).toStrictEqual({ outcome: "ignored", reason: "unsupported_event_name" });
  });

  it("ignores a value staged without AWSCURRENT", () => {
    const result = normalize(
      event("cloudtrail-putsecretvalue-versionstages", (body) => (params(body)["versionStages"] = ["AWSPENDING"])),
    );
    expect(result).toStrictEqual({ outcome: "ignored", reason: "version_not_current" });
  });

  it("publishes an AWSCURRENT label move with the version it moved to", () => {
    const moveTo = "0cf548ad-7736-4dbb-89ae-7899d92e3f67";
    const labelMove = (stage: string, to: string | undefined) =>
      normalize(
        event("cloudtrail-putsecretvalue", (body) => {
          body.detail["eventName"] = "UpdateSecretVersionStage";
          body.detail["requestParameters"] = {
            secretId: DB_ARN,
            versionStage: stage,
            ...(to === undefined ? {} : { moveToVersionId: to }),
            removeFromVersionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
          };
        }),
      );
    const current = mutationOf(labelMove("AWSCURRENT", moveTo));
    expect(current.data).toMatchObject({ kind: "upsert", origin: { versionId: moveTo } });
    expect(labelMove("AWSPENDING", moveTo)).toStrictEqual({ outcome: "ignored", reason: "label_not_current" });
    expect(labelMove("AWSCURRENT", undefined)).toStrictEqual({ outcome: "ignored", reason: "label_not_current" });
  });

  it("ignores a native label event for a label other than AWSCURRENT", () => {
    const result = normalize(event("native-secret-label-updated", (body) => (body.detail["labelUpdated"] = "blue")));
    expect(result).toStrictEqual({ outcome: "ignored", reason: "label_not_current" });
  });

  it("tells force deletes, explicit windows and the default window apart", () => {
    const deletion = (edit: (request: Record<string, unknown>) => void) =>
      mutationOf(normalize(event("cloudtrail-deletesecret-recovery", (body) => edit(params(body))))).data.deletion;
    expect(deletion(() => {})).toStrictEqual({ mode: "recoverable", recoveryWindowDays: 7 });
    expect(deletion((request) => delete request["recoveryWindowInDays"])).toStrictEqual({
      mode: "recoverable",
      recoveryWindowDays: 30,
    });
    expect(deletion((request) => (request["forceDeleteWithoutRecovery"] = true))).toStrictEqual({ mode: "force" });
    expect(deletion((request) => (request["forceDeleteWithoutRecovery"] = false))).toStrictEqual({
      mode: "recoverable",
      recoveryWindowDays: 7,
    });
  });

  it("refuses a recovery window that is not a number of days", () => {
    const result = normalize(event("cloudtrail-deletesecret-recovery", (body) => (params(body)["recoveryWindowInDays"] = "7")));
    expect(result).toMatchObject({ outcome: "rejected", reason: "invalid_detail" });
  });
});

describe("scope", () => {
  const elsewhere = (account: string, region: string, name: string) =>
    `arn:aws:secretsmanager:${region}:${account}:secret:${name}-AbC123`;

  it.each([
    ["account", "210987654321", "us-east-1", DB],
    ["region", "123456789012", "ap-southeast-2", DB],
    ["name prefix", "123456789012", "us-east-1", "prod/billing/db-credentials"],
  ])("puts a secret from another %s out of scope", (_, account, region, name) => {
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body["account"] = account;
        body["region"] = region;
        body.detail["responseElements"] = { arn: elsewhere(account, region, name) };
        params(body)["secretId"] = name;
      }),
    );
    expect(result).toStrictEqual({ outcome: "out_of_scope", reason: "no_matching_rule", secret: { account, region, name } });
  });

  it("locates the secret by its ARN when a cross-account call is recorded in the caller's account", () => {
    const result = normalize(event("cloudtrail-putsecretvalue", (body) => (body["account"] = "210987654321")));
    expect(awsOriginOf(mutationOf(result)).account).toBe("123456789012");
  });

  it("never replicates EventBridge connection secrets, even under a rule that selects every name", () => {
    const name = "events!connection/secret-replicator-conn/3933a80a-337f-47a3-89a4-13087abae770";
    const result = normalize(
      event("cloudtrail-createsecret", (body) => {
        body["region"] = "eu-west-1";
        params(body)["name"] = name;
        body.detail["responseElements"] = { arn: elsewhere("123456789012", "eu-west-1", name) };
      }),
    );
    expect(result).toMatchObject({ outcome: "out_of_scope", reason: "excluded_name" });
  });

  it("answers the first matching rule", () => {
    const rules = parseRules(
      JSON.stringify({
        rules: ["first", "second"].map((id) => ({
          id,
          source: { cloud: "aws", accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/"] },
          destination: { cloud: "azure", vaultUrl: `https://${id}.vault.azure.net` },
        })),
      }),
    );
    const result = normalizeEventBridge(loadFixture("aws-cloudtrail-putsecretvalue.json"), rules);
    expect(mutationOf(result).data.rule).toBe("first");
  });
});

describe("the published event", () => {
  it("round-trips through the bus codec unchanged", () => {
    const built = mutationOf(normalize(loadFixture("aws-cloudtrail-putsecretvalue.json")));
    expect(decodeMutationEvent(encodeEvent(built))).toStrictEqual(built);
  });

  it("has no key outside the schema", () => {
    const built = mutationOf(normalize(loadFixture("aws-cloudtrail-putsecretvalue.json")));
    const json = JSON.parse(JSON.stringify(built)) as Record<string, Record<string, unknown>>;
    expect(Object.keys(mutationEventSchema.shape)).toEqual(expect.arrayContaining(Object.keys(json)));
    expect(Object.keys(mutationDataSchema.shape)).toEqual(expect.arrayContaining(Object.keys(json["data"] ?? {})));
  });

  it("carries nothing from requestParameters but identifiers", () => {
    const built = mutationOf(
      normalize(
        event("cloudtrail-putsecretvalue", (body) => {
          Object.assign(params(body), { secretString: "MARKER-value", secretBinary: "TUFSS0VS", rotationToken: "MARKER-t" });
        }),
      ),
    );
    const text = new TextDecoder().decode(encodeEvent(built));
    expect(text).not.toContain("MARKER");
    expect(text).not.toContain("TUFSS0VS");
  });

  it("refuses, rather than throws, when the schema refuses the result (a 600-character name)", () => {
    const name = `prod/payments/${"a".repeat(600)}`;
    const result = normalize(
      event("cloudtrail-putsecretvalue", (body) => {
        body.detail["responseElements"] = { arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbC123` };
      }),
    );
    expect(result).toMatchObject({ outcome: "rejected", reason: "schema_violation" });
    expect(JSON.stringify(result)).not.toContain("aaaa");
  });

  it("is frozen", () => {
    const built = mutationOf(normalize(loadFixture("aws-cloudtrail-putsecretvalue.json")));
    expect(Object.isFrozen(built.data.origin)).toBe(true);
  });
});

describe("reason tables", () => {
  it("gives every reject reason a status and a summary", () => {
    expect(Object.keys(REJECT_STATUS).sort()).toEqual(Object.keys(REJECT_REASONS).sort());
    expect(new Set(Object.values(REJECT_STATUS))).toStrictEqual(new Set([400, 422]));
    for (const summary of [...Object.values(REJECT_REASONS), ...Object.values(IGNORE_REASONS)]) {
      expect(summary).toMatch(/^\S.{10,120}$/);
    }
  });
});
