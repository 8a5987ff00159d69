import { describe, expect, it } from "vitest";
import { parseReconcileReply, reconcileExitCode, renderReconcileResult, type ReconcileResult } from "./reconcile.ts";

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

describe("reconcile replies", () => {
  it("keeps only the identifier fields of a report with secrets named as strings", () => {
    const result = parseReconcileReply(
      "azure",
      bytes({
        actions: [{ action: "upsert", secret: "aws/123456789012/us-east-1/prod/db", reason: "missing", value: "leaked?" }],
        counts: { listed: 10, in_sync: 9, missing: 1, note: "x" },
        errors: [{ secret: "aws/123456789012/us-east-1/prod/other", reason: "access_denied", message: "GetSecretValue denied", stack: "leaked?" }],
        extra: { value: "leaked?" },
      }),
    );
    expect(result).toEqual({
      destination: "azure",
      outcome: "ok",
      report: {
        runId: undefined,
        cell: undefined,
        durationMs: undefined,
        truncated: false,
        actions: [{ action: "upsert", secret: "aws/123456789012/us-east-1/prod/db", reason: "missing" }],
        counts: { listed: 10, in_sync: 9, missing: 1 },
        errors: [{ scope: "aws/123456789012/us-east-1/prod/other", reason: "access_denied", message: "GetSecretValue denied" }],
      },
    });
    expect(JSON.stringify(result)).not.toContain("leaked?");
  });

  it("reads findings that name the source identity and the destination", () => {
    const result = parseReconcileReply(
      "azure",
      bytes({
        runId: "r-1",
        cell: "azure-1",
        durationMs: 1234,
        dryRun: false,
        truncated: true,
        counts: { sync: 1, delete: 0, orphan: 0, conflict: 1, unchanged: 7, errors: 1 },
        actions: [
          {
            action: "sync",
            reason: "stale",
            rule: "aws-to-azure",
            source: { cloud: "aws", account: "123456789012", region: "us-east-1", name: "prod/db", versionId: "v2" },
            destination: { vault: "payments-kv", name: "prod-db-h0123456789" },
            eventId: "reconcile:abc",
            status: "published",
          },
          { action: "conflict", reason: "unmanaged_destination", destination: { vault: "payments-kv", name: "foreign" }, status: "reported" },
        ],
        errors: [{ scope: "list aws/us-east-1", reason: "throttled", message: "ListSecrets throttled", rule: "aws-to-azure" }],
      }),
    );
    expect(result.report).toEqual({
      runId: "r-1",
      cell: "azure-1",
      durationMs: 1234,
      truncated: true,
      actions: [
        {
          action: "sync",
          reason: "stale",
          status: "published",
          rule: "aws-to-azure",
          secret: "aws/123456789012/us-east-1/prod/db@v2",
          destination: "payments-kv/prod-db-h0123456789",
          eventId: "reconcile:abc",
        },
        { action: "conflict", reason: "unmanaged_destination", status: "reported", destination: "payments-kv/foreign" },
      ],
      counts: { sync: 1, delete: 0, orphan: 0, conflict: 1, unchanged: 7, errors: 1 },
      errors: [{ scope: "list aws/us-east-1", rule: "aws-to-azure", reason: "throttled", message: "ListSecrets throttled" }],
    });
    expect(renderReconcileResult(result, false).split("\n")).toEqual([
      "reconcile azure: 2 findings, 1 error (cell azure-1, run r-1, 1.2 s)",
      "ACTION    REASON                 STATUS     RULE          SECRET                                 DESTINATION",
      "sync      stale                  published  aws-to-azure  aws/123456789012/us-east-1/prod/db@v2  payments-kv/prod-db-h0123456789",
      "conflict  unmanaged_destination  reported   -             -                                      payments-kv/foreign",
      "(the replicator reported only the first findings; see its log for the rest)",
      "counts: sync 1, delete 0, orphan 0, conflict 1, unchanged 7, errors 1",
      "errors:",
      "SCOPE               RULE          REASON     MESSAGE",
      "list aws/us-east-1  aws-to-azure  throttled  ListSecrets throttled",
    ]);
  });

  it("reports refusals and malformed replies", () => {
    expect(parseReconcileReply("aws", bytes({ error: { reason: "busy", message: "a reconcile is already running" } }))).toEqual({
      destination: "aws",
      outcome: "refused",
      detail: "busy: a reconcile is already running",
    });
    expect(parseReconcileReply("aws", bytes("<html>"))).toMatchObject({ outcome: "invalid_reply" });
    expect(parseReconcileReply("aws", bytes({ counts: {} }))).toMatchObject({ outcome: "invalid_reply", detail: "the reply has no actions list" });
  });

  it("renders an empty dry run and a destination nobody serves", () => {
    const result = parseReconcileReply("azure", bytes({ actions: [], counts: { unchanged: 3 }, errors: [] }));
    expect(renderReconcileResult(result, true)).toBe(["reconcile azure (dry run): 0 findings, 0 errors", "counts: unchanged 3"].join("\n"));
    expect(renderReconcileResult({ destination: "aws", outcome: "no_responders", detail: "no replicator answers" }, false)).toBe(
      "reconcile aws: skipped: no replicator answers",
    );
    expect(renderReconcileResult({ destination: "aws", outcome: "timeout", detail: "no reply" }, false)).toBe("reconcile aws: FAILED: no reply");
  });

  it("fails when a reconcile failed, reported errors, or nobody answered", () => {
    const report = { runId: undefined, cell: undefined, durationMs: undefined, truncated: false, actions: [], counts: {}, errors: [] };
    const ok: ReconcileResult = { destination: "azure", outcome: "ok", report };
    const silent: ReconcileResult = { destination: "aws", outcome: "no_responders" };
    expect(reconcileExitCode([ok, silent], false)).toBe(0);
    expect(reconcileExitCode([silent], true)).toBe(1);
    expect(reconcileExitCode([silent, { ...silent, destination: "azure" }], false)).toBe(1);
    expect(reconcileExitCode([ok, { destination: "aws", outcome: "timeout" }], false)).toBe(1);
    expect(reconcileExitCode([{ ...ok, report: { ...report, errors: [{ reason: "access_denied" }] } }], false)).toBe(1);
  });
});
