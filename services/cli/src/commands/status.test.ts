import { describe, expect, it } from "vitest";
import { buildAuditRecord, buildMutationEvent, type AuditRecord } from "@credmesh/events";
import { awsMutation } from "../dead-letters/test-fixtures.ts";
import { lastAuditPerRule, renderStatus, type StatusReport } from "./status.ts";

let seq = 0;
const stored = (record: unknown, subject = "credmesh.audit.azure.applied") => ({
  seq: ++seq,
  subject,
  time: new Date("2025-06-02T14:00:00Z"),
  data: new TextEncoder().encode(JSON.stringify(record)),
});
const azureMutation = buildMutationEvent({
  id: "3f2a1c9e-0b7d-4c1a-9e55-6a8d2f4b7c10",
  data: {
    kind: "upsert",
    rule: "r2",
    destination: { cloud: "aws" },
    origin: { cloud: "azure", vaultName: "Kv1", secretName: "Prod-B" },
    trigger: { source: "azure.eventgrid", eventName: "Microsoft.KeyVault.SecretNewVersionCreated", eventTime: "2025-06-02T14:00:00Z" },
  },
});
const audit = (decision: AuditRecord["decision"], at: string, event = awsMutation({ id: `event-${at}` })): AuditRecord =>
  buildAuditRecord({ event, decision, at: new Date(at), cell: "cell-1", destination: { cloud: event.data.destination.cloud, vault: "v", name: "n" } });

describe("lastAuditPerRule", () => {
  it("keeps the last record of each rule and when it last wrote; skips what is not an audit record", () => {
    const rules = lastAuditPerRule([
      stored(audit("applied", "2025-06-02T14:00:01.000Z")),
      stored(audit("skipped_duplicate", "2025-06-02T14:00:02.000Z"), "credmesh.audit.azure.skipped_duplicate"),
      stored(audit("applied", "2025-06-02T14:00:03.000Z", azureMutation), "credmesh.audit.aws.applied"),
      stored({ nonsense: true }),
      { seq: 99, subject: "credmesh.audit.azure.applied", time: new Date(), data: new TextEncoder().encode("{") },
    ]);
    expect(rules).toEqual([
      {
        rule: "payments-to-azure",
        destination: "azure",
        decision: "skipped_duplicate",
        at: "2025-06-02T14:00:02.000Z",
        secret: "aws/123456789012/us-east-1/prod/payments/db-password",
        correlationId: "event-2025-06-02T14:00:02.000Z",
        lastWriteAt: "2025-06-02T14:00:01.000Z",
      },
      { rule: "r2", destination: "aws", decision: "applied", at: "2025-06-02T14:00:03.000Z", secret: "azure/kv1/prod-b", correlationId: azureMutation.id, lastWriteAt: "2025-06-02T14:00:03.000Z" },
    ]);
  });

  it("shows no field of an audit record beyond the identifiers, and refuses a tampered origin", () => {
    const record = audit("applied", "2025-06-02T14:00:01.000Z");
    const smuggled = { ...record, detail: "s3cr3t-value", value: "s3cr3t-value" };
    const tampered = { ...record, origin: { ...record.origin, value: "s3cr3t-value" } };
    const rules = lastAuditPerRule([stored(smuggled), stored(tampered)]);
    expect(rules).toHaveLength(1);
    expect(JSON.stringify(rules)).not.toContain("s3cr3t-value");
  });
});

describe("renderStatus", () => {
  it("says when no quarantine state exists yet", () => {
    const report: StatusReport = { cells: undefined, destinations: [], streams: [], rules: [], audit: { window: 1, scanned: 0, complete: true } };
    expect(renderStatus(report).split("\n").slice(-2)).toEqual(["Cells", "no quarantine state yet (no identity-watcher or replicator has started)"]);
  });

  it("prints consumers per destination, streams and the per-rule summary", () => {
    const report: StatusReport = {
      cells: [
        { cell: "e2e-azure-1", state: "quarantined", since: "2025-06-02T14:00:00.250Z", by: "alice", trigger: "operator", reason: "key seen in a CI log" },
        { cell: "e2e-aws-1", state: "active", since: "2025-06-01T09:00:00Z", by: "bob", trigger: "operator", reason: "rotated" },
      ],
      destinations: [
        { destination: "aws", consumers: [], mutations: 0, deadLetters: 0 },
        {
          destination: "azure",
          consumers: [
            { name: "replicator-azure-p00", pending: 3, ackPending: 1, redelivered: 0, waiting: 1, lastActive: "2025-06-02T14:00:00Z", pinned: true },
            { name: "replicator-azure-p01", pending: 2, ackPending: 0, redelivered: 1, waiting: 0, lastActive: undefined, pinned: false },
          ],
          mutations: 12,
          deadLetters: 2,
        },
      ],
      streams: [
        { name: "CREDMESH_MUTATIONS", missing: false, messages: 12, bytes: 4096, firstSeq: 1, lastSeq: 12, consumers: 1 },
        { name: "CREDMESH_LIFECYCLE", missing: true, messages: 0, bytes: 0, firstSeq: 0, lastSeq: 0, consumers: 0 },
      ],
      rules: [{ rule: "r1", destination: "azure", decision: "applied", at: "2025-06-02T14:00:01.5Z", secret: "aws/1/r/a", correlationId: "c1", lastWriteAt: "2025-06-02T14:00:01.5Z" }],
      audit: { window: 10_000, scanned: 7, complete: true },
    };
    expect(renderStatus(report)).toBe(
      [
        "Destination aws",
        "no replicator consumer (replicator-aws*) on CREDMESH_MUTATIONS",
        "mutations stored: 0   dead letters: 0",
        "",
        "Destination azure",
        "CONSUMER              PENDING  ACK PENDING  REDELIVERED  WAITING  PINNED  LAST ACTIVE",
        "replicator-azure-p00  3        1            0            1        yes     2025-06-02T14:00:00Z",
        "replicator-azure-p01  2        0            1            0        no      -",
        "total pending: 5   ack pending: 1",
        "mutations stored: 12   dead letters: 2 (credmesh dlq list --destination azure)",
        "",
        "Streams",
        "STREAM              MESSAGES  BYTES    FIRST SEQ  LAST SEQ  CONSUMERS",
        "CREDMESH_MUTATIONS  12        4.0 KiB  1          12        1",
        "CREDMESH_LIFECYCLE  MISSING   -        -          -         -",
        "",
        "Last audit record per rule (from the last 7 audit records)",
        "RULE  DEST   DECISION  AT                    SECRET     CORRELATION ID  LAST WRITE",
        "r1    azure  applied   2025-06-02T14:00:01Z  aws/1/r/a  c1              2025-06-02T14:00:01Z",
        "",
        "Cells (1 QUARANTINED)",
        "CELL         STATE        SINCE                 BY     TRIGGER   REASON",
        "e2e-azure-1  QUARANTINED  2025-06-02T14:00:00Z  alice  operator  key seen in a CI log",
        "e2e-aws-1    active       2025-06-01T09:00:00Z  bob    operator  rotated",
      ].join("\n"),
    );
  });
});
