import { describe, expect, it } from "vitest";
import { isAwsToAzure, parseRules, type Rule, type RuleSet } from "@credmesh/config";
import { CredmeshError, RetryBudget } from "@credmesh/errors";
import { buildMutationEvent, type MutationEvent } from "@credmesh/events";
import { createLogger, sensitive, type Sensitive } from "@credmesh/logging";
import { MemoryVault, type PutOptions, type VaultContext } from "@credmesh/vault";
import { applyMutation, type ConvergeDeps } from "./apply.ts";

/**
 * The mutation path over in-memory vaults: which port calls one mutation makes, what it decides,
 * and the write stamps that make the audit trail exact. The same paths run against moto and the
 * Key Vault emulator in test/e2e (cloud calls counted outside the code there).
 */
const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const logger = createLogger({ service: "test", level: "silent" });
const ctx: VaultContext = { logger };

const FORWARD_ONLY = `rules:
  - id: aws-to-azure
    source: { cloud: aws, accounts: ["${ACCOUNT}"], regions: [${REGION}], namePrefixes: ["prod/"] }
    destination: { cloud: azure, vaultUrl: https://payments-kv.vault.azure.net }
`;

const RULES = `rules:
  - id: aws-to-azure
    source: { cloud: aws, accounts: ["${ACCOUNT}"], regions: [${REGION}], namePrefixes: ["prod/"] }
    destination: { cloud: azure, vaultUrl: https://payments-kv.vault.azure.net }
  - id: azure-to-aws
    source: { cloud: azure, vaults: [apps-kv], namePrefixes: ["app-"] }
    destination: { cloud: aws, account: "${ACCOUNT}", region: ${REGION} }
`;

/** A Key Vault that applies a write and then loses the answer, once. */
class LosingVault extends MemoryVault {
  losses = 1;
  override async put(name: string, value: Sensitive<string>, options: PutOptions, _ctx?: unknown): Promise<{ versionId: string }> {
    const written = await super.put(name, value, options);
    if (this.losses-- > 0) throw new CredmeshError("network", "keyvault SetSecret failed", { code: "ECONNRESET" });
    return written;
  }
}

function harness(rulesYaml = RULES, kv: MemoryVault = new MemoryVault("azure")) {
  const rules: RuleSet = parseRules(rulesYaml);
  const aws = new MemoryVault("aws", { arn: { account: ACCOUNT, region: REGION } });
  const deps: ConvergeDeps = {
    rules,
    sourceFor: (origin) => (origin.cloud === "aws" ? aws : kv),
    destinationFor: (rule: Rule) => (isAwsToAzure(rule) ? kv : aws),
    vaultUrlOf: (vault) => `https://${vault}.vault.azure.net`,
    contentHashKey: sensitive("k".repeat(32)),
    budget: new RetryBudget(),
    ownSessionPrefix: "credmesh-",
  };
  let events = 0;
  const awsEvent = (name: string, id = `evt-${++events}`): MutationEvent =>
    buildMutationEvent({
      id,
      data: {
        kind: "upsert",
        rule: "aws-to-azure",
        destination: { cloud: "azure" },
        origin: { cloud: "aws", account: ACCOUNT, region: REGION, secretId: name, secretName: name },
        trigger: { source: "aws.eventbridge", eventId: id, eventName: "PutSecretValue", eventTime: new Date().toISOString() },
      },
    });
  const azureEvent = (name: string, id = `evt-${++events}`): MutationEvent =>
    buildMutationEvent({
      id,
      data: {
        kind: "upsert",
        rule: "azure-to-aws",
        destination: { cloud: "aws" },
        origin: { cloud: "azure", vaultName: "apps-kv", secretName: name },
        trigger: { source: "azure.eventgrid", eventId: id, eventName: "SecretNewVersionCreated", eventTime: new Date().toISOString() },
      },
    });
  const apply = (event: MutationEvent, deliveries = 1) => applyMutation(event, deps, { logger, deliveries });
  const callsOf = (vault: MemoryVault) => Object.values(vault.calls).reduce((sum, count) => sum + count, 0);
  const resetCalls = () => {
    for (const vault of [aws, kv]) for (const key of Object.keys(vault.calls)) delete vault.calls[key];
  };
  return { aws, kv, apply, awsEvent, azureEvent, callsOf, resetCalls };
}

describe("applyMutation: one read per side, one decision, one effect", () => {
  it("AWS → Azure: a first write is one source read, one destination read, one write; a duplicate is two reads", async () => {
    const h = harness(FORWARD_ONLY);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    h.resetCalls();
    expect(await h.apply(h.awsEvent("prod/db"))).toMatchObject({ decision: "applied" });
    expect([h.aws.calls, h.kv.calls]).toEqual([{ read: 1 }, { describe: 1, put: 1 }]);
    h.resetCalls();
    expect(await h.apply(h.awsEvent("prod/db"))).toMatchObject({ decision: "skipped_duplicate" });
    expect([h.aws.calls, h.kv.calls]).toEqual([{ read: 1 }, { describe: 1 }]);
    h.resetCalls();
    await h.aws.put("prod/db", sensitive("pw-2"), { tags: {} }, ctx);
    expect(await h.apply(h.awsEvent("prod/db"))).toMatchObject({ decision: "applied" });
    expect(h.callsOf(h.aws) + h.callsOf(h.kv)).toBe(4); // the put above, then read + describe + put
  });

  it("AWS → Azure where a rule also writes into the source's region: a first write also reads the source's tags (is it a replica?); later ones do not", async () => {
    const h = harness(RULES);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    h.resetCalls();
    await h.apply(h.awsEvent("prod/db"));
    expect([h.aws.calls, h.kv.calls]).toEqual([{ read: 1, describe: 1 }, { describe: 1, put: 1 }]);
    await h.aws.put("prod/db", sensitive("pw-2"), { tags: {} }, ctx);
    h.resetCalls();
    await h.apply(h.awsEvent("prod/db"));
    expect([h.aws.calls, h.kv.calls]).toEqual([{ read: 1 }, { describe: 1, put: 1 }]);
  });

  it("Azure → AWS: the same three calls, and the update adds a version without rewriting unchanged tags", async () => {
    const h = harness();
    await h.kv.put("app-token", sensitive("t-1"), { tags: {} }, ctx);
    h.resetCalls();
    expect(await h.apply(h.azureEvent("app-token"))).toMatchObject({ decision: "applied" });
    expect([h.kv.calls, h.aws.calls]).toEqual([{ read: 1 }, { describe: 1, put: 1 }]);
    await h.kv.put("app-token", sensitive("t-2"), { tags: {} }, ctx);
    h.resetCalls();
    const updated = await h.apply(h.azureEvent("app-token"));
    expect(updated).toMatchObject({ decision: "applied" });
    expect([h.kv.calls, h.aws.calls]).toEqual([{ read: 1 }, { describe: 1, put: 1 }]);
    // The Secrets Manager version id is the write stamp: it names the Key Vault version it copies.
    expect(updated.destination.versionId).toMatch(/^cm1-z-[0-9a-f]{8}-[0-9a-f]{16}-[0-9a-f]{32}$/);
    h.resetCalls();
    expect(await h.apply(h.azureEvent("app-token"))).toMatchObject({ decision: "skipped_duplicate" });
    expect(h.callsOf(h.kv) + h.callsOf(h.aws)).toBe(2);
  });

  it("stops a copy credmesh wrote from echoing back with one read (the stamp says whose it is)", async () => {
    // A bidirectional pair: the AWS copy of app-token is in scope of the rule back to Azure.
    const h = harness(RULES.replace('namePrefixes: ["prod/"]', 'namePrefixes: ["prod/", "app-"]'));
    await h.kv.put("app-token", sensitive("t-1"), { tags: {} }, ctx);
    await h.apply(h.azureEvent("app-token"));
    h.resetCalls();
    const echo = buildMutationEvent({
      id: "evt-echo",
      data: {
        kind: "sync",
        rule: "aws-to-azure",
        destination: { cloud: "azure" },
        origin: { cloud: "aws", account: ACCOUNT, region: REGION, secretId: "app-token", secretName: "app-token" },
        trigger: { source: "reconciler", eventId: "evt-echo", eventName: "Reconcile", eventTime: new Date().toISOString() },
      },
    });
    await expect(h.apply(echo)).resolves.toMatchObject({ decision: "skipped_echo" });
    expect(h.callsOf(h.aws) + h.callsOf(h.kv)).toBe(1);
  });
});

describe("applyMutation: an exact audit trail", () => {
  it("audits a write whose answer was lost as applied, once, and writes one version", async () => {
    const kv = new LosingVault("azure");
    const h = harness(RULES, kv);
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const outcome = await h.apply(h.awsEvent("prod/db"));
    expect(outcome).toMatchObject({ decision: "applied" });
    expect(kv.writes).toHaveLength(1);
    expect(outcome.destination.versionId).toBe(kv.writes[0]?.versionId);
  });

  it("recognises on redelivery the write an earlier delivery made, even under a newer version, as this mutation's applied", async () => {
    const h = harness();
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const first = h.awsEvent("prod/db", "evt-first");
    const written = await h.apply(first);
    // Its answer was lost (no audit); another mutation writes a newer version meanwhile.
    await h.aws.put("prod/db", sensitive("pw-2"), { tags: {} }, ctx);
    const second = await h.apply(h.awsEvent("prod/db", "evt-second"));
    expect(second).toMatchObject({ decision: "applied" });
    const redelivered = await h.apply(first, 2);
    expect(redelivered).toMatchObject({ decision: "applied", destination: { versionId: written.destination.versionId }, originVersion: written.originVersion });
    expect(h.kv.writes).toHaveLength(2);
    // A different event for a version already written is a duplicate, not a second applied.
    expect(await h.apply(h.awsEvent("prod/db"), 2)).toMatchObject({ decision: "skipped_duplicate" });
  });

  it("confirms a lost write on redelivery with the origin version that write carried, though the source moved on since", async () => {
    // Found by the cluster chaos test: the confirmation reported the source's current version, so
    // the audit trail had that version `applied` twice (here and by its own mutation) and this one never.
    const h = harness();
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const first = h.awsEvent("prod/db", "evt-first");
    const written = await h.apply(first);
    await h.aws.put("prod/db", sensitive("pw-2"), { tags: {} }, ctx);
    const redelivered = await h.apply(first, 2);
    expect(redelivered).toMatchObject({ decision: "applied", destination: { versionId: written.destination.versionId }, originVersion: written.originVersion });
    const newer = await h.apply(h.awsEvent("prod/db", "evt-newer"));
    expect(newer).toMatchObject({ decision: "applied" });
    expect(newer.originVersion).not.toBe(written.originVersion);
    expect(h.kv.writes).toHaveLength(2);
  });
});

describe("applyMutation: drift", () => {
  it("overwrites a replica changed by hand, naming the replaced version (default policy)", async () => {
    const h = harness();
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const first = await h.apply(h.awsEvent("prod/db"));
    const hand = h.kv.handWrite(first.destination.name, sensitive("typed-by-hand"));
    const outcome = await h.apply(h.awsEvent("prod/db"));
    expect(outcome).toMatchObject({ decision: "overwrote_drift", destination: { replacedVersionId: hand } });
    expect(outcome.detail).toContain(hand);
    expect((await h.kv.get(first.destination.name, ctx))?.value.reveal()).toBe("pw-1");
  });

  it("keeps it with onDrift: keep", async () => {
    const h = harness(RULES.replace("destination: { cloud: azure, vaultUrl: https://payments-kv.vault.azure.net }", "destination: { cloud: azure, vaultUrl: https://payments-kv.vault.azure.net }\n    onDrift: keep"));
    await h.aws.put("prod/db", sensitive("pw-1"), { tags: {} }, ctx);
    const first = await h.apply(h.awsEvent("prod/db"));
    h.kv.handWrite(first.destination.name, sensitive("typed-by-hand"));
    await h.aws.put("prod/db", sensitive("pw-2"), { tags: {} }, ctx);
    expect(await h.apply(h.awsEvent("prod/db"))).toMatchObject({ decision: "skipped_drift" });
    expect((await h.kv.get(first.destination.name, ctx))?.value.reveal()).toBe("typed-by-hand");
  });
});

