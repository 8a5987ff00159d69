import { describe, expect, it } from "vitest";
import { buildMutationEvent, decodeMutationEvent, encodeEvent, partitionOfEvent } from "@credmesh/events";
import { correctiveEvent, correctiveEventId, originOf } from "./corrective.ts";

const NOW = new Date("2026-11-22T10:00:00Z");
const aws = { cloud: "aws" as const, account: "123456789012", region: "us-east-1", name: "prod/db", arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-Ab12Cd" };

describe("corrective mutations", () => {
  it("are valid mutation events from the reconciler, with a deterministic id that is also the message id", () => {
    const input = { destination: "azure" as const, kind: "sync" as const, rule: "r", origin: originOf(aws, "v2"), state: "v2", reason: "stale", correlationId: "reconcile-run-1", now: NOW };
    const event = correctiveEvent(input);
    expect(event.id).toBe("reconcile:azure:aws/123456789012/us-east-1/prod/db:v2:stale");
    expect(correctiveEvent({ ...input, correlationId: "reconcile-run-2", now: new Date() }).id).toBe(event.id);
    expect(event.data.trigger).toEqual({ source: "reconciler", eventId: event.id, eventName: "Reconcile", eventTime: NOW.toISOString() });
    expect(event.data.origin).toEqual({ cloud: "aws", account: "123456789012", region: "us-east-1", secretId: aws.arn, secretName: "prod/db", versionId: "v2" });
    expect(decodeMutationEvent(encodeEvent(event))).toEqual(event);
  });

  it("land in the same partition as the cloud's own events for the secret, so per-secret order holds", () => {
    const corrective = correctiveEvent({ destination: "azure", kind: "sync", rule: "r", origin: originOf(aws), state: "v2", reason: "missing", correlationId: "c", now: NOW });
    const fromIngest = buildMutationEvent({
      id: "eventbridge-id",
      data: {
        kind: "upsert",
        rule: "r",
        destination: { cloud: "azure" },
        origin: { cloud: "aws", account: "123456789012", region: "us-east-1", secretId: aws.arn },
        trigger: { source: "aws.eventbridge", eventName: "PutSecretValue", eventTime: NOW.toISOString() },
      },
    });
    expect(corrective.subject).toBe(fromIngest.subject);
    expect(partitionOfEvent(corrective, 16)).toBe(partitionOfEvent(fromIngest, 16));
  });

  it("carry a recoverable deletion for deletes: the reconciler never infers a purge", () => {
    const event = correctiveEvent({ destination: "azure", kind: "delete", rule: "r", origin: originOf(aws), state: "gone", reason: "source_gone", correlationId: "c", now: NOW });
    expect(event.data.deletion).toEqual({ mode: "recoverable" });
    expect(event.data.origin).not.toHaveProperty("versionId");
  });

  it("keep ids within 256 characters for the longest AWS names", () => {
    const long = originOf({ ...aws, name: `prod/${"x".repeat(507)}`, arn: undefined });
    const id = correctiveEventId("azure", long, "0123456789abcdef0123456789abcdef", "replica_deleted@1790000000");
    expect(id.length).toBeLessThanOrEqual(256);
    expect(id).toMatch(/^reconcile:azure:sha256-[0-9a-f]{40}:0123456789abcdef0123456789abcdef:replica_deleted@1790000000$/);
    expect(correctiveEventId("azure", { ...long, secretName: `prod/${"y".repeat(507)}` }, "v", "r")).not.toBe(correctiveEventId("azure", long, "v", "r"));
  });

  it("name Key Vault origins by vault and name, with the version the listing told", () => {
    expect(originOf({ cloud: "azure", vault: "payments-kv", name: "app-token" }, "0123456789abcdef0123456789abcdef")).toEqual({
      cloud: "azure",
      vaultName: "payments-kv",
      secretName: "app-token",
      versionId: "0123456789abcdef0123456789abcdef",
    });
    expect(originOf({ cloud: "azure", vault: "payments-kv", name: "app-token" })).not.toHaveProperty("versionId");
  });
});
