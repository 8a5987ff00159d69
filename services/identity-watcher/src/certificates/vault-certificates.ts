import type { LifecycleEvent } from "@credmesh/events";
import type { CertificateState } from "@credmesh/events";
import { DEFAULT_NEAR_EXPIRY, DEFAULT_RENEW_FRACTION, type CellConfig } from "../cells.ts";
import { parseDuration } from "../durations.ts";
import { renewalPoint } from "./judge.ts";
import type { PlaceState, Verdict } from "./tracker.ts";

const NEAR_EXPIRY_MS = DEFAULT_NEAR_EXPIRY.map((text) => parseDuration(text) ?? 0);

/** The place of a Key Vault certificate: `keyvault/<vault>/<name>` (Key Vault names are case-insensitive). */
export function vaultPlace(vault: string, name: string): string {
  return `keyvault/${vault.toLowerCase()}/${name.toLowerCase()}`;
}

/** The cell a vault certificate belongs to, if any cell lists it. */
export function cellOfVaultCertificate(cells: readonly CellConfig[], vault: string, name: string): CellConfig | undefined {
  const place = vaultPlace(vault, name);
  return cells.find((cell) => cell.vaultCertificates.some((entry) => vaultPlace(entry.vault, entry.name) === place));
}

/**
 * Judges a Key Vault certificate from what the lifecycle stream told about it (the watcher does
 * not read certificates out of vaults): its version and validity dates, judged like a file's
 * (renewal point at 2/3 of the lifetime, near_expiry at 30 d / 7 d / 1 d past it), and never
 * better than the vault's own word — after `CertificateExpired` it is expired, after
 * `CertificateNearExpiry` at least near expiry.
 */
export function judgeVaultCertificate(
  facts: { version: string | undefined; notBefore: string | undefined; notAfter: string | undefined; floor: CertificateState | undefined },
  now: number,
): Verdict {
  const problems: string[] = [];
  const notAfter = facts.notAfter === undefined ? undefined : Date.parse(facts.notAfter);
  const notBefore = facts.notBefore === undefined ? undefined : Date.parse(facts.notBefore);
  const base = {
    ...(facts.version ? { version: facts.version } : {}),
    ...(facts.notBefore ? { notBefore: facts.notBefore } : {}),
    ...(facts.notAfter ? { notAfter: facts.notAfter } : {}),
  };
  if (facts.floor === "expired" || (notAfter !== undefined && now > notAfter)) {
    return { ...base, state: "expired", problems: [`expired${facts.notAfter ? ` at ${facts.notAfter}` : " (Key Vault says so)"}`] };
  }
  if (notBefore !== undefined && now < notBefore) return { ...base, state: "not_yet_valid", problems: [`not valid before ${facts.notBefore}`] };
  const renewalAt = notAfter !== undefined && notBefore !== undefined ? new Date(renewalPoint(notBefore, notAfter, { fraction: DEFAULT_RENEW_FRACTION })) : undefined;
  const remaining = notAfter === undefined ? undefined : notAfter - now;
  const threshold = remaining === undefined ? undefined : [...NEAR_EXPIRY_MS].sort((a, b) => a - b).find((limit) => remaining <= limit);
  const pastRenewal = renewalAt === undefined || now >= renewalAt.getTime();
  if ((threshold !== undefined && pastRenewal) || facts.floor === "near_expiry") {
    problems.push(`expires${facts.notAfter ? ` at ${facts.notAfter}` : " soon (Key Vault says so)"}`);
    return { ...base, state: "near_expiry", ...(threshold === undefined ? {} : { thresholdMs: threshold }), ...(renewalAt ? { renewalAt } : {}), problems };
  }
  if (renewalAt && now >= renewalAt.getTime()) {
    return { ...base, state: "renewal_due", renewalAt, problems: [`passed its renewal point ${renewalAt.toISOString()} without a new version`] };
  }
  return { ...base, state: "ok", ...(renewalAt ? { renewalAt } : {}), problems };
}

/** The facts a lifecycle event gives about a certificate version, merged over what was known. */
export function factsFromLifecycle(event: LifecycleEvent, previous: PlaceState | undefined) {
  const sameVersion = event.data.version === undefined || event.data.version === previous?.version;
  return {
    version: event.data.version ?? previous?.version,
    notBefore: event.data.notBefore ?? (sameVersion ? previous?.notBefore : undefined),
    notAfter: event.data.expiresAt ?? (sameVersion ? previous?.notAfter : undefined),
    floor: event.data.kind === "expired" ? ("expired" as const) : event.data.kind === "near_expiry" ? ("near_expiry" as const) : undefined,
  };
}
