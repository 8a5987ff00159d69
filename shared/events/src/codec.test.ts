import fc from "fast-check";
import { rejection } from "./test-support.ts";
import { InvalidEventError } from "./wire.ts";
import { describe, expect, it } from "vitest";
import {
  buildMutationEvent,
  decodeMutationEvent,
  destinationOf,
  encodeEvent,
  partitionOfEvent,
  secretKeyOf,
} from "./codec.ts";
import { MUTATION_EVENT_TYPE, type MutationData, type MutationEvent } from "./schema.ts";

const SECRET = "hunter2-s3cr3t-value";
const ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-credentials-Xa9TqZ";
const EVENT_ID = "6a7e8feb-b491-4cf7-a9f1-bf3703467718";

function awsData(overrides: Partial<MutationData> = {}): MutationData {
  return {
    kind: "upsert",
    rule: "payments-to-azure",
    destination: { cloud: "azure" },
    origin: {
      cloud: "aws",
      account: "123456789012",
      region: "us-east-1",
      secretId: ARN,
      secretName: "prod/payments/db-credentials",
      versionId: "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
    },
    trigger: {
      source: "aws.eventbridge",
      eventId: EVENT_ID,
      eventName: "PutSecretValue",
      eventTime: "2025-06-01T12:00:00Z",
      actor: { type: "AssumedRole", arn: "arn:aws:sts::123456789012:assumed-role/deployer/ci" },
    },
    ...overrides,
  };
}

function azureData(): MutationData {
  return {
    kind: "delete",
    rule: "kv-to-aws",
    destination: { cloud: "aws" },
    origin: { cloud: "azure", vaultName: "Payments-KV", secretName: "DB-Credentials", versionId: "0123456789abcdef0123456789abcdef" },
    deletion: { mode: "recoverable", recoveryWindowDays: 30 },
    trigger: { source: "reconciler", eventName: "SecretMissing", eventTime: "2025-06-01T12:00:00.123+02:00" },
  };
}

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** `event` as bytes from the bus, with each `[dotted.path, value]` edit applied. */
function tampered(event: MutationEvent, ...edits: Array<[path: string, value: unknown]>): Uint8Array {
  const copy = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  for (const [path, value] of edits) {
    const keys = path.split(".");
    const last = keys.pop() as string;
    let target = copy;
    for (const key of keys) target = target[key] as Record<string, unknown>;
    target[last] = value;
  }
  return bytes(copy);
}

/** The error decode raises for `input`; fails the test if it decodes. */
const rejectionOf = (input: Uint8Array): InvalidEventError => rejection(() => decodeMutationEvent(input));

describe("buildMutationEvent", () => {
  it("builds a CloudEvents 1.0 envelope whose id is the sender's event id", () => {
    const event = buildMutationEvent({ data: awsData() });
    expect(event).toMatchObject({
      specversion: "1.0",
      id: EVENT_ID,
      type: MUTATION_EVENT_TYPE,
      source: "credmesh/ingest/aws/123456789012/us-east-1",
      subject: "aws/123456789012/us-east-1/prod/payments/db-credentials",
      time: "2025-06-01T12:00:00Z",
      datacontenttype: "application/json",
      correlationid: EVENT_ID,
    });
  });

  it("uses an explicit id and correlation id when given", () => {
    const event = buildMutationEvent({ id: "replay-1", correlationId: "corr-42", data: awsData() });
    expect(event.id).toBe("replay-1");
    expect(event.correlationid).toBe("corr-42");
  });

  it("makes up a fresh UUID when the sender gave no id", () => {
    const data = azureData();
    const first = buildMutationEvent({ data });
    const second = buildMutationEvent({ data });
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second.id).not.toBe(first.id);
    expect(first.correlationid).toBe(first.id);
  });

  it("names an Azure origin by its lower-cased vault", () => {
    expect(buildMutationEvent({ data: azureData() }).source).toBe("credmesh/ingest/azure/payments-kv");
  });

  it("freezes the event at every depth", () => {
    const event = buildMutationEvent({ data: awsData() });
    expect(Object.isFrozen(event)).toBe(true);
    expect(Object.isFrozen(event.data)).toBe(true);
    expect(Object.isFrozen(event.data.origin)).toBe(true);
    expect(Object.isFrozen(event.data.trigger.actor)).toBe(true);
    expect(() => {
      (event.data.origin as { secretId: string }).secretId = "other";
    }).toThrow(TypeError);
  });

  it("is not affected by later changes to the caller's input", () => {
    const data = awsData();
    const event = buildMutationEvent({ data });
    (data.origin as { secretName?: string }).secretName = "changed";
    expect(event.data.origin).toMatchObject({ secretName: "prod/payments/db-credentials" });
  });

  it("refuses invalid input with the path of each problem", () => {
    const data = awsData({ rule: "no spaces allowed" });
    (data.origin as { account: string }).account = "12345";
    const error = rejection(() => buildMutationEvent({ data }));
    expect(error.issues.some((issue) => issue.startsWith("data.rule:"))).toBe(true);
    expect(error.issues).toContain("data.origin.account: an AWS account id has 12 digits");
  });

  it("refuses a value smuggled into its data at runtime", () => {
    const data = { ...awsData(), value: SECRET } as unknown as MutationData;
    expect(() => buildMutationEvent({ data })).toThrow(InvalidEventError);
  });
});

describe("encodeEvent / decodeMutationEvent", () => {
  it.each([
    ["an AWS upsert", awsData()],
    ["an Azure delete", azureData()],
  ])("round-trips %s unchanged", (_, data) => {
    const event = buildMutationEvent({ data });
    const decoded = decodeMutationEvent(encodeEvent(event));
    expect(decoded).toStrictEqual(event);
    expect(Object.isFrozen(decoded.data.origin)).toBe(true);
  });

  it("round-trips any valid AWS secret name and kind", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(..."abcXYZ019/_+=.@-"), minLength: 1, maxLength: 512 }),
        fc.constantFrom("upsert", "delete", "restore", "sync"),
        (secretName, kind) => {
          const data = awsData({ kind });
          (data.origin as { secretName?: string }).secretName = secretName;
          const event = buildMutationEvent({ data });
          expect(decodeMutationEvent(encodeEvent(event))).toStrictEqual(event);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ["not JSON", new TextEncoder().encode("PutSecretValue")],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
    ["empty", new Uint8Array()],
  ])("rejects a body that is %s", (_, input) => {
    expect(rejectionOf(input).issues).toEqual(["body is not UTF-8 JSON"]);
  });

  it.each([
    ["null", null],
    ["an array", []],
    ["a string", "event"],
  ])("rejects JSON that is %s", (_, value) => {
    expect(rejectionOf(bytes(value)).issues[0]).toMatch(/^\(root\): /);
  });

  const event = buildMutationEvent({ data: awsData() });

  it("rejects another event type", () => {
    const error = rejectionOf(tampered(event, ["type", "io.credmesh.secret.mutation.v2"]));
    expect(error.issues[0]).toMatch(/^type: /);
  });

  it("rejects another spec version", () => {
    expect(rejectionOf(tampered(event, ["specversion", "0.3"])).issues[0]).toMatch(/^specversion: /);
  });

  it("rejects a bad account id and a bad region", () => {
    const error = rejectionOf(
      tampered(event, ["data.origin.account", "1234567890123"], ["data.origin.region", "US-EAST-1"]),
    );
    expect(error.issues).toEqual(["data.origin.account: an AWS account id has 12 digits", "data.origin.region: not an AWS region"]);
  });

  it("rejects an unknown kind and an unknown destination cloud", () => {
    const error = rejectionOf(
      tampered(event, ["data.kind", "purge"], ["data.destination.cloud", "gcp"]),
    );
    expect(error.issues.map((issue) => issue.split(":")[0])).toEqual(["data.kind", "data.destination.cloud"]);
  });

  it("rejects a time without a zone", () => {
    expect(rejectionOf(tampered(event, ["time", "2025-06-01T12:00:00"])).issues[0]).toMatch(/^time: /);
  });

  it("rejects an Azure version id that is not 32 hex digits", () => {
    const azure = buildMutationEvent({ data: azureData() });
    expect(rejectionOf(tampered(azure, ["data.origin.versionId", "v1"])).issues[0]).toMatch(/^data\.origin\.versionId: /);
  });

  describe("a secret value cannot be smuggled into an event", () => {
    // Every object in the event is strict: no extra field at any level passes the schema.
    const places = ["", "data.", "data.origin.", "data.destination.", "data.trigger.", "data.trigger.actor."];
    const fields = ["value", "SecretString", "SecretBinary", "secret", "data"];

    for (const place of places) {
      it.each(fields)(`rejects a "%s" field in ${place || "the envelope"}, without echoing it`, (field) => {
        const error = rejectionOf(tampered(event, [`${place}${field}`, SECRET]));
        expect(error.message).not.toContain(SECRET);
        expect(error.issues.join("\n")).not.toContain(SECRET);
      });
    }

    it("rejects a value in data.deletion", () => {
      const azure = buildMutationEvent({ data: azureData() });
      const error = rejectionOf(tampered(azure, ["data.deletion.value", SECRET]));
      expect(error.message).not.toContain(SECRET);
    });

    it("rejects a value carried as a CloudEvents extension attribute", () => {
      const error = rejectionOf(tampered(event, ["credmeshvalue", SECRET]));
      expect(error.message).not.toContain(SECRET);
    });

    it("never echoes a bad value in its issues", () => {
      const error = rejectionOf(
        tampered(event, ["data.origin.account", SECRET], ["data.rule", `${SECRET}!`], ["correlationid", `${SECRET} `]),
      );
      expect(error.issues).toHaveLength(3);
      expect(error.message).not.toContain(SECRET);
    });
  });
});

describe("secretKeyOf", () => {
  const aws = { cloud: "aws", account: "123456789012", region: "us-east-1" } as const;

  it("keys an AWS secret by account, region and name", () => {
    expect(secretKeyOf({ ...aws, secretId: ARN, secretName: "prod/payments/db-credentials" })).toBe(
      "aws/123456789012/us-east-1/prod/payments/db-credentials",
    );
  });

  it("reads the name from the ARN when the event did not give it", () => {
    expect(secretKeyOf({ ...aws, secretId: ARN })).toBe("aws/123456789012/us-east-1/prod/payments/db-credentials");
  });

  it("falls back to the id as typed when it is not an ARN", () => {
    expect(secretKeyOf({ ...aws, secretId: "prod/db" })).toBe("aws/123456789012/us-east-1/prod/db");
  });

  it("gives an event by ARN and an event by name the same key", () => {
    expect(secretKeyOf({ ...aws, secretId: ARN })).toBe(secretKeyOf({ ...aws, secretId: "prod/payments/db-credentials" }));
  });

  it("keeps AWS names case-sensitive, as AWS does", () => {
    expect(secretKeyOf({ ...aws, secretId: "Prod/DB" })).not.toBe(secretKeyOf({ ...aws, secretId: "prod/db" }));
  });

  it("lower-cases Azure vault and secret names, which Key Vault compares case-insensitively", () => {
    expect(secretKeyOf({ cloud: "azure", vaultName: "Payments-KV", secretName: "DB-Credentials" })).toBe(
      "azure/payments-kv/db-credentials",
    );
    expect(secretKeyOf({ cloud: "azure", vaultName: "payments-kv", secretName: "db-credentials" })).toBe(
      "azure/payments-kv/db-credentials",
    );
  });
});

describe("partitionOfEvent / destinationOf", () => {
  it("puts every mutation of one secret in the same partition", () => {
    const upsert = buildMutationEvent({ id: "e1", data: awsData() });
    const deletion = awsData({ kind: "delete", deletion: { mode: "recoverable", recoveryWindowDays: 7 } });
    (deletion.origin as { secretName?: string }).secretName = undefined;
    const byArn = buildMutationEvent({ id: "e2", data: deletion });
    expect(partitionOfEvent(byArn, 16)).toBe(partitionOfEvent(upsert, 16));
  });

  it("puts differently cased events for one Key Vault secret in the same partition", () => {
    const data = azureData();
    const lower = azureData();
    (lower.origin as { secretName: string }).secretName = "db-credentials";
    expect(partitionOfEvent(buildMutationEvent({ data }), 16)).toBe(partitionOfEvent(buildMutationEvent({ data: lower }), 16));
  });

  it("reads the destination cloud", () => {
    expect(destinationOf(buildMutationEvent({ data: awsData() }))).toBe("azure");
    expect(destinationOf(buildMutationEvent({ data: azureData() }))).toBe("aws");
  });
});
