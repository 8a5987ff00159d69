import { get } from "node:https";
import { readFileSync } from "node:fs";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText, valueOf } from "../integration/support/prometheus-text.ts";
import { BusTap } from "../support/bus-tap.ts";
import { cloudTrailEvent } from "../support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, ROLE_ARN, startMesh, type Mesh } from "../support/mesh.ts";

const EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** GET a JSON document over TLS, trusting `ca` (the emulator's own CA; verification stays on). */
function getJson<T>(url: string, ca: string): Promise<T> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (response) => {
      const parts: Buffer[] = [];
      response.on("data", (chunk: Buffer) => parts.push(chunk));
      response.on("end", () => resolve(JSON.parse(Buffer.concat(parts).toString("utf8")) as T));
    }).on("error", reject);
  });
}

/**
 * Azure → AWS by web identity (issue 5, item 2), proven on what the replicator process actually
 * sent. moto does not validate web identity tokens, so the recording proxy in front of it keeps
 * the STS request, and the test verifies the `WebIdentityToken` independently — with jose, against
 * the keys the Key Vault emulator's managed-identity issuer publishes through OpenID discovery —
 * as STS would against the Entra tenant's issuer configured as an IAM OIDC provider.
 */
describe("the web identity token the replicator sends to STS", () => {
  let mesh: Mesh;
  let tap: BusTap;

  beforeAll(async () => {
    mesh = await startMesh({ namePrefixes: ["prod/"] });
    tap = new BusTap(mesh.bus);
  }, 120_000);
  afterEach((context) => {
    if (context.task.result?.state === "fail") console.error(`--- replicator ---\n${mesh.replicator.tail(30)}`);
  });
  afterAll(async () => {
    tap?.stop();
    await mesh?.stop();
  }, 60_000);

  it("is the managed identity's JWT for api://AzureADTokenExchange, signed by the tenant issuer, sent as session credmesh-<cell>", async () => {
    const name = "prod/identity/proof";
    const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: "proof-value" }));
    const secret = { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION };
    const event = cloudTrailEvent("aws-cloudtrail-createsecret.json", secret, { versionId: created.VersionId ?? "" });
    const posted = Date.now();
    const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
      method: "POST",
      headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
      body: JSON.stringify(event),
    });
    expect(response.status).toBe(202);
    expect((await tap.auditFor(event.id as string)).decision).toBe("applied");

    const calls = mesh.awsProxy.requests.filter((r) => r.action === "AssumeRoleWithWebIdentity");
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.status).toBe(200);
    // The role session names the cell: CloudTrail shows assumed-role/credmesh-replicator/credmesh-e2e-azure-1.
    expect(call?.params.get("RoleSessionName")).toBe("credmesh-e2e-azure-1");
    expect(call?.params.get("RoleArn")).toBe(ROLE_ARN);
    expect(call?.params.get("DurationSeconds")).toBe("3600");
    // Unsigned: the token is the only proof of identity, and no AWS key exists to sign with.
    expect(call?.accessKeyId).toBeUndefined();

    // Verify the token as STS would: issuer discovery, the issuer's keys, audience, lifetime.
    const token = call?.params.get("WebIdentityToken") ?? "";
    const ca = readFileSync(mesh.keyVault.caCertPath, "utf8");
    const discovery = await getJson<{ issuer: string; jwks_uri: string }>(mesh.keyVault.openIdConfigurationUri, ca);
    expect(discovery.issuer).toBe(mesh.keyVault.issuer);
    const keys = createLocalJWKSet(await getJson<JSONWebKeySet>(discovery.jwks_uri, ca));
    const { payload } = await jwtVerify(token, keys, {
      issuer: mesh.keyVault.issuer,
      audience: EXCHANGE_AUDIENCE,
      algorithms: ["RS256"],
      requiredClaims: ["iat", "exp", "sub"],
    });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", typ: "JWT" });
    // The subject the role's trust policy pins: the managed identity's object id.
    expect(payload.sub).toBe(mesh.keyVault.managedIdentity.objectId);
    expect(payload["oid"]).toBe(mesh.keyVault.managedIdentity.objectId);
    expect(payload["tid"]).toBe(mesh.keyVault.tenantId);
    // A sane lifetime: issued around the request (the clocks are one here), valid when it was sent,
    // and not longer-lived than a managed identity token (24 h).
    const iat = payload.iat ?? 0;
    const exp = payload.exp ?? 0;
    const sentAt = (call?.at ?? 0) / 1000;
    expect(Math.abs(iat - posted / 1000)).toBeLessThan(120);
    expect(exp).toBeGreaterThan(sentAt + 300);
    expect(exp - iat).toBeGreaterThanOrEqual(300);
    expect(exp - iat).toBeLessThanOrEqual(24 * 3600);

    // And the replicator says which source won, and counts the refresh under it.
    expect(mesh.replicator.lines.some((line) => line.includes('"msg":"aws credentials from source azure-managed-identity"'))).toBe(true);
    const metrics = parsePrometheusText(await (await fetch(`${mesh.replicatorOpsUrl}/metrics`)).text());
    expect(valueOf(metrics, "credmesh_credential_refreshes_total", { source: "aws/azure-managed-identity", outcome: "success" })).toBe(1);
    expect(valueOf(metrics, "credmesh_identity_clock_skew_seconds", { source: "aws/azure-managed-identity" })).toBe(0);
    expect(mesh.replicator.lines.join("\n")).not.toContain(token);
  });
});
