import { JetStreamApiError } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { isTransientBusFailure } from "./transient.ts";

const refusal = (code: number, err_code: number, description: string): JetStreamApiError => new JetStreamApiError({ code, err_code, description });

describe("isTransientBusFailure", () => {
  it("retries what passes: timeouts, no responders, a leader without quorum, an id still being proposed, a full ingest queue", () => {
    expect(isTransientBusFailure(new Error("timeout"))).toBe(true);
    expect(isTransientBusFailure(refusal(503, 10008, "JetStream system temporarily unavailable"))).toBe(true);
    // What a clustered stream leader answers a retried message id while the first attempt waits
    // for a quorum (seen on a 3-node cluster with two nodes killed): the message may yet be stored.
    expect(isTransientBusFailure(refusal(409, 10158, "duplicate message id is in process"))).toBe(true);
    expect(isTransientBusFailure(refusal(429, 10167, "too many requests"))).toBe(true);
  });

  it("does not retry JetStream refusing the message itself", () => {
    expect(isTransientBusFailure(refusal(400, 10060, "expected stream does not match"))).toBe(false);
    expect(isTransientBusFailure(refusal(400, 10054, "message size exceeds maximum allowed"))).toBe(false);
  });
});
