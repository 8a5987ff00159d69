import { buildIdentityEvent, type CertificateState } from "@credmesh/events";
import { describe, expect, it } from "vitest";
import type { PolicyConfig } from "./cells.ts";
import { certificatePolicy } from "./policies.ts";

const ON: PolicyConfig = { expiredCertificate: true, certificateMismatch: true, accessDenied: undefined, clockSkew: undefined };
const OFF: PolicyConfig = { expiredCertificate: false, certificateMismatch: false, accessDenied: undefined, clockSkew: undefined };

const transition = (kind: CertificateState | "renewed", state: CertificateState = kind === "renewed" ? "ok" : kind) =>
  buildIdentityEvent({
    id: "e1",
    producer: "identity-watcher",
    data: { kind, cell: "cell-1", place: "/a.crt", source: { type: "file", path: "/a.crt" }, state, problems: [], detectedAt: "2026-12-07T00:00:00Z" },
  });

describe("certificatePolicy", () => {
  it.each([
    ["expired", "expired_certificate"],
    ["cn_mismatch", "certificate_mismatch"],
    ["chain_incomplete", "certificate_mismatch"],
    ["near_expiry", undefined],
    ["renewal_due", undefined],
    ["absent", undefined],
    ["renewed", undefined],
  ] as const)("a %s transition trips %s when the policies are on", (kind, policy) => {
    expect(certificatePolicy(transition(kind), ON)).toBe(policy);
    expect(certificatePolicy(transition(kind), OFF)).toBeUndefined();
  });
});
