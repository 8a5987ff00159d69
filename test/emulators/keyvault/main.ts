/**
 * CLI entry: `node test/emulators/keyvault/main.ts --port 8443 --dir <dir>`.
 *
 * Prints one JSON line (vaultUrl, tokenEndpoint, caCertPath, issuer, jwksUri, tenantId) once the
 * emulator accepts connections, so a harness can wait for that line instead of polling a port.
 * Stops cleanly on SIGTERM or SIGINT.
 */
import { parseArgs } from "node:util";
import { startKeyVaultEmulator } from "./emulator.ts";
import type { KeyVaultEmulatorOptions } from "./emulator.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "imds-port": { type: "string" },
    "container-hostname": { type: "string" },
    dir: { type: "string" },
    "tenant-id": { type: "string" },
    "recovery-delay-ms": { type: "string" },
    "deletion-delay-ms": { type: "string" },
    "soft-delete-retention-days": { type: "string" },
    "token-lifetime-seconds": { type: "string" },
  },
  strict: true,
});

const options: KeyVaultEmulatorOptions = {
  port: integer("port", values.port),
  imdsPort: integer("imds-port", values["imds-port"]),
  containerHostname: values["container-hostname"],
  dir: values.dir,
  tenantId: values["tenant-id"],
  recoveryDelayMs: integer("recovery-delay-ms", values["recovery-delay-ms"]),
  deletionDelayMs: integer("deletion-delay-ms", values["deletion-delay-ms"]),
  softDeleteRetentionDays: integer("soft-delete-retention-days", values["soft-delete-retention-days"]),
  tokenLifetimeSeconds: integer("token-lifetime-seconds", values["token-lifetime-seconds"]),
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
