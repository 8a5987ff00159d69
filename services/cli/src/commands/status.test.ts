import { describe, expect, it } from "vitest";
import { lastAuditPerRule, renderStatus, type StatusReport } from "./status.ts";

let seq = 0;
const audit = (record: Record<string, unknown>, subject = "credmesh.audit.azure.applied") => ({
  seq: ++seq,
  subject,
  time: new Date("2025-06-02T14:00:00Z"),
  data: new TextEncoder().encode(JSON.stringify(record)),
});
const origin = { cloud: "aws", account: "123456789012", region: "us-east-1", secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/a-AbCdEf", secretName: "prod/a" };

describe("lastAuditPerRule", () => {
  it("keeps the last record of each rule and when it last wrote", () => {
    const rules = lastAuditPerRule([
      audit({ decision: "applied", at: "2025-06-02T14:00:01Z", rule: "r1", origin, destination: { cloud: "azure", name: "prod-a" }, correlationId: "c1" }),
      audit({ decision: "skipped_duplicate", at: "2025-06-02T14:00:02Z", rule: "r1", origin, destination: { cloud: "azure" }, correlationId: "c2" }, "credmesh.audit.azure.skipped_duplicate"),
      audit({ decision: "applied", at: "2025-06-02T14:00:03Z", rule: "r2", origin: { cloud: "azure", vaultName: "Kv1", secretName: "Prod-B" }, destination: { cloud: "aws" }, correlationId: "c3" }, "credmesh.audit.aws.applied"),
      audit({ nonsense: true }),
      { seq: 99, subject: "credmesh.audit.azure.applied", time: new Date(), data: new TextEncoder().encode("{") },
    ]);
    expect(rules).toEqual([
      { rule: "r1", destination: "azure", decision: "skipped_duplicate", at: "2025-06-02T14:00:02Z", secret: "aws/123456789012/us-east-1/prod/a", correlationId: "c2", lastWriteAt: "2025-06-02T14:00:01Z" },
      { rule: "r2", destination: "aws", decision: "applied", at: "2025-06-02T14:00:03Z", secret: "azure/kv1/prod-b", correlationId: "c3", lastWriteAt: "2025-06-02T14:00:03Z" },
    ]);
  });

  it("shows no field of an audit record beyond the identifiers", () => {
    const rules = lastAuditPerRule([audit({ decision: "applied", rule: "r1", origin: { ...origin, value: "s3cr3t-value" }, detail: "s3cr3t-value", value: "s3cr3t-value" })]);
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
