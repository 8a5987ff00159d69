import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CredmeshError } from "@credmesh/errors";
import { Registry, createMetrics } from "@credmesh/metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig, rolesAnywhereCredentials, type RolesAnywhereConfig } from "./credentials.ts";

const TRUST_ANCHOR = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0d5c9a2e-7c1a-4a36-9a39-0c1f5b9b4c11";
const PROFILE = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/6f0d2b8e-3b0a-4e0c-8a55-2f3c1e0d9a77";

const valid: RolesAnywhereConfig = {
  region: "eu-west-1",
  trustAnchorArn: TRUST_ANCHOR,
  profileArn: PROFILE,
  roleArn: "arn:aws:iam::123456789012:role/credmesh-replicator-aws",
  expectedCommonName: "replicator-aws.cell-1",
  certificateFile: "/var/run/credmesh/roles-anywhere/tls.crt",
  privateKeyFile: "/var/run/credmesh/roles-anywhere/tls.key",
  trustAnchorFile: "/var/run/credmesh/roles-anywhere/trust-anchor.pem",
};

function configurationError(config: RolesAnywhereConfig): CredmeshError {
  try {
    resolveConfig(config);
  } catch (error) {
    if (error instanceof CredmeshError) return error;
    throw error;
  }
  throw new Error("expected a configuration error");
}

describe("resolveConfig", () => {
  it("defaults the endpoint to the region's, the duration to an hour", () => {
    const resolved = resolveConfig(valid);
    expect(resolved.endpoint.href).toBe("https://rolesanywhere.eu-west-1.amazonaws.com/");
    expect(resolved.durationSeconds).toBe(3600);
    expect(resolved.timeoutMs).toBe(10_000);
  });

  it.each([
    ["region", { region: "Ireland" }],
    ["trustAnchorArn", { trustAnchorArn: PROFILE }],
    ["profileArn", { profileArn: TRUST_ANCHOR }],
    ["trustAnchorArn", { trustAnchorArn: TRUST_ANCHOR.replace("eu-west-1", "us-east-1") }],
    ["roleArn", { roleArn: "credmesh-replicator-aws" }],
    ["expectedCommonName", { expectedCommonName: " " }],
    ["sessionName", { sessionName: "has spaces" }],
    ["durationSeconds", { durationSeconds: 899 }],
    ["durationSeconds", { durationSeconds: 43_201 }],
    ["certificateFile", { certificateFile: "" }],
    ["endpoint", { endpoint: "http://rolesanywhere.example.com" }],
    ["endpoint", { endpoint: "not a url" }],
  ] as const)("names %s when it is invalid", (setting, patch) => {
    const error = configurationError({ ...valid, ...patch });
    expect(error.reason).toBe("configuration");
    expect(error.message).toContain(setting);
  });

  it("accepts plain http on loopback only (the local test endpoint)", () => {
    expect(resolveConfig({ ...valid, endpoint: "http://127.0.0.1:4566" }).endpoint.host).toBe("127.0.0.1:4566");
  });

  it("does not echo an endpoint that carries a password", () => {
    const error = configurationError({ ...valid, endpoint: "https://user:hunter2@rolesanywhere.example.com" });
    expect(error.message).not.toContain("hunter2");
  });
});

describe("rolesAnywhereCredentials without its files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-ra-unit-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("fails as retryable identity_unavailable naming the file, and counts it", async () => {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const credentials = rolesAnywhereCredentials(
      {
        ...valid,
        certificateFile: join(dir, "tls.crt"),
        privateKeyFile: join(dir, "tls.key"),
        trustAnchorFile: join(dir, "ca.crt"),
        // Nothing listens here; the file check fails first, so it is never called.
        endpoint: "http://127.0.0.1:9",
      },
      { metrics },
    );
    const error = await credentials().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason: "identity_unavailable", retryable: true });
    expect((error as Error).message).toContain("Roles Anywhere");
    expect((await metrics.credentialRefreshes.get()).values).toEqual([
      { labels: { source: "aws-roles-anywhere", outcome: "identity_unavailable" }, value: 1 },
    ]);
  });
});
