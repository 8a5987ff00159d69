import { describe, expect, it } from "vitest";
import { InvalidEventError } from "./wire.ts";
import {
  IDENTITY_EVENT_TYPES,
  buildIdentityEvent,
  decodeIdentityEvent,
  decodeQuarantineRecord,
  encodeQuarantineRecord,
  quarantineAuditRecord,
  type QuarantineRecord,
} from "./identity.ts";

const FACTS = {
  fingerprint: Array.from({ length: 32 }, () => "AB").join(":"),
  serialNumber: "01F3",
  subject: "CN=cell-1, O=credmesh",
  subjectCN: "cell-1",
  issuer: "CN=credmesh cells CA",
  issuerCN: "credmesh cells CA",
  notBefore: "2026-01-01T00:00:00.000Z",
  notAfter: "2026-04-01T00:00:00.000Z",
};

describe("identity events", () => {
  it("builds a certificate transition as a CloudEvent that round-trips through bytes", () => {
    const event = buildIdentityEvent({
      id: "cert:1",
      producer: "identity-watcher",
      data: {
        kind: "renewed",
        cell: "cell-1",
        place: "/var/run/cell/tls.crt",
        source: { type: "file", path: "/var/run/cell/tls.crt" },
        state: "ok",
        certificate: FACTS,
        previousCertificate: { ...FACTS, serialNumber: "01F2" },
        problems: [],
        detectedAt: "2026-02-01T00:00:00.000Z",
      },
    });
    expect(event).toMatchObject({ type: IDENTITY_EVENT_TYPES.certificate, subject: "cell-1//var/run/cell/tls.crt", source: "credmesh/identity-watcher/cell-1" });
    expect(Object.isFrozen(event)).toBe(true);
    expect(decodeIdentityEvent(new TextEncoder().encode(JSON.stringify(event)))).toEqual(event);
  });

  it("keeps the replicator's clock skew event shape", () => {
    const event = buildIdentityEvent({
      id: "skew:1",
      producer: "replicator",
      data: {
        kind: "clock_skew",
        cell: "cell-1",
        credentialSource: "aws/web-identity-token-file",
        claim: "iat",
        claimedAt: "2026-02-01T00:10:00.000Z",
        observedAt: "2026-02-01T00:00:00.000Z",
        offsetSeconds: 600,
        toleranceSeconds: 300,
        action: "refused",
      },
    });
    expect(event.type).toBe("io.credmesh.identity.clock_skew.v1");
    expect(event.time).toBe("2026-02-01T00:00:00.000Z");
  });

  it("refuses an event with a field it does not know (no room for key material)", () => {
    expect(() =>
      buildIdentityEvent({
        id: "x",
        producer: "replicator",
        data: { kind: "access_denied", cell: "cell-1", cloud: "aws", operation: "GetSecretValue", observedAt: "2026-02-01T00:00:00Z", privateKey: "..." } as never,
      }),
    ).toThrow(InvalidEventError);
    expect(() => decodeIdentityEvent(new TextEncoder().encode("{"))).toThrow(InvalidEventError);
  });
});

describe("quarantine record", () => {
  const record: QuarantineRecord = {
    cell: "e2e-azure-1",
    state: "quarantined",
    reason: "key leaked in a CI log",
    by: "alice",
    at: "2026-02-01T00:00:00.000Z",
    trigger: { type: "operator" },
    transitionId: "q-1",
  };

  it("round-trips through the KV value and is audited with who, when and why", () => {
    expect(decodeQuarantineRecord(encodeQuarantineRecord(record))).toEqual(record);
    expect(quarantineAuditRecord(record)).toEqual({
      decision: "quarantined",
      at: record.at,
      cell: record.cell,
      reason: record.reason,
      by: "alice",
      trigger: { type: "operator" },
      transitionId: "q-1",
    });
  });

  it("refuses a record it cannot trust", () => {
    expect(() => decodeQuarantineRecord(new TextEncoder().encode(JSON.stringify({ ...record, state: "maybe" })))).toThrow(InvalidEventError);
    expect(() => encodeQuarantineRecord({ ...record, trigger: { type: "policy", policy: "nope" } } as never)).toThrow(InvalidEventError);
  });
});
