import { describe, expect, it } from "vitest";
import { judgeVaultCertificate, vaultPlace } from "./vault-certificates.ts";

const NOW = Date.parse("2026-12-07T00:00:00Z");
const DAY = 86_400_000;
const iso = (offsetDays: number): string => new Date(NOW + offsetDays * DAY).toISOString();

describe("vault certificates", () => {
  it("are judged on their dates like files: ok, renewal_due past 2/3, near_expiry, expired", () => {
    const version = "a".repeat(32);
    expect(judgeVaultCertificate({ version, notBefore: iso(-10), notAfter: iso(80), floor: undefined }, NOW).state).toBe("ok");
    expect(judgeVaultCertificate({ version, notBefore: iso(-90), notAfter: iso(40), floor: undefined }, NOW).state).toBe("renewal_due");
    expect(judgeVaultCertificate({ version, notBefore: iso(-90), notAfter: iso(5), floor: undefined }, NOW)).toMatchObject({ state: "near_expiry", thresholdMs: 7 * DAY });
    expect(judgeVaultCertificate({ version, notBefore: iso(-90), notAfter: iso(-1), floor: undefined }, NOW).state).toBe("expired");
  });

  it("never judge better than the vault said", () => {
    expect(judgeVaultCertificate({ version: undefined, notBefore: undefined, notAfter: undefined, floor: "near_expiry" }, NOW).state).toBe("near_expiry");
    expect(judgeVaultCertificate({ version: undefined, notBefore: iso(-10), notAfter: iso(80), floor: "expired" }, NOW).state).toBe("expired");
  });

  it("are placed by vault and name, case-insensitively as Key Vault names are", () => {
    expect(vaultPlace("CellVault", "Cell-Cert")).toBe("keyvault/cellvault/cell-cert");
  });
});
