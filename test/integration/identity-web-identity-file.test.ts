/**
 * AWS credentials from a web identity token file (EKS IRSA: AWS_WEB_IDENTITY_TOKEN_FILE and a role
 * ARN), through STS AssumeRoleWithWebIdentity on moto, counted by a recording proxy in front of
 * it. moto does not validate the token, so the test checks what was sent against the issuer's keys.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CredmeshError } from "@credmesh/errors";
import { tokenFromFile, webIdentityCredentials, type WebIdentityConfig } from "@credmesh/identity";
import { Registry, createMetrics } from "@credmesh/metrics";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startMoto, type MotoPart } from "../support/parts.ts";
import { startRecordingProxy, type RecordingProxy } from "../support/recording-proxy.ts";
import { startServiceAccountIssuer, type ServiceAccountIssuer } from "../support/service-account-issuer.ts";

const ROLE_ARN = "arn:aws:iam::123456789012:role/credmesh-replicator-aws";
/** The audience EKS projects IRSA tokens for. */
const STS_AUDIENCE = "sts.amazonaws.com";

describe("AWS web identity from a projected token file, against moto STS", () => {
  let moto: MotoPart;
  let proxy: RecordingProxy;
  let issuer: ServiceAccountIssuer;
  let dir: string;
  let tokenFile: string;
  let metrics: ReturnType<typeof createMetrics>;

  beforeAll(async () => {
    [moto, issuer] = await Promise.all([startMoto(), startServiceAccountIssuer()]);
    proxy = await startRecordingProxy(moto.endpoint);
    dir = await mkdtemp(join(tmpdir(), "credmesh-irsa-"));
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([proxy?.stop(), moto?.stop(), issuer?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    proxy.requests.length = 0;
    tokenFile = join(dir, `token-${Math.random().toString(36).slice(2)}`);
    metrics = createMetrics(new Registry(), { defaultMetrics: false });
    await issuer.writeTokenFile(tokenFile, { audience: STS_AUDIENCE });
  });

  const config: WebIdentityConfig = {
    roleArn: ROLE_ARN,
    sessionName: "credmesh-replicator-aws",
    durationSeconds: 3600,
    region: "us-east-1",
  };
  const provider = (file = tokenFile) =>
    webIdentityCredentials({ ...config, endpoint: proxy.endpoint }, tokenFromFile(file, { what: "web identity token file" }), { metrics });

  const sentTokens = (): string[] =>
    proxy.requests.filter((r) => r.action === "AssumeRoleWithWebIdentity").map((r) => r.params.get("WebIdentityToken") ?? "");

  it("calls STS once for a thousand credential requests, with the file's token", async () => {
    const credentials = provider();
    const first = await credentials();
    for (let i = 0; i < 500; i += 1) expect((await credentials()).accessKeyId).toBe(first.accessKeyId);
    await Promise.all(Array.from({ length: 500 }, () => credentials()));

    expect(proxy.count("AssumeRoleWithWebIdentity")).toBe(1);
    const [sent] = sentTokens();
    expect(sent).toBe(readFileSync(tokenFile, "utf8"));
    // What STS would check, and moto does not: a real JWT from the cluster's issuer for STS.
    const { payload } = await jwtVerify(sent ?? "", createRemoteJWKSet(new URL(issuer.jwksUri)), {
      issuer: issuer.issuer,
      audience: STS_AUDIENCE,
      algorithms: ["RS256"],
    });
    expect(payload.sub).toBe("system:serviceaccount:credmesh:replicator-aws");
    const request = proxy.requests[0];
    expect(request?.params.get("RoleArn")).toBe(ROLE_ARN);
    expect(request?.params.get("RoleSessionName")).toBe("credmesh-replicator-aws");

    const refreshes = (await metrics.credentialRefreshes.get()).values;
    expect(refreshes).toEqual([{ labels: { source: "aws-web-identity", outcome: "success" }, value: 1 }]);
  });

  it("hands an AWS SDK client working credentials", async () => {
    const client = new SecretsManagerClient({ region: "us-east-1", endpoint: proxy.endpoint, credentials: provider(), maxAttempts: 1 });
    for (let i = 0; i < 20; i += 1) await client.send(new ListSecretsCommand({}));
    expect(proxy.count("AssumeRoleWithWebIdentity")).toBe(1);
    expect(proxy.count("ListSecrets")).toBe(20);
  });

  it("sends the rotated token when the credentials are next refreshed", async () => {
    const credentials = provider();
    await credentials();
    const rotated = await issuer.writeTokenFile(tokenFile, { audience: STS_AUDIENCE });
    await credentials();
    expect(sentTokens()).toHaveLength(1);
    credentials.invalidate();
    await credentials();
    expect(sentTokens()).toHaveLength(2);
    expect(sentTokens()[1]).toBe(rotated);
  });

  it("fails as identity_unavailable, without calling STS, when the token file is missing", async () => {
    const error = await provider(join(dir, "not-mounted"))().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredmeshError);
    expect((error as CredmeshError).reason).toBe("identity_unavailable");
    expect((error as CredmeshError).message).toContain("web identity token file");
    expect(proxy.requests).toHaveLength(0);
    const refreshes = (await metrics.credentialRefreshes.get()).values;
    expect(refreshes).toEqual([{ labels: { source: "aws-web-identity", outcome: "identity_unavailable" }, value: 1 }]);
  });
});
