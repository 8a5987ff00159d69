import { describe, expect, it } from "vitest";
import { CredmeshError, RETRY_AFTER_MAX_MS, type BackoffPolicy } from "@credmesh/errors";
import { settle } from "./settlement.ts";

const policy: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000, random: () => 0 };
const MAX_DELIVER = 5;

const throttled = (retryAfterMs?: number): CredmeshError =>
  new CredmeshError("throttled", "keyvault SetSecret failed (Throttled, HTTP 429)", retryAfterMs === undefined ? {} : { retryAfterMs });
const denied = new CredmeshError("access_denied", "keyvault SetSecret failed (HTTP 403)", { status: 403 });

describe("settle", () => {
  it("acks a message whose handler succeeded", () => {
    expect(settle(undefined, 1, MAX_DELIVER, policy)).toStrictEqual({ verb: "ack" });
  });

  it("naks a retryable failure with a backoff delay while deliveries remain", () => {
    const error = throttled();
    expect(settle(error, 1, MAX_DELIVER, policy)).toStrictEqual({ verb: "nak", delayMs: 500, error });
  });

  it("backs off further with each delivery", () => {
    const delays = [1, 2, 3, 4].map((delivery) => {
      const outcome = settle(throttled(), delivery, MAX_DELIVER, policy);
      return outcome.verb === "nak" ? outcome.delayMs : undefined;
    });
    expect(delays).toEqual([500, 1_000, 2_000, 4_000]);
  });

  it("naks with exactly the delay the cloud asked for in Retry-After", () => {
    expect(settle(throttled(12_000), 1, MAX_DELIVER, policy)).toMatchObject({ verb: "nak", delayMs: 12_000 });
  });

  it("never naks for less than the cloud's Retry-After, even beyond the backoff's cap", () => {
    expect(settle(throttled(90_000), 1, MAX_DELIVER, policy)).toMatchObject({ verb: "nak", delayMs: 90_000 });
  });

  it("reads an absurd Retry-After (a broken header) as the honoured bound", () => {
    expect(settle(throttled(86_400_000), 1, MAX_DELIVER, policy)).toMatchObject({ verb: "nak", delayMs: RETRY_AFTER_MAX_MS });
  });

  it("terminates and dead-letters a permanent failure on its first delivery", () => {
    expect(settle(denied, 1, MAX_DELIVER, policy)).toStrictEqual({ verb: "term", error: denied, deadLetter: true });
  });

  it("terminates and dead-letters a retryable failure on the last delivery, so it does not vanish", () => {
    const error = throttled();
    expect(settle(error, MAX_DELIVER, MAX_DELIVER, policy)).toStrictEqual({ verb: "term", error, deadLetter: true });
    expect(settle(error, MAX_DELIVER + 1, MAX_DELIVER, policy)).toMatchObject({ verb: "term" });
  });

  it("naks on the delivery before the last", () => {
    expect(settle(throttled(), MAX_DELIVER - 1, MAX_DELIVER, policy)).toMatchObject({ verb: "nak" });
  });

  it("treats an unclassified error as permanent: dead-lettered, never retried forever", () => {
    const outcome = settle(new TypeError("Cannot read properties of undefined"), 1, MAX_DELIVER, policy);
    expect(outcome).toMatchObject({ verb: "term", deadLetter: true, error: { reason: "internal", retryable: false } });
  });

  it("does not carry a foreign error's text into the dead-letter record", () => {
    const outcome = settle(new Error("value hunter2 rejected"), 1, MAX_DELIVER, policy);
    expect(outcome.verb).toBe("term");
    if (outcome.verb === "term") expect(JSON.stringify(outcome.error.toRecord())).not.toContain("hunter2");
  });

  it.each(["throttled", "unavailable", "network", "timeout", "credentials_expired", "operation_in_progress"] as const)(
    "retries %s",
    (reason) => {
      expect(settle(new CredmeshError(reason, "x"), 1, MAX_DELIVER, policy).verb).toBe("nak");
    },
  );

  it.each(["access_denied", "unauthenticated", "validation", "value_too_large", "name_collision", "deleted_in_destination", "invalid_event"] as const)(
    "dead-letters %s at once",
    (reason) => {
      expect(settle(new CredmeshError(reason, "x"), 1, MAX_DELIVER, policy).verb).toBe("term");
    },
  );
});
