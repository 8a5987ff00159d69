import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { KEY_VAULT_OBJECT_NAME as KEY_VAULT_NAME, KEY_VAULT_OBJECT_NAME_MAX as KEY_VAULT_NAME_MAX, SECRETS_MANAGER_NAME } from "@credmesh/identifiers";
import {
  renderTemplate,
  sameKeyVaultName,
  toKeyVaultName,
  toSecretsManagerName,
} from "./key-vault-names.ts";

const AWS_ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+=.@-"];
const KEY_VAULT_ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"];

/** Any valid Secrets Manager name: `[A-Za-z0-9/_+=.@-]`, 1–512 characters (FORMATS.md F). */
const awsName = fc.string({ unit: fc.constantFrom(...AWS_ALPHABET), minLength: 1, maxLength: 512 });
/** AWS names that Key Vault cannot take as they are. */
const lossyAwsName = awsName.filter((name) => !KEY_VAULT_NAME.test(name));
/** Names that are already valid in Key Vault. */
const keyVaultName = fc.string({ unit: fc.constantFrom(...KEY_VAULT_ALPHABET), minLength: 1, maxLength: KEY_VAULT_NAME_MAX });

const mapped = (name: string): string => toKeyVaultName("{name}", { name });

describe("toKeyVaultName", () => {
  it("always yields a valid Key Vault name", () => {
    fc.assert(
      fc.property(awsName, (name) => {
        expect(mapped(name)).toMatch(/^[0-9a-zA-Z-]{1,127}$/);
      }),
      { numRuns: 2_000 },
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(awsName, (name) => {
        expect(mapped(name)).toBe(mapped(name));
      }),
    );
  });

  it("leaves a name Key Vault already accepts unchanged", () => {
    fc.assert(
      fc.property(keyVaultName, (name) => {
        expect(mapped(name)).toBe(name);
      }),
      { numRuns: 1_000 },
    );
  });

  it("never maps two different lossy names to the same Key Vault name, even ignoring case", () => {
    // Few letters and many separators: lots of names share a readable part ("a-b"), so only
    // the hash suffix keeps them apart.
    const crowded = fc
      .string({ unit: fc.constantFrom("a", "B", "/", "_", ".", "@", "+", "=", "-"), minLength: 1, maxLength: 12 })
      .filter((name) => !KEY_VAULT_NAME.test(name));
    const names = new Set([
      ...fc.sample(lossyAwsName, { numRuns: 10_000, seed: 20250601 }),
      ...fc.sample(crowded, { numRuns: 20_000, seed: 20250602 }),
    ]);
    const seen = new Map<string, string>();
    const readable = new Set<string>();
    for (const name of names) {
      const target = mapped(name).toLowerCase();
      expect(seen.get(target), `${name} collides with ${seen.get(target)}`).toBeUndefined();
      seen.set(target, name);
      readable.add(target.replace(/-h[0-9a-f]{10}$/, ""));
    }
    expect(names.size).toBeGreaterThan(10_000);
    expect(readable.size).toBeLessThan(names.size / 2);
  });

  it("keeps apart names that differ only in the character Key Vault cannot hold", () => {
    const variants = ["a/b", "a_b", "a+b", "a=b", "a.b", "a@b", "a//b", "a/_b", "/a/b", "a/b/"];
    const targets = variants.map(mapped);
    expect(new Set(targets).size).toBe(variants.length);
    for (const target of targets) expect(target).toMatch(/^a-b-h[0-9a-f]{10}$/);
  });

  it("keeps apart long names that differ only beyond the readable part", () => {
    const stem = "x".repeat(200);
    const targets = [`${stem}1`, `${stem}2`, `${stem}/`].map(mapped);
    expect(new Set(targets).size).toBe(3);
    for (const target of targets) expect(target).toHaveLength(KEY_VAULT_NAME_MAX);
  });

  it("keeps the name readable: separators become dashes, then a hash suffix", () => {
    expect(mapped("prod/payments/db-credentials")).toMatch(/^prod-payments-db-credentials-h[0-9a-f]{10}$/);
    expect(mapped("/prod//payments/")).toMatch(/^prod-payments-h[0-9a-f]{10}$/);
  });

  it("maps a name made only of separators to a valid name", () => {
    expect(mapped("///")).toMatch(/^s-h[0-9a-f]{10}$/);
    expect(mapped("@")).not.toBe(mapped("/"));
  });

  it("maps names longer than 127 characters even when every character is valid", () => {
    const long = "a".repeat(128);
    expect(mapped(long)).toHaveLength(KEY_VAULT_NAME_MAX);
    expect(mapped(long)).toMatch(/^a{115}-h[0-9a-f]{10}$/);
    expect(mapped("a".repeat(127))).toBe("a".repeat(127));
  });

  it("renders the rule's template before mapping", () => {
    expect(toKeyVaultName("aws-{account}-{name}", { name: "db", account: "123456789012" })).toBe("aws-123456789012-db");
    expect(toKeyVaultName("{region}-{name}", { name: "prod/db", region: "us-east-1" })).toMatch(/^us-east-1-prod-db-h[0-9a-f]{10}$/);
  });

  it("tells apart names that a template puts in different accounts", () => {
    const template = "{account}-{name}";
    expect(toKeyVaultName(template, { name: "a/b", account: "111111111111" })).not.toBe(
      toKeyVaultName(template, { name: "a/b", account: "222222222222" }),
    );
  });
});

describe("renderTemplate", () => {
  it("replaces {name}, {account} and {region}", () => {
    expect(renderTemplate("{account}/{region}/{name}", { name: "db", account: "123456789012", region: "eu-west-1" })).toBe(
      "123456789012/eu-west-1/db",
    );
  });

  it("replaces every occurrence", () => {
    expect(renderTemplate("{name}-{name}", { name: "db" })).toBe("db-db");
  });

  it("does not expand placeholders that come from a secret's name", () => {
    expect(renderTemplate("{name}", { name: "{account}" })).toBe("{account}");
  });

  it("refuses an unknown placeholder as a configuration error", () => {
    const render = (): string => renderTemplate("{vault}-{name}", { name: "db" });
    expect(render).toThrow(CredmeshError);
    expect(render).toThrow("name template placeholder {vault} has no value");
    try {
      render();
    } catch (error) {
      expect(error).toMatchObject({ reason: "configuration", retryable: false });
    }
  });

  it("refuses a known placeholder the caller has no value for", () => {
    expect(() => renderTemplate("{account}-{name}", { name: "db" })).toThrow("name template placeholder {account} has no value");
  });
});

describe("sameKeyVaultName", () => {
  it("compares as Key Vault does, ignoring case", () => {
    expect(sameKeyVaultName("DB-Credentials", "db-credentials")).toBe(true);
    expect(sameKeyVaultName("db-credentials", "db-credential")).toBe(false);
  });
});

describe("toSecretsManagerName (Key Vault → AWS)", () => {
  const keyVaultName = fc.stringMatching(/^[0-9a-zA-Z-]{1,127}$/);

  it("maps every Key Vault name to a valid Secrets Manager name, unchanged by the default template", () => {
    fc.assert(
      fc.property(keyVaultName, (name) => {
        const mapped = toSecretsManagerName("{name}", { name });
        expect(mapped).toBe(name);
        expect(mapped).toMatch(SECRETS_MANAGER_NAME);
      }),
    );
  });

  it("applies a template deterministically and keeps distinct names distinct", () => {
    fc.assert(
      fc.property(keyVaultName, keyVaultName, (a, b) => {
        const template = "azure/{vault}/{name}";
        const mappedA = toSecretsManagerName(template, { name: a, vault: "payments-kv" });
        expect(mappedA).toBe(toSecretsManagerName(template, { name: a, vault: "payments-kv" }));
        expect(mappedA).toMatch(SECRETS_MANAGER_NAME);
        if (a !== b) expect(mappedA).not.toBe(toSecretsManagerName(template, { name: b, vault: "payments-kv" }));
      }),
    );
  });

  it("refuses a template that renders an invalid Secrets Manager name", () => {
    expect(() => toSecretsManagerName("bad name {name}", { name: "x" })).toThrow(/not a valid Secrets Manager name/);
  });
});
