import { describe, expect, it } from "vitest";
import { ConfigError, EnvReader } from "@credmesh/config";
import { readDeadlineSettings } from "./deadline-config.ts";

const bounds = { ackWaitMs: 30_000, secretLeaseMs: 30_000 };

function read(env: Record<string, string>, limits = bounds) {
  const reader = new EnvReader(env);
  const settings = readDeadlineSettings(reader, limits);
  reader.done();
  return settings;
}

describe("readDeadlineSettings", () => {
  it("defaults to a 20 s mutation deadline and 5 s per cloud call attempt, inside the ack wait and the lease", () => {
    expect(read({})).toEqual({ mutationDeadlineMs: 20_000, cloudAttemptTimeoutMs: 5_000 });
  });

  it("defaults to fit a shorter ack wait or lease: two thirds of the shorter", () => {
    expect(read({}, { ackWaitMs: 10_000, secretLeaseMs: 30_000 })).toEqual({ mutationDeadlineMs: 6_666, cloudAttemptTimeoutMs: 5_000 });
    expect(read({}, { ackWaitMs: 30_000, secretLeaseMs: 3_000 })).toEqual({ mutationDeadlineMs: 2_000, cloudAttemptTimeoutMs: 2_000 });
  });

  it("reads both settings", () => {
    expect(read({ CREDMESH_MUTATION_DEADLINE_MS: "4000", CREDMESH_CLOUD_ATTEMPT_TIMEOUT_MS: "1000" })).toEqual({ mutationDeadlineMs: 4_000, cloudAttemptTimeoutMs: 1_000 });
  });

  it("refuses a deadline that outlasts the ack wait or the lease, naming both settings", () => {
    expect(() => read({ CREDMESH_MUTATION_DEADLINE_MS: "30000" })).toThrow(ConfigError);
    expect(() => read({ CREDMESH_MUTATION_DEADLINE_MS: "30000" })).toThrow(/CREDMESH_MUTATION_DEADLINE_MS=30000 must be below CREDMESH_ACK_WAIT_MS=30000/);
    expect(() => read({ CREDMESH_MUTATION_DEADLINE_MS: "20000" }, { ackWaitMs: 60_000, secretLeaseMs: 10_000 })).toThrow(/below CREDMESH_SECRET_LEASE_MS=10000/);
    // Without leases (a single replica) only the ack wait bounds it.
    expect(read({ CREDMESH_MUTATION_DEADLINE_MS: "20000" }, { ackWaitMs: 60_000, secretLeaseMs: 0 })).toMatchObject({ mutationDeadlineMs: 20_000 });
  });

  it("refuses an attempt timeout longer than the whole deadline", () => {
    expect(() => read({ CREDMESH_MUTATION_DEADLINE_MS: "4000", CREDMESH_CLOUD_ATTEMPT_TIMEOUT_MS: "5000" })).toThrow(/CREDMESH_CLOUD_ATTEMPT_TIMEOUT_MS=5000 exceeds/);
  });
});
