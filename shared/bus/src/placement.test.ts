import { describe, expect, it } from "vitest";
import { judgeStream, kvStreamName } from "./placement.ts";

const info = (name: string, configured: number, cluster?: { leader?: string; replicas?: Array<{ name: string }> }) =>
  ({ config: { name, num_replicas: configured }, cluster }) as unknown as Parameters<typeof judgeStream>[0];

describe("judgeStream", () => {
  it("accepts a stream configured and placed with the expected replicas", () => {
    expect(judgeStream(info("CREDMESH_MUTATIONS", 3, { leader: "n1", replicas: [{ name: "n2" }, { name: "n3" }] }), 3)).toEqual({
      stream: "CREDMESH_MUTATIONS",
      state: "ok",
      configured: 3,
      placed: 3,
    });
  });

  it("accepts a single server's R1 stream (a leader, no replicas)", () => {
    expect(judgeStream(info("CREDMESH_AUDIT", 1, { leader: "local" }), 1)).toMatchObject({ state: "ok", placed: 1 });
  });

  it("reports a stream configured with another replica count", () => {
    // An R1 stream left from a single-node install, now used by a deployment configured for R3.
    expect(judgeStream(info("CREDMESH_MUTATIONS", 1, { leader: "n2" }), 3)).toEqual({ stream: "CREDMESH_MUTATIONS", state: "mismatch", configured: 1, placed: 1 });
    expect(judgeStream(info("KV_credmesh-quarantine", 3, { leader: "n2", replicas: [{ name: "n1" }, { name: "n3" }] }), 1)).toMatchObject({ state: "mismatch", configured: 3 });
  });

  it("reports a stream with fewer peers placed than configured", () => {
    expect(judgeStream(info("CREDMESH_DLQ", 3, { leader: "n1", replicas: [{ name: "n2" }] }), 3)).toEqual({ stream: "CREDMESH_DLQ", state: "mismatch", configured: 3, placed: 2 });
  });

  it("judges only the configuration while the stream has no leader (an election)", () => {
    expect(judgeStream(info("CREDMESH_MUTATIONS", 3, { replicas: [{ name: "n2" }] }), 3)).toMatchObject({ state: "ok", configured: 3 });
    expect(judgeStream(info("CREDMESH_MUTATIONS", 1, {}), 3)).toMatchObject({ state: "mismatch", configured: 1, placed: undefined });
  });

  it("names a KV bucket's stream", () => {
    expect(kvStreamName("credmesh-secret-leases")).toBe("KV_credmesh-secret-leases");
  });
});
