/**
 * Chain validation for the emulator by `openssl verify`: an implementation independent of both
 * Node's X509Certificate calls in the signer's pre-flight check and of the emulator's own code, and
 * one that checks what a real PKI validator checks (signatures, validity windows at the request
 * time, basicConstraints and key usage of every issuer).
 */
import { execFile } from "node:child_process";
import type { X509Certificate } from "node:crypto";
import { randomUUID } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface ChainVerdict {
  readonly ok: boolean;
  /** openssl's reason, e.g. "unable to get local issuer certificate", when not ok. */
  readonly reason?: string;
}

/**
 * Does `leaf`, with the `untrusted` intermediates it brought, chain to `trustAnchorPath` at `at`?
 * `-partial_chain` lets a trust anchor be an intermediate CA, as Roles Anywhere allows.
 */
export async function verifyChain(
  dir: string,
  trustAnchorPath: string,
  leaf: X509Certificate,
  untrusted: readonly X509Certificate[],
  at: number,
): Promise<ChainVerdict> {
  const id = randomUUID();
  const leafPath = join(dir, `${id}-leaf.pem`);
  const chainPath = join(dir, `${id}-chain.pem`);
  await writeFile(leafPath, leaf.toString());
  if (untrusted.length > 0) await writeFile(chainPath, untrusted.map((c) => c.toString()).join(""));
  const args = [
    "verify",
    "-CAfile", trustAnchorPath,
    "-partial_chain",
    "-attime", String(Math.floor(at / 1000)),
    ...(untrusted.length > 0 ? ["-untrusted", chainPath] : []),
    leafPath,
  ];
  try {
    await run("openssl", args);
    return { ok: true };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    const reason = /error \d+ at \d+ depth lookup: (.+)/.exec(stderr)?.[1] ?? "certificate verification failed";
    return { ok: false, reason };
  } finally {
    await Promise.all([rm(leafPath, { force: true }), rm(chainPath, { force: true })]);
  }
}
