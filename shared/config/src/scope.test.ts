import { describe, expect, it } from "vitest";
import { parseRules, ruleById, type Rule } from "./rules.ts";
import { matchAwsSecret, originSecretRef, scopeOfOrigin } from "./scope.ts";

/** One valid AWS → Azure rule as a plain object, changed by `edit`. */
function rule(edit: (r: { id: string; source: Record<string, unknown>; destination: Record<string, unknown> }) => void = () => {}) {
  const r = {
    id: "payments",
    source: { cloud: "aws", accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/payments/"] } as Record<string, unknown>,
    destination: { cloud: "azure", vaultUrl: "https://payments.vault.azure.net" } as Record<string, unknown>,
  };
  edit(r);
  return r;
}

const json = (...rules: unknown[]): string => JSON.stringify({ rules });

describe("matchAwsSecret", () => {
  const rules = parseRules(
    json(
      rule((r) => (r.id = "payments")),
      rule((r) => {
        r.id = "catch-all";
        r.source.namePrefixes = [""];
        r.source.regions = ["us-east-1", "eu-west-1"];
      }),
    ),
  );
  const ref = { account: "123456789012", region: "us-east-1", name: "prod/payments/db-credentials" };
  const ruleOf = (decision: ReturnType<typeof matchAwsSecret>): Rule["id"] | undefined =>
    decision.inScope ? decision.rule.id : undefined;

  it("picks the first matching rule in file order", () => {
    expect(ruleOf(matchAwsSecret(rules, ref))).toBe("payments");
  });

  it("falls through to a later rule when the prefix does not match", () => {
    expect(ruleOf(matchAwsSecret(rules, { ...ref, name: "prod/orders/api-key" }))).toBe("catch-all");
  });

  it("falls through when only the region differs", () => {
    expect(ruleOf(matchAwsSecret(rules, { ...ref, region: "eu-west-1" }))).toBe("catch-all");
  });

  it("is out of scope for another account or region", () => {
    expect(matchAwsSecret(rules, { ...ref, account: "210987654321" })).toEqual({ inScope: false, reason: "no_matching_rule" });
    expect(matchAwsSecret(rules, { ...ref, region: "ap-south-1" })).toEqual({ inScope: false, reason: "no_matching_rule" });
  });

  it("matches prefixes case-sensitively, as AWS names are", () => {
    const only = [ruleById(rules, "payments") as Rule];
    expect(matchAwsSecret(only, { ...ref, name: "Prod/Payments/db" })).toEqual({ inScope: false, reason: "no_matching_rule" });
  });

  it("never replicates EventBridge connection secrets, even under the empty prefix", () => {
    expect(matchAwsSecret(rules, { ...ref, name: "events!connection/credmesh-ingest/0b1c2d3e-aaaa" })).toEqual({
      inScope: false,
      reason: "excluded_name",
    });
  });

  it("never replicates EventBridge connection secrets, even when a rule names them", () => {
    const explicit = parseRules(json(rule((r) => (r.source.namePrefixes = ["events!connection/"]))));
    expect(matchAwsSecret(explicit, { ...ref, name: "events!connection/ingest/abc" })).toMatchObject({ inScope: false });
  });

  it("finds a rule by id", () => {
    expect(ruleById(rules, "catch-all")?.source.namePrefixes).toEqual([""]);
    expect(ruleById(rules, "nope")).toBeUndefined();
  });
});

describe("scopeOfOrigin: a mutation's origin, checked as ingest checks a cloud event", () => {
  const rules = parseRules(
    json(
      rule(),
      {
        id: "kv-back",
        source: { cloud: "azure", vaults: ["payments-kv"], namePrefixes: ["prod-"] },
        destination: { cloud: "aws", account: "123456789012", region: "us-east-1" },
      },
    ),
  );
  const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-Xa9TqZ";
  const aws = { cloud: "aws" as const, account: "123456789012", region: "us-east-1", secretId: arn, secretName: "prod/payments/db" };
  const ruleOf = (decision: ReturnType<typeof scopeOfOrigin>) => (decision.inScope ? decision.rule.id : decision.reason);

  it("finds the rule of an origin named by its ARN, or by its plain name", () => {
    expect(ruleOf(scopeOfOrigin(rules, aws))).toBe("payments");
    expect(ruleOf(scopeOfOrigin(rules, { ...aws, secretId: "prod/payments/db" }))).toBe("payments");
    expect(ruleOf(scopeOfOrigin(rules, { cloud: "azure", vaultName: "Payments-KV", secretName: "PROD-db" }))).toBe("kv-back");
  });

  it("is out of scope where no rule covers the secret", () => {
    expect(ruleOf(scopeOfOrigin(rules, { ...aws, secretId: "prod/orders/db", secretName: "prod/orders/db" }))).toBe("no_matching_rule");
    expect(ruleOf(scopeOfOrigin(rules, { cloud: "azure", vaultName: "other-kv", secretName: "prod-db" }))).toBe("no_matching_rule");
  });

  it.each([
    ["an ARN of another account", { secretId: arn.replace("123456789012", "210987654321") }],
    ["an ARN of another region", { secretId: arn.replace("us-east-1", "eu-west-1") }],
    ["an ARN of another secret than secretName says", { secretId: arn.replace("prod/payments/db", "prod/other/db") }],
    ["a partial ARN (no suffix), which could name any account's secret", { secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db" }],
    ["a plain name other than secretName", { secretId: "prod/payments/other", secretName: "prod/payments/db" }],
  ])("refuses %s: the secret read must be the secret scoped", (_, change) => {
    const decision = scopeOfOrigin(rules, { ...aws, ...change });
    expect(decision).toMatchObject({ inScope: false, reason: "inconsistent_origin" });
  });

  it("scopes by what secretId reads, so a forged secretName cannot borrow a rule", () => {
    // secretName alone would be in scope; the ARN the replicator would read is not.
    const forged = { ...aws, secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:finance/root-Ab12Cd", secretName: "prod/payments/db" };
    expect(scopeOfOrigin(rules, forged).inScope).toBe(false);
    expect(originSecretRef({ ...forged, secretName: undefined })).toEqual({ cloud: "aws", ref: { account: "123456789012", region: "us-east-1", name: "finance/root" } });
  });
});
