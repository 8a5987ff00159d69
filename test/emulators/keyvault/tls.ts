/**
 * TLS material for the Key Vault emulator: a throw-away CA and a leaf certificate it signs.
 *
 * The Azure SDK refuses plain-HTTP vault URLs (its challenge policy insists on `https:`), and clients
 * must never be told to skip verification, so the emulator mints a CA at startup and hands its path
 * to clients, which trust it explicitly. The `openssl` CLI does the work so that no certificate
 * library has to be added to the repository.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Paths and PEM contents of the certificates written by {@link createTlsMaterial}. */
export interface TlsMaterial {
  /** The CA certificate a client must trust (PEM file). */
  readonly caCertPath: string;
  /** The server's leaf certificate, PEM. */
  readonly cert: string;
  /** The server's private key, PEM. */
  readonly key: string;
}

/**
 * Creates a CA and a server certificate for `127.0.0.1` and `localhost` in `dir`.
 *
 * The files are regenerated on every start: a CA that outlives the emulator's run would be a trust
 * anchor nobody remembers to remove.
 */
export async function createTlsMaterial(dir: string, extraDnsNames: readonly string[] = []): Promise<TlsMaterial> {
  const caKeyPath = join(dir, "ca.key");
  const caCertPath = join(dir, "ca.crt");
  const serverKeyPath = join(dir, "server.key");
  const serverCsrPath = join(dir, "server.csr");
  const serverCertPath = join(dir, "server.crt");
  const extPath = join(dir, "server.ext");
  // P-256 keys are generated in milliseconds; RSA would add noticeable time to every test start.
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

  await openssl([
    "req", "-x509", ...ecKey, "-keyout", caKeyPath, "-out", caCertPath, "-days", "30",
    "-subj", "/CN=credmesh Key Vault emulator CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl([
    "req", "-new", ...ecKey, "-keyout", serverKeyPath, "-out", serverCsrPath, "-subj", "/CN=localhost",
  ]);
  // Node checks the SAN, never the CN, so both names a client might dial must be listed.
  await writeFile(
    extPath,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${["IP:127.0.0.1", "DNS:localhost", ...extraDnsNames.map((name) => `DNS:${name}`)].join(",")}`,
      "",
    ].join("\n"),
  );
  await openssl([
    "x509", "-req", "-in", serverCsrPath, "-CA", caCertPath, "-CAkey", caKeyPath,
    // A random serial avoids the `.srl` side file that -CAcreateserial would leave behind.
    "-set_serial", `0x${randomBytes(16).toString("hex")}`,
    "-days", "30", "-extfile", extPath, "-out", serverCertPath,
  ]);

  const [cert, key] = await Promise.all([readFile(serverCertPath, "utf8"), readFile(serverKeyPath, "utf8")]);
  return { caCertPath, cert, key };
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run("openssl", [...args], { timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(`openssl ${args[0]} failed: ${typeof stderr === "string" ? stderr.trim() : String(error)}`, {
      cause: error,
    });
  }
}
