import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CredmeshError, REASONS, type ReasonCode } from "@credmesh/errors";
import { DECISION } from "@credmesh/metrics";
import { buildAuditRecord, decodeAuditRecord, type AuditRecord } from "./audit.ts";
import { buildMutationEvent } from "./codec.ts";
import { buildDeadLetterRecord, decodeDeadLetterRecord } from "./dead-letter.ts";
import { rejection } from "./test-support.ts";
import { encoded } from "./wire.ts";

const event = buildMutationEvent({
  id: "c232624c-a4da-4662-b9a6-0bb0fae0893e",
  data: {
    kind: "upsert",
    rule: "payments-to-azure",
    destination: { cloud: "azure" },
    origin: {
      cloud: "aws",
      account: "123456789012",
      region: "us-east-1",
      secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-credentials-Xa9TqZ",
      secretName: "prod/payments/db-credentials",
      versionId: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
    },
    trigger: { source: "aws.eventbridge", eventId: "c232624c-a4da-4662-b9a6-0bb0fae0893e", eventName: "PutSecretValue", eventTime: "2025-06-02T14:03:11Z" },
  },
});
const destination = { cloud: "azure" as const, vault: "https://payments-kv.vault.azure.net", name: "prod-payments-db-credentials-h0123456789" };
const at = new Date("2025-06-02T14:03:12.345Z");

describe("audit records", () => {
  it("takes the mutation's identifiers from the event and round-trips through the bus", () => {
    const record = buildAuditRecord({ event, decision: DECISION.applied, at, cell: "azure-1", destination: { ...destination, versionId: "0123456789abcdef0123456789abcdef" }, originVersion: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962" });
    expect(record).toEqual({
      decision: "applied",
      at: "2025-06-02T14:03:12.345Z",
      correlationId: event.correlationid,
      eventId: event.id,
      rule: "payments-to-azure",
      kind: "upsert",
      origin: event.data.origin,
      originVersion: "b4443c99-dd1a-47c8-8de1-5f3a3e4de962",
      destination: { ...destination, versionId: "0123456789abcdef0123456789abcdef" },
      cell: "azure-1",
    });
    expect(Object.isFrozen(record.destination)).toBe(true);
    expect(decodeAuditRecord(encoded(record))).toEqual(record);
  });

  it("accepts every decision the replicator makes, and the reconciler's run and reason", () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(DECISION)), (decision) => {
        const record = buildAuditRecord({ event, decision, at, cell: "azure-1", destination });
        expect(decodeAuditRecord(encoded(record)).decision).toBe(decision);
      }),
    );
    const reconciled = buildAuditRecord({ event, decision: DECISION.reconciled, at, cell: "azure-1", destination, detail: "reconcile: stale", reconcile: { runId: "run-1", reason: "stale" } });
    expect(reconciled).toMatchObject({ runId: "run-1", reason: "stale", detail: "reconcile: stale" });
  });

  it("refuses a record that is not one, naming the field and never echoing the value", () => {
    const secret = "hunter2-value-that-must-not-leak";
    const record = buildAuditRecord({ event, decision: DECISION.applied, at, cell: "azure-1", destination });
    for (const tampered of [
      { ...record, decision: secret },
      { ...record, rule: `${secret}!` },
      { ...record, origin: { ...record.origin, value: secret } },
      { ...record, at: secret },
    ]) {
      const error = rejection(() => decodeAuditRecord(encoded(tampered)));
      expect(error.message).not.toContain(secret);
      expect(error.message).toMatch(/^invalid audit record: /);
    }
    expect(rejection(() => decodeAuditRecord(new TextEncoder().encode("{"))).issues).toEqual(["body is not UTF-8 JSON"]);
  });

  it("drops fields it does not know when decoding (a newer writer's), and never keeps them", () => {
    const record = buildAuditRecord({ event, decision: DECISION.skippedDuplicate, at, cell: "azure-1", destination });
    const decoded: AuditRecord = decodeAuditRecord(encoded({ ...record, futureField: "x", destination: { ...record.destination, extra: 1 } }));
    expect(decoded).toEqual(record);
  });

  it("caps a long detail rather than losing the record", () => {
    const record = buildAuditRecord({ event, decision: DECISION.deadLettered, at, cell: "azure-1", destination: { cloud: "azure", vault: "", name: "" }, detail: "x".repeat(5_000) });
    expect(record.detail).toHaveLength(1_024);
  });
});

describe("dead-letter records", () => {
  const base = { at, cell: "azure-1", deliveries: 10, stream: "CREDMESH_MUTATIONS", streamSequence: 42, subject: "credmesh.mutation.azure.p07" };

  it("carries the sanitized error and the mutation, and round-trips through the bus", () => {
    const error = new CredmeshError("throttled", "keyvault SetSecret failed (Throttled, HTTP 429)", { code: "Throttled", status: 429 }).toRecord();
    const record = buildDeadLetterRecord({ ...base, error, event });
    expect(record).toEqual({
      ...base,
      at: "2025-06-02T14:03:12.345Z",
      error: { reason: "throttled", retryable: true, message: "keyvault SetSecret failed (Throttled, HTTP 429)", code: "Throttled", status: 429 },
      event,
    });
    expect(decodeDeadLetterRecord(encoded(record))).toEqual(record);
  });

  it("holds no event for a message that could not be decoded", () => {
    const record = buildDeadLetterRecord({ ...base, error: new CredmeshError("invalid_event", "message 42 is not a valid mutation event").toRecord() });
    expect(record.event).toBeUndefined();
    expect(decodeDeadLetterRecord(encoded(record))).toEqual(record);
  });

  it("accepts every failure reason, and refuses anything else", () => {
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(REASONS) as ReasonCode[])), (reason) => {
        const record = buildDeadLetterRecord({ ...base, error: new CredmeshError(reason, "m").toRecord(), event });
        expect(decodeDeadLetterRecord(encoded(record)).error.reason).toBe(reason);
      }),
    );
    const record = buildDeadLetterRecord({ ...base, error: new CredmeshError("validation", "m").toRecord(), event });
    expect(rejection(() => decodeDeadLetterRecord(encoded({ ...record, error: { ...record.error, reason: "made_up" } }))).issues[0]).toMatch(/^error\.reason: /);
  });

  it("checks the event inside as strictly as the mutation stream does", () => {
    const record = buildDeadLetterRecord({ ...base, error: new CredmeshError("validation", "m").toRecord(), event });
    const smuggled = { ...record, event: { ...event, data: { ...event.data, value: "s3cr3t" } } };
    const error = rejection(() => decodeDeadLetterRecord(encoded(smuggled)));
    expect(error.issues.join()).toMatch(/^event\.data/);
    expect(error.message).not.toContain("s3cr3t");
  });
});
