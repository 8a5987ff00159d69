import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeBusCredentials } from "./credentials.ts";
import { grantsOf, permissionsOf } from "./permissions.ts";
import { inboxPrefixOf, parseReplicatorCell, roleName, rolesOf, type BusDeployment } from "./roles.ts";

/**
 * The role description's shape. What the server actually allows and refuses is proven against a
 * real nats-server, with the expectations written independently of this description, in
 * test/integration/bus-permissions.test.ts.
 */
const deployment: BusDeployment = { partitions: 2, replicators: [{ destination: "azure", cell: "prod-azure-1" }, { destination: "aws", cell: "eu.prod@aws" }] };

describe("roles", () => {
  it("lists every identity of a deployment, one per replicator cell", () => {
    expect(rolesOf(deployment).map(roleName)).toEqual(["ingest", "replicator-azure-prod-azure-1", "replicator-aws-eu_prod_aws", "identity-watcher", "operator", "auditor", "admin"]);
  });

  it("gives each identity its own inbox", () => {
    expect(inboxPrefixOf({ kind: "operator" })).toBe("_INBOX.operator");
    expect(inboxPrefixOf({ kind: "replicator", destination: "azure", cell: "prod-azure-1" })).toBe("_INBOX.replicator-azure-prod-azure-1");
  });

  it("parses a replicator cell as DESTINATION:CELL", () => {
    expect(parseReplicatorCell("aws:eu.prod@aws")).toEqual({ destination: "aws", cell: "eu.prod@aws" });
    expect(parseReplicatorCell("gcp:x1")).toBeUndefined();
    expect(parseReplicatorCell("azure")).toBeUndefined();
    expect(parseReplicatorCell("azure:a b")).toBeUndefined();
  });
});

describe("permissionsOf", () => {
  const replicator = permissionsOf({ kind: "replicator", destination: "azure", cell: "prod-azure-1" }, deployment);

  it("lets a replicator use its own destination's consumers, partition by partition, and no other", () => {
    const publish = replicator.publish?.allow ?? [];
    expect(publish).toContain("$JS.API.CONSUMER.MSG.NEXT.CREDMESH_MUTATIONS.replicator-azure-p01");
    expect(publish).toContain("$JS.ACK.CREDMESH_MUTATIONS.replicator-azure-p00.>");
    expect(publish.some((subject) => subject.includes("replicator-aws"))).toBe(false);
    expect(publish.some((subject) => subject.includes("replicator-azure-p02"))).toBe(false);
  });

  it("names no wildcard that reaches a stream's or consumer's deletion, update or purge for a service role", () => {
    for (const role of rolesOf(deployment).filter((candidate) => candidate.kind !== "admin")) {
      const publish = permissionsOf(role, deployment).publish?.allow ?? [];
      expect(publish.filter((subject) => /^\$JS\.API\.STREAM\.(DELETE|UPDATE|PURGE)|^\$JS\.API\.>|^>$|^\$JS\.>/.test(subject))).toEqual([]);
    }
  });

  it("keeps the auditor from publishing anything and lets it subscribe to the audit records only", () => {
    expect(permissionsOf({ kind: "auditor" }, deployment)).toEqual({ publish: { deny: [">"] }, subscribe: { allow: ["credmesh.audit.>"] }, allowResponses: false });
  });

  it("denies the identity-watcher the replicators' observation subjects it otherwise could publish", () => {
    expect(permissionsOf({ kind: "identity-watcher" }, deployment).publish?.deny).toEqual(["credmesh.identity.*.clock_skew", "credmesh.identity.*.access_denied"]);
  });

  it("leaves the admin unrestricted, and explains every other grant", () => {
    expect(permissionsOf({ kind: "admin" }, deployment)).toEqual({ publish: undefined, subscribe: undefined, allowResponses: false });
    for (const role of rolesOf(deployment)) for (const grant of grantsOf(role, deployment)) expect(grant.why.length).toBeGreaterThan(10);
  });
});

describe("writeBusCredentials", () => {
  const dir = mkdtempSync(join(tmpdir(), "credmesh-bus-roles-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a 0600 seed per role and an authorization with public keys only; a second run keeps every key", () => {
    const first = writeBusCredentials(join(dir, "creds"), deployment);
    for (const credential of first) {
      expect(statSync(credential.seedFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(credential.seedFile, "utf8")).toMatch(/^SU[A-Z2-7]{56}\n$/);
      expect(credential.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    }
    const authorization = readFileSync(join(dir, "creds", "authorization.conf"), "utf8");
    for (const credential of first) expect(authorization).toContain(credential.publicKey);
    expect(authorization).not.toMatch(/SU[A-Z2-7]{20}/);
    const values = readFileSync(join(dir, "creds", "nats-values.authorization.yaml"), "utf8");
    expect(values).not.toMatch(/SU[A-Z2-7]{20}/);
    expect(statSync(join(dir, "creds")).mode & 0o777).toBe(0o700);

    const again = writeBusCredentials(join(dir, "creds"), { ...deployment, replicators: [...deployment.replicators, { destination: "azure", cell: "prod-azure-2" }] });
    expect(again.filter((credential) => first.some((before) => roleName(before.role) === roleName(credential.role))).map((credential) => credential.publicKey)).toEqual(first.map((credential) => credential.publicKey));
    expect(again).toHaveLength(first.length + 1);
  });
});
