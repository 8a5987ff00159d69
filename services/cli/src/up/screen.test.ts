import type { AuditRecord, QuarantineAuditRecord } from "@credmesh/events";
import { describe, expect, it } from "vitest";
import { formatAuditLine, formatQuarantineLine, renderUpScreen, type UpScreen } from "./screen.ts";

const SCREEN: UpScreen = {
  parts: [
    { name: "nats", what: "NATS JetStream", address: "nats://127.0.0.1:4222", pid: 101 },
    { name: "replicator-aws", what: "Azure → AWS", address: "http://127.0.0.1:9092", pid: 105 },
    { name: "prometheus", what: "Prometheus", address: "http://127.0.0.1:9090", pid: undefined },
  ],
  natsUrl: "nats://127.0.0.1:4222",
  auditorSeedFile: "/home/dev/.cache/credmesh/up/run/bus/auditor.nk",
  operatorSeedFile: "/home/dev/.cache/credmesh/up/run/bus/operator.nk",
  natsMonitorUrl: "http://127.0.0.1:8222",
  awsEndpoint: "http://127.0.0.1:5000",
  awsRegion: "us-east-1",
  vaultUrl: "https://127.0.0.1:8443",
  imdsEndpoint: "http://127.0.0.1:8081/metadata/identity/oauth2/token",
  azureCaFile: "/state/run/keyvault/ca.crt",
  prometheusUrl: "http://127.0.0.1:9090",
  reconcileIntervalSeconds: 10,
  rules: [{ id: "local-aws-to-azure", from: "AWS Secrets Manager prod/*", to: "Key Vault" }],
  keysFile: "/state/run/keys.env",
  logDir: "/state/run/logs",
};

describe("credmesh up: status screen", () => {
  it("shows every part with its address and pid, the change feed, the audit tap and where the keys are", () => {
    const text = renderUpScreen(SCREEN);
    expect(text).toMatch(/^part +address +pid +what$/m);
    expect(text).toMatch(/^nats +nats:\/\/127\.0\.0\.1:4222 +101 +NATS JetStream$/m);
    expect(text).toMatch(/^replicator-aws +http:\/\/127\.0\.0\.1:9092 +105 +Azure → AWS$/m);
    expect(text).toMatch(/^prometheus +http:\/\/127\.0\.0\.1:9090 +- +Prometheus$/m);
    expect(text).toContain("anti-entropy every 10 s as the change feed");
    expect(text).toContain("audit tap   nats --server nats://127.0.0.1:4222 --nkey /home/dev/.cache/credmesh/up/run/bus/auditor.nk --inbox-prefix _INBOX.auditor sub 'credmesh.audit.>'");
    expect(text).toContain("status      CREDMESH_NATS_PLAINTEXT=true scripts/credmesh status --server nats://127.0.0.1:4222 --nkey /home/dev/.cache/credmesh/up/run/bus/operator.nk");
    expect(text).toContain("rule        local-aws-to-azure: AWS Secrets Manager prod/* → Key Vault");
    expect(text).toContain("keys        /state/run/keys.env");
    expect(text.trimEnd().split("\n").at(-1)).toBe("Replications (live, as the audit trail records them):");
  });

  it("prints one line per decision: time, decision, direction, source → replica, rule and reason", () => {
    const record = {
      decision: "applied",
      at: "2026-12-07T10:11:12.345Z",
      correlationId: "c1",
      eventId: "e1",
      rule: "local-aws-to-azure",
      kind: "sync",
      origin: { cloud: "aws", account: "123456789012", region: "us-east-1", secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/a-Xa9TqZ", secretName: "prod/a" },
      destination: { cloud: "azure", vault: "https://127.0.0.1:8443", name: "prod-a-h0123456789" },
      cell: "local-azure-1",
      reason: "missing",
    } as unknown as AuditRecord;
    expect(formatAuditLine(record)).toBe("  10:11:12  applied           aws → azure  prod/a → prod-a-h0123456789  (local-aws-to-azure, missing)");
    const fromAzure = { ...record, reason: undefined, origin: { cloud: "azure", vaultName: "keyvault", secretName: "prod-b\u001b[2J" }, destination: { cloud: "aws", vault: "aws/123456789012/us-east-1", name: "" } } as unknown as AuditRecord;
    // Control characters from the bus never reach the terminal.
    expect(formatAuditLine(fromAzure)).toBe("  10:11:12  applied           azure → aws  keyvault/prod-b?[2J → (dead-lettered)  (local-aws-to-azure)");
  });

  it("prints quarantines and releases of cells", () => {
    const record = { decision: "quarantined", at: "2026-12-07T10:11:12.345Z", cell: "local-azure-1", reason: "test", by: "alice", trigger: "operator", transitionId: "t" } as unknown as QuarantineAuditRecord;
    expect(formatQuarantineLine(record)).toBe("  10:11:12  quarantined       cell local-azure-1 by alice: test");
  });
});
