import { ConfigError } from "@credmesh/config";
import { describe, expect, it } from "vitest";
import { parseCells } from "./cells.ts";

describe("cells file", () => {
  it("fills the defaults: renewal at 2/3 of the lifetime, 30 d / 7 d / 1 d, every policy off", () => {
    const [cell] = parseCells("cells:\n  - id: cell-1\n    certificates:\n      - path: /var/run/cell/tls.crt\n");
    expect(cell).toMatchObject({
      id: "cell-1",
      certificates: [{ path: "/var/run/cell/tls.crt", kind: "leaf", renewAt: { fraction: 2 / 3 }, nearExpiryMs: [30 * 86_400_000, 7 * 86_400_000, 86_400_000] }],
      vaultCertificates: [],
      policies: { expiredCertificate: false, certificateMismatch: false, accessDenied: undefined, clockSkew: undefined },
    });
  });

  it("reads renewal points as a percentage or a duration, and each policy's settings", () => {
    const [cell] = parseCells(
      [
        "cells:",
        "  - id: cell-1",
        "    certificates:",
        "      - { path: /a.crt, renewAt: '75%' }",
        "      - { path: /b.crt, renewAt: 20d, nearExpiry: [14d, 2h] }",
        "    aws: { roleArn: 'arn:aws:iam::123456789012:role/cell-1' }",
        "    azure: { appId: 5a7e0c11-9d3f-4b2e-8c41-000000000001 }",
        "    policies: { expiredCertificate: true, accessDenied: { threshold: 3, window: 2m }, clockSkew: { toleranceSeconds: 120 } }",
      ].join("\n"),
    );
    expect(cell?.certificates.map((source) => source.renewAt)).toEqual([{ fraction: 0.75 }, { beforeMs: 20 * 86_400_000 }]);
    expect(cell?.certificates[1]?.nearExpiryMs).toEqual([14 * 86_400_000, 2 * 3_600_000]);
    expect(cell?.policies).toEqual({ expiredCertificate: true, certificateMismatch: false, accessDenied: { threshold: 3, windowMs: 120_000 }, clockSkew: { toleranceSeconds: 120 } });
  });

  it("names every problem by its path and never echoes a value", () => {
    const attempt = () => parseCells("cells:\n  - id: 'bad cell'\n    aws: { roleArn: not-an-arn }\n    policies: { accessDenied: { window: soon } }\n  - id: cell-2\n  - id: cell-2\n");
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const issues = (error as ConfigError).issues.join("\n");
      expect(issues).toMatch(/cells\.0\.id/);
      expect(issues).toMatch(/cells\.0\.aws\.roleArn: an IAM role ARN/);
      expect(issues).toMatch(/cells\.0\.policies\.accessDenied/);
    }
    expect(() => parseCells("cells:\n  - id: cell-2\n  - id: cell-2\n")).toThrow(/listed twice/);
  });
});
