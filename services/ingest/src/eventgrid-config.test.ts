import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, EnvReader } from "@credmesh/config";
import { EVENTGRID_APP_ID_AZURE_PUBLIC, readEventGridConfig, type EventGridConfig } from "./eventgrid-config.ts";

const TENANT = "7d1e5a90-2c4b-4f3e-8a6d-0e9b1c2d3f40";
const KEY = "k".repeat(32);

function read(env: Record<string, string>): EventGridConfig | undefined {
  const reader = new EnvReader(env);
  const config = readEventGridConfig(reader, env);
  reader.done();
  return config;
}

function problems(env: Record<string, string>): readonly string[] {
  try {
    read(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error("expected a configuration error");
}

describe("Event Grid configuration", () => {
  it("leaves the webhook disabled when nothing is set", () => {
    expect(read({})).toBeUndefined();
  });

  it("refuses Event Grid settings without an authentication mode, rather than silently disabling the webhook", () => {
    expect(problems({ CREDMESH_EVENTGRID_AUDIENCES: "api://x", CREDMESH_EVENTGRID_SHARED_KEYS: KEY })).toEqual([
      expect.stringMatching(/^CREDMESH_EVENTGRID_AUDIENCES, CREDMESH_EVENTGRID_SHARED_KEYS set without CREDMESH_EVENTGRID_AUTH/),
    ]);
  });

  it("refuses an unknown mode (there is no unauthenticated one)", () => {
    expect(problems({ CREDMESH_EVENTGRID_AUTH: "none" })).toEqual(['CREDMESH_EVENTGRID_AUTH="none" must be one of entra, shared-key']);
  });

  describe("entra", () => {
    it("derives both issuer versions from the tenant and applies the documented defaults", () => {
      expect(read({ CREDMESH_EVENTGRID_AUTH: "entra", CREDMESH_EVENTGRID_TENANT_ID: TENANT.toUpperCase(), CREDMESH_EVENTGRID_AUDIENCES: "api://app, app" })).toStrictEqual({
        auth: {
          mode: "entra",
          tenantId: TENANT,
          issuers: [`https://sts.windows.net/${TENANT}/`, `https://login.microsoftonline.com/${TENANT}/v2.0`],
          audiences: ["api://app", "app"],
          jwksUrl: undefined,
          algorithms: ["RS256"],
          clockToleranceSeconds: 60,
          appIds: [EVENTGRID_APP_ID_AZURE_PUBLIC],
          role: "AzureEventGridSecureWebhookSubscriber",
        },
        bodyLimitBytes: 1_048_576,
        publishConcurrency: 32,
        publishWindowMs: 25_000,
        allowedOrigins: ["eventgrid.azure.net"],
      });
    });

    it("requires an issuer (or tenant) and an audience", () => {
      expect(problems({ CREDMESH_EVENTGRID_AUTH: "entra" })).toEqual([
        expect.stringContaining("set CREDMESH_EVENTGRID_TENANT_ID or CREDMESH_EVENTGRID_ISSUERS"),
        expect.stringContaining("CREDMESH_EVENTGRID_AUDIENCES is required"),
      ]);
    });

    it.each([["none"], ["HS256"], ["RS256,HS512"]])("refuses the algorithm list %s", (algorithms) => {
      expect(problems({ CREDMESH_EVENTGRID_AUTH: "entra", CREDMESH_EVENTGRID_TENANT_ID: TENANT, CREDMESH_EVENTGRID_AUDIENCES: "a", CREDMESH_EVENTGRID_ALGORITHMS: algorithms })).toEqual([
        expect.stringMatching(/^CREDMESH_EVENTGRID_ALGORITHMS=".*" is not allowed: .*none and HS\* are always refused/),
      ]);
    });

    it("fetches keys over HTTPS only, plain HTTP on loopback, and never prints URL credentials", () => {
      const base = { CREDMESH_EVENTGRID_AUTH: "entra", CREDMESH_EVENTGRID_AUDIENCES: "a" };
      expect(read({ ...base, CREDMESH_EVENTGRID_ISSUERS: "http://127.0.0.1:9000/t/v2.0", CREDMESH_EVENTGRID_JWKS_URL: "http://localhost:9000/keys" })?.auth).toMatchObject({
        issuers: ["http://127.0.0.1:9000/t/v2.0"],
        jwksUrl: "http://localhost:9000/keys",
      });
      const issues = problems({ ...base, CREDMESH_EVENTGRID_ISSUERS: "http://login.example/t/", CREDMESH_EVENTGRID_JWKS_URL: "https://user:hunter2@keys.example/" });
      expect(issues).toEqual([
        'CREDMESH_EVENTGRID_ISSUERS="http://login.example/t/" must be an https URL (http only on loopback)',
        'CREDMESH_EVENTGRID_JWKS_URL="https://[REDACTED]@keys.example/" must be an https URL (http only on loopback)',
      ]);
    });

    it("turns the app id and role checks off only when told to", () => {
      const config = read({
        CREDMESH_EVENTGRID_AUTH: "entra",
        CREDMESH_EVENTGRID_TENANT_ID: TENANT,
        CREDMESH_EVENTGRID_AUDIENCES: "a",
        CREDMESH_EVENTGRID_CHECK_APP_ID: "false",
        CREDMESH_EVENTGRID_CHECK_ROLE: "false",
      });
      expect(config?.auth).toMatchObject({ appIds: undefined, role: undefined });
    });

    it("refuses shared-key settings in entra mode", () => {
      expect(problems({ CREDMESH_EVENTGRID_AUTH: "entra", CREDMESH_EVENTGRID_TENANT_ID: TENANT, CREDMESH_EVENTGRID_AUDIENCES: "a", CREDMESH_EVENTGRID_SHARED_KEYS: KEY })).toEqual([
        "CREDMESH_EVENTGRID_SHARED_KEYS cannot be used with CREDMESH_EVENTGRID_AUTH=entra",
      ]);
    });
  });

  describe("shared-key", () => {
    it("reads several keys from a file, with Authorization as the default header", () => {
      const file = join(mkdtempSync(join(tmpdir(), "credmesh-eg-")), "keys");
      writeFileSync(file, `${KEY}\n${"n".repeat(40)}\n`);
      const config = read({ CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS_FILE: file });
      expect(config?.auth.mode).toBe("shared-key");
      if (config?.auth.mode !== "shared-key") return;
      expect(config.auth.header).toBe("authorization");
      expect(config.auth.keys.map((key) => key.reveal())).toEqual([KEY, "n".repeat(40)]);
      expect(read({ CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: KEY, CREDMESH_EVENTGRID_SHARED_KEY_HEADER: "X-Credmesh-Key" })?.auth).toMatchObject({
        header: "x-credmesh-key",
      });
    });

    it("requires keys, long ones, and never prints them", () => {
      expect(problems({ CREDMESH_EVENTGRID_AUTH: "shared-key" })).toEqual([expect.stringContaining("CREDMESH_EVENTGRID_SHARED_KEYS (or CREDMESH_EVENTGRID_SHARED_KEYS_FILE) is required")]);
      const short = "short-MARKER-key";
      const issues = problems({ CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: `${KEY},${short}` });
      expect(issues).toEqual(["CREDMESH_EVENTGRID_SHARED_KEYS entries must be at least 32 characters (values not shown)"]);
      expect(issues.join("\n")).not.toContain("MARKER");
    });

    it("refuses Entra settings in shared-key mode", () => {
      expect(problems({ CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: KEY, CREDMESH_EVENTGRID_AUDIENCES: "a" })).toEqual([
        "CREDMESH_EVENTGRID_AUDIENCES cannot be used with CREDMESH_EVENTGRID_AUTH=shared-key",
      ]);
    });
  });

  it("bounds the body limit, the publish concurrency and window, and checks origins", () => {
    const base = { CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: KEY };
    expect(
      read({ ...base, CREDMESH_EVENTGRID_BODY_LIMIT_BYTES: "2097152", CREDMESH_EVENTGRID_PUBLISH_CONCURRENCY: "4", CREDMESH_EVENTGRID_PUBLISH_WINDOW_MS: "0", CREDMESH_EVENTGRID_ALLOWED_ORIGINS: "eventgrid.azure.net,*" }),
    ).toMatchObject({
      bodyLimitBytes: 2_097_152,
      publishConcurrency: 4,
      publishWindowMs: 0,
      allowedOrigins: ["eventgrid.azure.net", "*"],
    });
    // Event Grid stops waiting for an answer at 30 s: a window that long would answer nobody.
    expect(
      problems({ ...base, CREDMESH_EVENTGRID_BODY_LIMIT_BYTES: "999999999", CREDMESH_EVENTGRID_PUBLISH_CONCURRENCY: "0", CREDMESH_EVENTGRID_PUBLISH_WINDOW_MS: "30000", CREDMESH_EVENTGRID_ALLOWED_ORIGINS: "https://x/" }),
    ).toEqual([
      expect.stringContaining("CREDMESH_EVENTGRID_BODY_LIMIT_BYTES"),
      expect.stringContaining("CREDMESH_EVENTGRID_PUBLISH_CONCURRENCY"),
      expect.stringContaining("CREDMESH_EVENTGRID_PUBLISH_WINDOW_MS"),
      expect.stringContaining("CREDMESH_EVENTGRID_ALLOWED_ORIGINS"),
    ]);
  });
});
