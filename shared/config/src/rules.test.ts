import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.ts";
import { loadRules, parseRules } from "./rules.ts";

const YAML = `
rules:
  - id: payments
    description: payment service credentials
    source:
      cloud: aws
      accounts: ["123456789012"]
      regions: [us-east-1, eu-west-1]
      namePrefixes: [prod/payments/]
    destination:
      cloud: azure
      vaultUrl: https://payments.vault.azure.net
`;

/** A rule as it appears in a file, before validation. */
interface RawRule {
  [key: string]: unknown;
  source: Record<string, unknown>;
  destination: Record<string, unknown>;
}

/** One valid rule as a plain object, changed by `edit`. */
function rule(edit: (r: RawRule) => void = () => {}): RawRule {
  const r: RawRule = {
    id: "payments",
    source: { cloud: "aws", accounts: ["123456789012"], regions: ["us-east-1"], namePrefixes: ["prod/payments/"] },
    destination: { cloud: "azure", vaultUrl: "https://payments.vault.azure.net" },
  };
  edit(r);
  return r;
}

/** The issues parseRules reports for `rules`; fails the test if they parse. */
function issuesOf(text: string, origin?: string): readonly string[] {
  try {
    parseRules(text, origin);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error("expected the rules to be rejected");
}

const json = (...rules: unknown[]): string => JSON.stringify({ rules });

describe("parseRules", () => {
  it("reads YAML and applies the defaults", () => {
    const [payments] = parseRules(YAML);
    expect(payments).toStrictEqual({
      id: "payments",
      description: "payment service credentials",
      source: { cloud: "aws", accounts: ["123456789012"], regions: ["us-east-1", "eu-west-1"], namePrefixes: ["prod/payments/"] },
      destination: { cloud: "azure", vaultUrl: "https://payments.vault.azure.net", nameTemplate: "{name}" },
      onDelete: "soft-delete",
      onForceDelete: "soft-delete",
      onDeletedDestination: "recover",
      adoptUnmanaged: false,
      onDrift: "overwrite",
    });
  });

  it("reads the same rules from JSON", () => {
    const fromJson = parseRules(json(rule((r) => (r.description = "payment service credentials"))));
    const fromYaml = parseRules(YAML.replace("[us-east-1, eu-west-1]", "[us-east-1]"));
    expect(fromJson).toStrictEqual(fromYaml);
  });

  it("keeps explicit settings over the defaults", () => {
    const [r] = parseRules(
      json(
        rule((r) => {
          r.destination.nameTemplate = "{account}-{region}-{name}";
          r.onDelete = "ignore";
        }),
      ),
    );
    expect(r?.destination.nameTemplate).toBe("{account}-{region}-{name}");
    expect(r?.onDelete).toBe("ignore");
  });

  it("refuses two rules with one id", () => {
    const issues = issuesOf(json(rule(), rule((r) => (r.source.regions = ["eu-west-1"]))));
    expect(issues).toEqual(['rules: rule id "payments" is used more than once']);
  });

  it("names the exact path of a bad account id", () => {
    const issues = issuesOf(json(rule(), rule((r) => {
      r.id = "second";
      r.source.accounts = ["123456789012", "12345"];
    })));
    expect(issues).toEqual(["rules: rules.1.source.accounts.1: an AWS account id has 12 digits"]);
  });

  it("refuses an account id written as a YAML number, which would lose leading zeros", () => {
    const issues = issuesOf(YAML.replace('["123456789012"]', "[012345678901]"));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^rules: rules\.0\.source\.accounts\.0: /);
  });

  it.each(["http://payments.vault.azure.net", "ftp://payments.vault.azure.net", "payments.vault.azure.net"])(
    "refuses vaultUrl %s: Key Vault is only reached over https",
    (vaultUrl) => {
      const issues = issuesOf(json(rule((r) => (r.destination.vaultUrl = vaultUrl))));
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(/^rules: rules\.0\.destination\.vaultUrl: /);
    },
  );

  it("refuses an unknown key, so a typo does not silently widen or narrow scope", () => {
    const issues = issuesOf(json(rule((r) => (r.source.namePrefix = ["prod/"]))));
    expect(issues.join("\n")).toContain("rules.0.source");
    expect(issues.join("\n")).toContain("namePrefix");
  });

  it("reports every problem at once", () => {
    const issues = issuesOf(
      json(
        rule((r) => {
          r.id = "has spaces";
          r.source.regions = ["Mars-1"];
          r.onDelete = "purge";
        }),
      ),
    );
    expect(issues.map((issue) => issue.split(":")[1]?.trim()).sort()).toEqual(["rules.0.id", "rules.0.onDelete", "rules.0.source.regions.0"]);
  });

  it.each([
    ["no rules", json()],
    ["no rules key", "{}"],
    ["an empty prefix list", json(rule((r) => (r.source.namePrefixes = [])))],
    ["a rule without accounts", json(rule((r) => (r.source.accounts = [])))],
  ])("refuses %s", (_, text) => {
    expect(issuesOf(text).length).toBeGreaterThan(0);
  });

  it("refuses text that is not YAML, naming the origin but not echoing the text", () => {
    const issues = issuesOf("rules: [unclosed: hunter2", "/etc/credmesh/rules.yaml");
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^\/etc\/credmesh\/rules\.yaml: not valid YAML\/JSON/);
    expect(issues[0]).not.toContain("hunter2");
  });
});

describe("loadRules", () => {
  const dir = mkdtempSync(join(tmpdir(), "credmesh-rules-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a rules file and names it in errors", () => {
    const good = join(dir, "rules.yaml");
    writeFileSync(good, YAML);
    expect(loadRules(good).map((r) => r.id)).toEqual(["payments"]);

    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, YAML.replace("123456789012", "1"));
    expect(() => loadRules(bad)).toThrow(`${bad}: rules.0.source.accounts.0: an AWS account id has 12 digits`);
  });

  it("names a file it cannot read", () => {
    const missing = join(dir, "missing.yaml");
    expect(() => loadRules(missing)).toThrow(`rules file "${missing}" cannot be read`);
  });
});
