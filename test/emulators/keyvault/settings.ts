/**
 * The emulator's behaviour settings that a real vault would have: timing of its asynchronous
 * operations, throttling, paging, purge protection and the api-versions it serves. Defaults are
 * what the real service does (README.md "Behaviours and their sources"), so every test that does
 * not ask otherwise meets the real timing.
 */

/** Throttling of the vault's data plane (FORMATS.md §E: 4,000 transactions per 10 s per vault). */
export interface ThrottleSettings {
  /** Requests accepted in any window of `windowMs`; the next one is answered 429 `Throttled`. */
  readonly limit: number;
  readonly windowMs: number;
  /**
   * Seconds sent as `Retry-After` with a 429. Absent by default: whether Key Vault sends the
   * header is unverified, and a client must cope without it.
   */
  readonly retryAfterSeconds?: number | undefined;
}

/** The settings {@link resolveVaultSettings} accepts; every field is optional. */
export interface VaultSettingsInput {
  /** How long a delete (or purge) stays in progress: 404 under /deletedsecrets, 409 ObjectIsBeingDeleted. */
  readonly deletionDelayMs?: number | undefined;
  /** How long a recovered secret still reads as missing (404). */
  readonly recoveryReadDelayMs?: number | undefined;
  /** How long a recovered secret refuses a PUT (409 ObjectIsBeingRecovered); at least the read delay. */
  readonly recoveryWriteDelayMs?: number | undefined;
  /** 7–90 days. */
  readonly softDeleteRetentionDays?: number | undefined;
  /** A purge-protected vault: recovery level without "+Purgeable", and purge answers 403. */
  readonly purgeProtection?: boolean | undefined;
  readonly throttle?: ThrottleSettings | undefined;
  /**
   * Every `emptyPageEvery`-th page of a listing (the first one included) is empty but carries a
   * `nextLink`, as Key Vault's pages may be. 0 turns it off.
   */
  readonly emptyPageEvery?: number | undefined;
  /** The api-versions the vault accepts; any other is a 400 BadParameter. */
  readonly apiVersions?: readonly string[] | undefined;
}

export type VaultSettings = Required<Omit<VaultSettingsInput, "throttle">> & { readonly throttle: ThrottleSettings };

/**
 * The data-plane api-versions Key Vault serves today (azure-rest-api-specs keyvault data-plane
 * stable versions, plus what @azure/keyvault-secrets 4.12 sends, `2026-04-01`).
 */
const SUPPORTED_API_VERSIONS: readonly string[] = [
  "2016-10-01",
  "7.0",
  "7.1",
  "7.2",
  "7.3",
  "7.4",
  "7.5",
  "7.6",
  "2025-07-01",
  "2026-04-01",
];

/**
 * Realistic defaults. A recorded delete (azure-sdk-for-js recording "can delete a secret") showed
 * under /deletedsecrets after 4–6 s; a recorded recovery read as present within a second, and
 * writes may still be refused for a few seconds after that (azure-sdk-for-net#31581).
 */
export const DEFAULT_VAULT_SETTINGS: VaultSettings = {
  deletionDelayMs: 4_500,
  recoveryReadDelayMs: 1_000,
  recoveryWriteDelayMs: 3_000,
  softDeleteRetentionDays: 90,
  purgeProtection: false,
  throttle: { limit: 4_000, windowMs: 10_000 },
  emptyPageEvery: 3,
  apiVersions: SUPPORTED_API_VERSIONS,
};

/** Applies defaults and checks ranges; throws an Error naming the first bad setting. */
export function resolveVaultSettings(input: VaultSettingsInput): VaultSettings {
  const pick = <K extends keyof VaultSettings>(key: K): VaultSettings[K] =>
    (input[key] ?? DEFAULT_VAULT_SETTINGS[key]) as VaultSettings[K];
  const recoveryReadDelayMs = pick("recoveryReadDelayMs");
  const settings: VaultSettings = {
    deletionDelayMs: pick("deletionDelayMs"),
    recoveryReadDelayMs,
    // Asking only for a longer read delay must not produce a vault that accepts writes before reads.
    recoveryWriteDelayMs: input.recoveryWriteDelayMs ?? Math.max(recoveryReadDelayMs, DEFAULT_VAULT_SETTINGS.recoveryWriteDelayMs),
    softDeleteRetentionDays: pick("softDeleteRetentionDays"),
    purgeProtection: pick("purgeProtection"),
    throttle: pick("throttle"),
    emptyPageEvery: pick("emptyPageEvery"),
    apiVersions: pick("apiVersions"),
  };
  checkInteger("deletionDelayMs", settings.deletionDelayMs, 0, Number.MAX_SAFE_INTEGER);
  checkInteger("recoveryReadDelayMs", settings.recoveryReadDelayMs, 0, Number.MAX_SAFE_INTEGER);
  checkInteger("recoveryWriteDelayMs", settings.recoveryWriteDelayMs, settings.recoveryReadDelayMs, Number.MAX_SAFE_INTEGER);
  checkInteger("softDeleteRetentionDays", settings.softDeleteRetentionDays, 7, 90);
  checkInteger("throttle.limit", settings.throttle.limit, 1, Number.MAX_SAFE_INTEGER);
  checkInteger("throttle.windowMs", settings.throttle.windowMs, 1, Number.MAX_SAFE_INTEGER);
  if (settings.throttle.retryAfterSeconds !== undefined) {
    checkInteger("throttle.retryAfterSeconds", settings.throttle.retryAfterSeconds, 0, 3_600);
  }
  checkInteger("emptyPageEvery", settings.emptyPageEvery, 0, 1_000);
  if (settings.apiVersions.length === 0) throw new Error("apiVersions must name at least one api-version");
  return settings;
}

/**
 * The recovery level Key Vault reports on every secret (soft-delete-overview, "recovery levels"):
 * a shortened retention reads "Customized", and a purge-protected vault drops "+Purgeable".
 */
export function recoveryLevelOf(settings: Pick<VaultSettings, "softDeleteRetentionDays" | "purgeProtection">): string {
  const level = settings.softDeleteRetentionDays < 90 ? "CustomizedRecoverable" : "Recoverable";
  return settings.purgeProtection ? level : `${level}+Purgeable`;
}

export function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}
