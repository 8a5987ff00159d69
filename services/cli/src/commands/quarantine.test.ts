import { describe, expect, it } from "vitest";
import { parseInvocation, UsageError } from "../args.ts";
import { parseQuarantineReply, renderQuarantineResult } from "./quarantine.ts";

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe("credmesh quarantine / release arguments", () => {
  it("takes one cell and a required reason", () => {
    expect(parseInvocation(["quarantine", "e2e-azure-1", "--reason", "key leaked", "--by", "alice"]).command).toEqual({
      name: "quarantine",
      cell: "e2e-azure-1",
      reason: "key leaked",
      by: "alice",
    });
    expect(parseInvocation(["release", "e2e-azure-1", "--reason", "rotated"]).command).toMatchObject({ name: "release", by: undefined });
  });

  it.each([
    [["quarantine", "--reason", "x"], /say which cell/],
    [["quarantine", "cell-1"], /--reason is required/],
    [["quarantine", "cell-1", "cell-2", "--reason", "x"], /one cell at a time/],
    [["release", "bad cell!", "--reason", "x"], /not a cell id/],
  ])("refuses %j", (argv, message) => {
    expect(() => parseInvocation(argv)).toThrow(UsageError);
    expect(() => parseInvocation(argv)).toThrow(message);
  });
});

describe("the identity-watcher's reply", () => {
  it("shows the outcome, the record and each layer", () => {
    const result = parseQuarantineReply(
      "quarantine",
      "e2e-azure-1",
      bytes({
        ok: true,
        outcome: "quarantined",
        record: { state: "quarantined", at: "2026-02-01T00:00:00.123Z", by: "alice", reason: "key leaked" },
        layers: { mesh: "applied", aws: { status: "applied" }, azure: { status: "failed", detail: "access_denied" } },
        warnings: [],
        secret: "never shown",
      }),
    );
    expect(renderQuarantineResult(result)).toBe(
      [
        "cell e2e-azure-1 quarantined",
        "state quarantined since 2026-02-01T00:00:00Z by alice: key leaked",
        "LAYER  STATUS",
        "mesh   applied",
        "aws    applied",
        "azure  failed: access_denied",
      ].join("\n"),
    );
  });

  it("says when nothing changed, and reports a refusal with its code", () => {
    expect(parseQuarantineReply("release", "c1", bytes({ ok: true, outcome: "not_quarantined", layers: { mesh: "applied" } })).outcome).toBe("not_quarantined");
    const refused = parseQuarantineReply("release", "c1", bytes({ ok: false, error: { code: "invalid_request", message: "the request is not valid", issues: ["reason: too short"] } }));
    expect(refused).toMatchObject({ outcome: "refused", detail: "invalid_request: the request is not valid: reason: too short" });
    expect(parseQuarantineReply("release", "c1", new TextEncoder().encode("nope")).outcome).toBe("invalid_reply");
  });
});
