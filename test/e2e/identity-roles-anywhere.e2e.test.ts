import { randomBytes } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Pki } from "../emulators/roles-anywhere/pki.ts";
import { startRolesAnywhereEmulator, type RolesAnywhereEmulator } from "../emulators/roles-anywhere/emulator.ts";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, ROLE_ARN, startMesh, type Mesh } from "../support/mesh.ts";

const CN = "replicator-azure.e2e";

/**
 * A replicator cell whose AWS identity is its X.509 certificate (IAM Roles Anywhere, issue 5):
 * the cell is configured with `CREDMESH_AWS_IDENTITY=roles-anywhere` and mounted certificate
 * files; every AWS call it makes uses credentials from a CreateSession that the verifying local
 * endpoint accepted — no web identity exchange, no stored key.
 */
describe("replicator cell with IAM Roles Anywhere credentials", () => {
  let pki: Pki;
  let endpoint: RolesAnywhereEmulator;
  let mesh: Mesh;
  let tap: BusTap;

  beforeAll(async () => {
    pki = await createPki();
    const root = await pki.ca("credmesh e2e root CA");
    const intermediate = await pki.ca("credmesh e2e intermediate CA", { issuer: root });
    const cell = await pki.leaf(CN, { issuer: intermediate, keyType: "ec" });
    const chain = await pki.bundle("chain.pem", [intermediate.certPem]);
    const anchor = await pki.bundle("trust-anchor.pem", [root.certPem]);
    endpoint = await startRolesAnywhereEmulator({ trustAnchorPem: root.certPem, accountId: AWS_ACCOUNT, region: AWS_REGION, roles: [{ arn: ROLE_ARN, commonNames: [CN] }] });
    mesh = await startMesh({
      replicatorEnv: {
        CREDMESH_AWS_IDENTITY: "roles-anywhere",
        CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_ARN: endpoint.trustAnchorArn,
        CREDMESH_AWS_ROLES_ANYWHERE_PROFILE_ARN: endpoint.profileArn,
        CREDMESH_AWS_ROLES_ANYWHERE_REGION: AWS_REGION,
        CREDMESH_AWS_ROLES_ANYWHERE_CERTIFICATE_FILE: cell.certPath,
        CREDMESH_AWS_ROLES_ANYWHERE_PRIVATE_KEY_FILE: cell.keyPath,
        CREDMESH_AWS_ROLES_ANYWHERE_CHAIN_FILE: chain,
        CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_FILE: anchor,
        CREDMESH_AWS_ROLES_ANYWHERE_EXPECTED_CN: CN,
        CREDMESH_AWS_ROLES_ANYWHERE_ENDPOINT: endpoint.endpoint,
      },
    });
    tap = new BusTap(mesh.bus, "credmesh.audit.>");
  }, 180_000);

  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
    await endpoint?.stop();
    await pki?.remove();
  }, 60_000);

  it("replicates with credentials from one verified CreateSession and never calls STS", async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const name = `prod/roles-anywhere/s${index}`;
      const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: randomBytes(12).toString("hex") }));
      const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION }, { versionId: created.VersionId ?? "" });
      const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
        method: "POST",
        headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
        body: JSON.stringify(event),
      });
      expect(response.status).toBe(202);
      ids.push(event.id as string);
    }
    for (const id of ids) expect((await tap.auditFor(id)).decision).toBe("applied");
    expect(endpoint.sessions()).toHaveLength(1);
    expect(mesh.awsProxy.count("AssumeRoleWithWebIdentity")).toBe(0);
    expect(mesh.awsProxy.count("GetSecretValue")).toBeGreaterThanOrEqual(5);
  });
});
