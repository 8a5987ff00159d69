import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  VAULT_NAME,
  KEY_VAULT_OBJECT_NAME,
  normalizeKeyVaultVersion,
  parseKeyVaultObjectId,
  vaultNameFromResourceId,
  vaultNameFromUrl,
} from "./azure.ts";

const nameUnit = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
const vaultName = fc.string({ unit: nameUnit, minLength: 3, maxLength: 24 });
const objectName = fc.string({ unit: nameUnit, minLength: 1, maxLength: 127 });
const version = fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength: 32, maxLength: 32 });
const suffix = fc.constantFrom("vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net");

describe("Key Vault names and versions", () => {
  it("bounds vault names to 3–24 and object names to 1–127 letters, digits and dashes", () => {
    expect("ab").not.toMatch(VAULT_NAME);
    expect("a".repeat(25)).not.toMatch(VAULT_NAME);
    expect("payments-kv").toMatch(VAULT_NAME);
    expect("a".repeat(128)).not.toMatch(KEY_VAULT_OBJECT_NAME);
    for (const bad of ["under_score", "dot.ted", "slash/ed", ""]) expect(bad).not.toMatch(KEY_VAULT_OBJECT_NAME);
  });

  it("normalizes a version of either case to lowercase and refuses anything else", () => {
    fc.assert(
      fc.property(version, (v) => {
        expect(normalizeKeyVaultVersion(v)).toBe(v.toLowerCase());
      }),
    );
    for (const bad of ["0123", "g".repeat(32), "0".repeat(33)]) expect(normalizeKeyVaultVersion(bad)).toBeUndefined();
  });
});

describe("vault URLs and object ids", () => {
  it("reads the vault name from a vault URL of any Azure cloud, and nothing from other hosts", () => {
    fc.assert(
      fc.property(vaultName, suffix, fc.boolean(), (name, dns, slash) => {
        expect(vaultNameFromUrl(`https://${name}.${dns}${slash ? "/" : ""}`)).toBe(name.toLowerCase());
      }),
    );
    for (const url of ["https://127.0.0.1:8443", "https://payments.example.com", "http://payments.vault.azure.net", "https://a.vault.azure.net", "not a url"]) {
      expect(vaultNameFromUrl(url)).toBeUndefined();
    }
  });

  it("round-trips object ids: vault, collection, name and (lowercased) version", () => {
    fc.assert(
      fc.property(vaultName, suffix, fc.constantFrom("secrets", "keys", "certificates"), objectName, fc.option(version), (vault, dns, collection, name, v) => {
        const id = `https://${vault}.${dns}/${collection}/${name}${v === null ? "" : `/${v}`}`;
        expect(parseKeyVaultObjectId(id)).toEqual({ vaultName: vault.toLowerCase(), collection, name, ...(v === null ? {} : { version: v.toLowerCase() }) });
      }),
      { numRuns: 1_000 },
    );
  });

  it("keeps collection, name and version from another host, without a vault", () => {
    expect(parseKeyVaultObjectId("https://127.0.0.1:8443/secrets/db/0123456789abcdef0123456789abcdef")).toEqual({
      collection: "secrets",
      name: "db",
      version: "0123456789abcdef0123456789abcdef",
    });
  });

  it("refuses what is not an object id, and never throws", () => {
    for (const id of [
      "https://kv.vault.azure.net/storage/x",
      "https://kv.vault.azure.net/secrets/under_score",
      "https://kv.vault.azure.net/secrets/db/not-a-version",
      "https://kv.vault.azure.net/secrets/db/0123456789abcdef0123456789abcdef/extra",
      "http://kv.vault.azure.net/secrets/db",
    ]) {
      expect(parseKeyVaultObjectId(id)).toBeUndefined();
    }
    fc.assert(fc.property(fc.string(), (value) => void parseKeyVaultObjectId(value)));
  });

  it("reads the vault of an ARM resource id", () => {
    expect(vaultNameFromResourceId("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/payments-kv")).toBe("payments-kv");
    expect(vaultNameFromResourceId("/subscriptions/x/resourceGroups/rg/providers/microsoft.keyvault/vaults/kv1/")).toBe("kv1");
    expect(vaultNameFromResourceId("/subscriptions/x/providers/Microsoft.Storage/storageAccounts/kv1")).toBeUndefined();
  });
});
