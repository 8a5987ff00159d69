import { describe, expect, it } from "vitest";
import { ConfigError, EnvReader } from "@credmesh/config";
import { readThrottleSettings } from "./throttle-config.ts";

function read(env: Record<string, string>) {
  const reader = new EnvReader(env);
  const settings = readThrottleSettings(reader);
  reader.done();
  return settings;
}

describe("readThrottleSettings", () => {
  it("defaults below the clouds' quotas: 40 AWS writes/s, 3,000 Key Vault operations and 250 creates per 10 s", () => {
    expect(read({})).toEqual({
      enabled: true,
      aws: { writes: { limit: 40, windowMs: 1_000 }, reads: { limit: 0, windowMs: 1_000 } },
      keyVault: { operations: { limit: 3_000, windowMs: 10_000 }, creates: { limit: 250, windowMs: 10_000 } },
      marginMs: 100,
      maxWaitMs: 30_000,
      pauseMs: 1_000,
      maxPauseMs: 16_000,
    });
  });

  it("reads every setting", () => {
    const settings = read({
      CREDMESH_RATE_LIMIT: "off",
      CREDMESH_RATE_LIMIT_AWS_WRITES_PER_SECOND: "12",
      CREDMESH_RATE_LIMIT_AWS_READS_PER_SECOND: "500",
      CREDMESH_RATE_LIMIT_KEYVAULT_OPERATIONS_PER_10S: "1000",
      CREDMESH_RATE_LIMIT_KEYVAULT_CREATES_PER_10S: "100",
      CREDMESH_RATE_LIMIT_MARGIN_MS: "40",
      CREDMESH_RATE_LIMIT_MAX_WAIT_MS: "5000",
      CREDMESH_RATE_LIMIT_PAUSE_MS: "200",
      CREDMESH_RATE_LIMIT_MAX_PAUSE_MS: "8000",
    });
    expect(settings).toMatchObject({
      enabled: false,
      aws: { writes: { limit: 12 }, reads: { limit: 500 } },
      keyVault: { operations: { limit: 1_000 }, creates: { limit: 100 } },
      marginMs: 40,
      maxWaitMs: 5_000,
      pauseMs: 200,
      maxPauseMs: 8_000,
    });
  });

  it("names the setting and the bad value, and refuses creates above operations", () => {
    let error: unknown;
    try {
      read({
        CREDMESH_RATE_LIMIT_AWS_WRITES_PER_SECOND: "0",
        CREDMESH_RATE_LIMIT_KEYVAULT_OPERATIONS_PER_10S: "200",
        CREDMESH_RATE_LIMIT_KEYVAULT_CREATES_PER_10S: "250",
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('CREDMESH_RATE_LIMIT_AWS_WRITES_PER_SECOND="0"');
    expect(message).toContain("CREDMESH_RATE_LIMIT_KEYVAULT_CREATES_PER_10S=250 exceeds CREDMESH_RATE_LIMIT_KEYVAULT_OPERATIONS_PER_10S=200");
  });
});
