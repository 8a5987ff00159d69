/**
 * CLI entry: `node test/emulators/keyvault/main.ts --port 8443 --dir <dir>`.
 *
 * Federated identity credentials: `--federated-credential '<json>'` (repeatable) and/or
 * `--federated-credentials-file <path>` (a JSON array), each
 * `{ "clientId", "issuer", "subject", "jwksUri", "audience"? }`.
 *
 * Vault behaviour (defaults: the real service's, README.md): `--deletion-delay-ms`,
 * `--recovery-read-delay-ms`, `--recovery-write-delay-ms`, `--soft-delete-retention-days`,
 * `--purge-protection`, `--throttle-limit` / `--throttle-window-ms` / `--throttle-retry-after-seconds`,
 * `--empty-page-every`, `--api-versions 7.0,7.1`.
 *
 * Prints one JSON line (vaultUrl, tokenEndpoint, imdsEndpoint, caCertPath, issuer, jwksUri,
 * tenantId, authorityHost, entraTokenEndpoint) once the emulator accepts connections, so a harness
 * can wait for that line instead of polling a port. Stops cleanly on SIGTERM or SIGINT.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulatorOptions } from "./emulator.ts";
import type { FederatedCredential } from "./federation.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "imds-port": { type: "string" },
    "container-hostname": { type: "string" },
    dir: { type: "string" },
    "tenant-id": { type: "string" },
    "deletion-delay-ms": { type: "string" },
    "recovery-read-delay-ms": { type: "string" },
    "recovery-write-delay-ms": { type: "string" },
    "soft-delete-retention-days": { type: "string" },
    "purge-protection": { type: "boolean" },
    "throttle-limit": { type: "string" },
    "throttle-window-ms": { type: "string" },
    "throttle-retry-after-seconds": { type: "string" },
    "empty-page-every": { type: "string" },
    "api-versions": { type: "string" },
    "token-lifetime-seconds": { type: "string" },
    "federated-credential": { type: "string", multiple: true },
    "federated-credentials-file": { type: "string" },
  },
  strict: true,
});

const options: KeyVaultEmulatorOptions = {
  port: integer("port", values.port),
  imdsPort: integer("imds-port", values["imds-port"]),
  containerHostname: values["container-hostname"],
  dir: values.dir,
  tenantId: values["tenant-id"],
  deletionDelayMs: integer("deletion-delay-ms", values["deletion-delay-ms"]),
  recoveryReadDelayMs: integer("recovery-read-delay-ms", values["recovery-read-delay-ms"]),
  recoveryWriteDelayMs: integer("recovery-write-delay-ms", values["recovery-write-delay-ms"]),
  softDeleteRetentionDays: integer("soft-delete-retention-days", values["soft-delete-retention-days"]),
  purgeProtection: values["purge-protection"],
  throttle: throttleFrom(values["throttle-limit"], values["throttle-window-ms"], values["throttle-retry-after-seconds"]),
  emptyPageEvery: integer("empty-page-every", values["empty-page-every"]),
  apiVersions: values["api-versions"]?.split(",").map((version) => version.trim()).filter((version) => version !== ""),
  tokenLifetimeSeconds: integer("token-lifetime-seconds", values["token-lifetime-seconds"]),
  federatedCredentials: [
    ...(values["federated-credentials-file"] === undefined
      ? []
      : credentialsFrom("federated-credentials-file", readFileSync(values["federated-credentials-file"], "utf8"), true)),
    ...(values["federated-credential"] ?? []).flatMap((json) => credentialsFrom("federated-credential", json, false)),
  ],
};

const emulator = await startKeyVaultEmulator(options);
process.stdout.write(
  `${JSON.stringify({
    vaultUrl: emulator.vaultUrl,
    tokenEndpoint: emulator.tokenEndpoint,
    imdsEndpoint: emulator.imdsEndpoint,
    caCertPath: emulator.caCertPath,
    issuer: emulator.issuer,
    jwksUri: emulator.jwksUri,
    tenantId: emulator.tenantId,
    authorityHost: emulator.authorityHost,
    entraTokenEndpoint: emulator.entraTokenEndpoint,
  })}\n`,
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`stopping the Key Vault emulator failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

/** Parses a numeric flag; the emulator validates ranges, this only rejects non-numbers early. */
function integer(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) {
    process.stderr.write(`--${flag} must be an integer, got ${raw}\n`);
    process.exit(2);
  }
  return value;
}

/** The throttle flags: all three fall back to the service's limits (4,000 per 10 s, no Retry-After). */
function throttleFrom(limit: string | undefined, windowMs: string | undefined, retryAfter: string | undefined): KeyVaultEmulatorOptions["throttle"] {
  if (limit === undefined && windowMs === undefined && retryAfter === undefined) return undefined;
  const retryAfterSeconds = integer("throttle-retry-after-seconds", retryAfter);
  return {
    limit: integer("throttle-limit", limit) ?? 4_000,
    windowMs: integer("throttle-window-ms", windowMs) ?? 10_000,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
}

/** Parses a federated credential flag: one JSON object, or (from the file) a JSON array of them. */
function credentialsFrom(flag: string, json: string, array: boolean): FederatedCredential[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    process.stderr.write(`--${flag} is not valid JSON\n`);
    process.exit(2);
  }
  const list = array ? parsed : [parsed];
  if (!Array.isArray(list) || list.some((item) => item === null || typeof item !== "object")) {
    process.stderr.write(`--${flag} must hold ${array ? "a JSON array of objects" : "a JSON object"}\n`);
    process.exit(2);
  }
  return list as FederatedCredential[];
}
