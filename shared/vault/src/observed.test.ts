import { describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { attemptSignal } from "./observed.ts";

describe("attemptSignal", () => {
  it("refuses to start a call once the operation is aborted, with the abort's own reason (a lost lease)", () => {
    const lost = new CredmeshError("operation_in_progress", "the secret lease was lost");
    expect(() => attemptSignal(AbortSignal.abort(lost), 1_000)).toThrow(lost);
  });

  it("reports an operation past its deadline as a retryable timeout", () => {
    expect(() => attemptSignal(AbortSignal.abort(new Error("deadline")), undefined)).toThrow(expect.objectContaining({ reason: "timeout", retryable: true }) as Error);
  });

  it("aborts an attempt after the per-attempt timeout, and with the operation", async () => {
    const attempt = attemptSignal(undefined, 20);
    expect(attempt?.aborted).toBe(false);
    await new Promise((resolve) => attempt?.addEventListener("abort", resolve, { once: true }));
    expect(attempt?.aborted).toBe(true);
    const operation = new AbortController();
    const combined = attemptSignal(operation.signal, 60_000);
    operation.abort(new Error("deadline"));
    expect(combined?.aborted).toBe(true);
  });

  it("passes the operation's signal through when there is no per-attempt timeout", () => {
    const operation = new AbortController();
    expect(attemptSignal(operation.signal, undefined)).toBe(operation.signal);
    expect(attemptSignal(undefined, undefined)).toBeUndefined();
  });
});
