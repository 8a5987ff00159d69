import { describe, expect, it } from "vitest";
import { parseRules } from "@credmesh/config";
import { CredmeshError } from "@credmesh/errors";
import { buildMutationEvent, type MutationData } from "@credmesh/events";
import { admittedRule } from "./admission.ts";

const rules = parseRules(
  JSON.stringify({
    rules: [
      {
        id: "payments",
        source: { cloud: "aws", accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/payments/"] },
        destination: { cloud: "azure", vaultUrl: "https://payments.vault.azure.net" },
      },
      {
        id: "everything-else",
        source: { cloud: "aws", accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/"] },
        destination: { cloud: "azure", vaultUrl: "https://other.vault.azure.net" },
      },
      {
        id: "kv-back",
        source: { cloud: "azure", vaults: ["payments-kv"], namePrefixes: ["prod-"] },
        destination: { cloud: "aws", account: "123456789012", region: "us-east-1" },
      },
    ],
  }),
);

const ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-Xa9TqZ";
const awsOrigin = { cloud: "aws" as const, account: "123456789012", region: "us-east-1", secretId: ARN, secretName: "prod/payments/db" };

function mutation(data: Partial<MutationData> = {}) {
  return buildMutationEvent({
    id: "evt-1",
    data: {
      kind: "upsert",
      rule: "payments",
      destination: { cloud: "azure" },
      origin: awsOrigin,
      trigger: { source: "aws.eventbridge", eventId: "evt-1", eventName: "PutSecretValue", eventTime: "2026-01-01T00:00:00Z" },
      ...data,
    },
  });
}

/** The refusal's message; fails the test when the mutation is admitted. */
function refusal(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason: "out_of_scope", retryable: false });
    return (error as CredmeshError).message;
  }
  throw new Error("expected the mutation to be refused");
}

describe("admittedRule: a replicator re-checks every mutation against its own rules", () => {
  it("admits a mutation in scope of the rule it names, for this cell's destination", () => {
    expect(admittedRule(mutation(), rules, "azure").id).toBe("payments");
    const back = mutation({ rule: "kv-back", destination: { cloud: "aws" }, origin: { cloud: "azure", vaultName: "payments-kv", secretName: "prod-db" } });
    expect(admittedRule(back, rules, "aws").id).toBe("kv-back");
  });

  it("refuses a secret outside the named rule's prefixes (a forged mutation borrowing a rule)", () => {
    const forged = mutation({ origin: { ...awsOrigin, secretId: "finance/root", secretName: "finance/root" } });
    expect(refusal(() => admittedRule(forged, rules, "azure"))).toBe("the origin secret is not in scope of rule payments: no rule covers it");
  });

  it("refuses a secret another rule owns: the first matching rule decides, as in ingest", () => {
    const other = mutation({ rule: "everything-else" });
    expect(refusal(() => admittedRule(other, rules, "azure"))).toBe("the origin secret belongs to rule payments, not to rule everything-else");
  });

  it("refuses an origin whose ARN names another account than the one scoped", () => {
    const forged = mutation({ origin: { ...awsOrigin, secretId: ARN.replace("123456789012", "999999999999") } });
    expect(refusal(() => admittedRule(forged, rules, "azure"))).toMatch(/its identifiers disagree/);
  });

  it("refuses a mutation for another destination, an unknown rule, or a rule of the other direction", () => {
    expect(refusal(() => admittedRule(mutation(), rules, "aws"))).toBe("the mutation is for destination azure; this cell replicates to aws");
    expect(refusal(() => admittedRule(mutation({ rule: "nope" }), rules, "azure"))).toBe("rule nope is not configured in this cell");
    const wrongWay = mutation({ rule: "kv-back", destination: { cloud: "azure" }, origin: { cloud: "azure", vaultName: "payments-kv", secretName: "prod-db" } });
    expect(refusal(() => admittedRule(wrongWay, rules, "azure"))).toBe("rule kv-back replicates azure → aws, not azure → azure");
  });
});
