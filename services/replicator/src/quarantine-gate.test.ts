import { describe, expect, it, vi } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import type { QuarantineRecord } from "@credmesh/events";
import { createLogger, Sensitive } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { MemoryVault, type VaultContext, type VaultPort } from "@credmesh/vault";
import { QuarantineGate, dropCredentialsOnChange, gatedCredentials, gatedVault } from "./quarantine-gate.ts";

const RECORD: QuarantineRecord = {
  cell: "cell-1",
  state: "quarantined",
  reason: "key leaked",
  by: "alice",
  at: "2026-02-01T00:00:00.000Z",
  trigger: { type: "operator" },
  transitionId: "t-1",
};
const logger = createLogger({ service: "test", level: "error" });
const ctx: VaultContext = { logger };

/** A vault whose `get` waits until its signal aborts, as a slow cloud call would. */
function slowVault(): VaultPort & { started: number } {
  const base = new MemoryVault("aws");
  const vault = Object.assign(Object.create(base) as VaultPort, { started: 0 });
  vault.get = (_name: string, c: VaultContext) => {
    vault.started += 1;
    return new Promise((_resolve, reject) => {
      c.signal?.addEventListener("abort", () => reject(new CredmeshError("timeout", "aborted")), { once: true });
    });
  };
  return vault;
}

function openGate(metrics = createMetrics(new Registry(), { defaultMetrics: false })) {
  const gate = new QuarantineGate("cell-1", { metrics });
  gate.set({ state: "open" });
  return { gate, metrics };
}

describe("QuarantineGate", () => {
  it("starts closed: nothing uses the identity before the state was read", async () => {
    const gate = new QuarantineGate("cell-1");
    expect(gate.isOpen).toBe(false);
    expect(gate.readiness()).toEqual({ ok: false, detail: expect.stringContaining("unknown") as string });
    await expect(gatedVault(new MemoryVault("aws"), gate).describe("x", ctx)).rejects.toMatchObject({ reason: "quarantined" });
  });

  it("aborts an in-flight cloud call at once and refuses new ones while quarantined", async () => {
    const { gate, metrics } = openGate();
    const vault = slowVault();
    const call = gatedVault(vault, gate).get("db", ctx);
    await vi.waitFor(() => expect(vault.started).toBe(1));
    gate.set({ state: "quarantined", record: RECORD });
    await expect(call).rejects.toMatchObject({ reason: "quarantined", code: "CellQuarantined" });
    await expect(gatedVault(vault, gate).get("db", ctx)).rejects.toMatchObject({ reason: "quarantined" });
    expect(vault.started).toBe(1);
    expect(gate.readiness().detail).toBe("cell cell-1 quarantined since 2026-02-01T00:00:00.000Z by operator alice: key leaked");
    const states = (await metrics.quarantineGateState.get()).values.filter((v) => v.value === 1).map((v) => v.labels.state);
    expect(states).toEqual(["quarantined"]);
    expect((await metrics.quarantineAborted.get()).values[0]?.value).toBe(2);
  });

  it("holds work across a quarantine and runs it again after the release", async () => {
    const { gate } = openGate();
    let attempts = 0;
    const held = gate.hold(async () => {
      attempts += 1;
      if (attempts === 1) {
        gate.set({ state: "quarantined", record: RECORD });
        throw new CredmeshError("timeout", "aborted by the gate");
      }
      return "applied";
    });
    await vi.waitFor(() => expect(attempts).toBe(1));
    expect(gate.isOpen).toBe(false);
    gate.set({ state: "open" });
    await expect(held).resolves.toBe("applied");
    expect(attempts).toBe(2);
  });

  it("gives up a held wait with the retryable quarantined error when the process stops", async () => {
    const { gate } = openGate();
    gate.set({ state: "unknown", why: "the NATS connection is lost" });
    const stop = new AbortController();
    const held = gate.hold(async () => "never");
    const stopped = gate.hold(async () => "never", stop.signal);
    stop.abort();
    await expect(stopped).rejects.toMatchObject({ reason: "quarantined", retryable: true, code: "QuarantineStateUnknown" });
    gate.set({ state: "open" });
    await expect(held).resolves.toBe("never");
  });

  it("lets failures that are not the gate's through, and reports access denied", async () => {
    const { gate } = openGate();
    const denied = vi.fn();
    const vault = new MemoryVault("aws");
    vault.put = () => Promise.reject(new CredmeshError("access_denied", "not allowed", { code: "AccessDeniedException" }));
    await expect(gatedVault(vault, gate, denied).put("x", new Sensitive("v"), { tags: {} }, ctx)).rejects.toMatchObject({ reason: "access_denied" });
    expect(denied).toHaveBeenCalledWith({ cloud: "aws", operation: "put", code: "AccessDeniedException" });
  });

  it("refuses credentials while closed and drops every cached one on quarantine and on release", async () => {
    const { gate } = openGate();
    const aws = Object.assign(vi.fn(async () => ({ accessKeyId: "AKID", secretAccessKey: "s" })), { invalidate: vi.fn(), chain: {} as never });
    const azure = { getToken: vi.fn(async (_scopes: string | string[]) => ({ token: "t", expiresOnTimestamp: 0 })), invalidate: vi.fn(), chain: {} as never };
    const gated = gatedCredentials({ aws, azure }, gate);
    const dropClients = vi.fn();
    dropCredentialsOnChange(gate, { aws, azure }, dropClients, logger);
    await expect(gated.aws()).resolves.toMatchObject({ accessKeyId: "AKID" });
    gate.set({ state: "quarantined", record: RECORD });
    await expect(gated.aws()).rejects.toMatchObject({ reason: "quarantined" });
    await expect(gated.azure.getToken("https://vault.azure.net/.default")).rejects.toMatchObject({ reason: "quarantined" });
    gate.set({ state: "open" });
    expect(aws.invalidate).toHaveBeenCalledTimes(2);
    expect(azure.invalidate).toHaveBeenCalledTimes(2);
    expect(dropClients).toHaveBeenCalledTimes(2);
  });
});
