/**
 * The pre-flight certificate check (issue 5, item 6) and the reading of a cell's certificate files,
 * on PKIs made by openssl: what is caught before CreateSession, and how it is named.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CredmeshError } from "@credmesh/errors";
import { cellCertificateReader, certificateCheckError, checkCertificateChain, type CertificateChainInput } from "@credmesh/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Issued, type Pki } from "../emulators/roles-anywhere/pki.ts";

const run = promisify(execFile);
const DAY = 86_400_000;
const x509 = (issued: Issued): X509Certificate => new X509Certificate(issued.certPem);

describe("checkCertificateChain", () => {
  let pki: Pki;
  let root: Issued;
  let upper: Issued;
  let lower: Issued;
  let leaf: Issued;
  let rekeyedUpper: Issued;

  beforeAll(async () => {
    pki = await createPki();
    root = await pki.ca("Credmesh Root CA", { keyType: "rsa" });
    upper = await pki.ca("Credmesh Upper CA", { issuer: root });
    // Same name as `upper`, another key: what a re-issued CA looks like next to the old one's leaves.
    rekeyedUpper = await pki.ca("Credmesh Upper CA", { issuer: root });
    lower = await pki.ca("Credmesh Lower CA", { issuer: upper, notAfter: new Date(Date.now() + 10 * DAY) });
    leaf = await pki.leaf("cell-1", { issuer: lower, keyType: "rsa" });
  }, 60_000);
  afterAll(async () => {
    await pki?.remove();
  });

  const input = (patch: Partial<CertificateChainInput> = {}): CertificateChainInput => ({
    leaf: x509(leaf),
    intermediates: [x509(upper), x509(lower)],
    trustAnchors: [x509(root)],
    expectedCommonName: "cell-1",
    now: Date.now(),
    ...patch,
  });

  it("builds the path whatever the order the intermediates come in, ignoring unrelated certificates", async () => {
    const unrelated = await pki.ca("Unrelated CA");
    const check = checkCertificateChain(input({ intermediates: [x509(unrelated), x509(upper), x509(lower)] }));
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
    expect(check.intermediates.map((c) => c.subject)).toEqual([x509(lower).subject, x509(upper).subject]);
    expect(check.anchor?.subject).toBe(x509(root).subject);
    expect(check.commonName).toBe("cell-1");
    // The lower CA expires first (10 days): the chain is as good as its shortest-lived link.
    expect(check.expiresAt.getTime()).toBe(Date.parse(x509(lower).validTo));
  });

  it("accepts an intermediate CA as the trust anchor, sending nothing above it", () => {
    const check = checkCertificateChain(input({ trustAnchors: [x509(lower)], intermediates: [x509(upper)] }));
    expect(check.ok).toBe(true);
    expect(check.intermediates).toEqual([]);
  });

  it("names the certificate whose issuer is missing, and the missing issuer, by DN", () => {
    const check = checkCertificateChain(input({ intermediates: [x509(lower)] }));
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      {
        kind: "incomplete_chain",
        message:
          'the certificate chain is incomplete: "O=credmesh-test, CN=Credmesh Lower CA" was issued by ' +
          '"O=credmesh-test, CN=Credmesh Upper CA", which is neither in the certificate or chain file nor a trust anchor (missing intermediate)',
      },
    ]);
    expect(check.intermediates.map((c) => c.subject)).toEqual([x509(lower).subject]);
  });

  it("tells a same-named CA with another key from a missing one", () => {
    const check = checkCertificateChain(input({ intermediates: [x509(rekeyedUpper), x509(lower)] }));
    expect(check.problems).toHaveLength(1);
    expect(check.problems[0]?.kind).toBe("incomplete_chain");
    expect(check.problems[0]?.message).toContain("the certificate of that name in the chain or trust anchor file did not sign it");
  });

  it("refuses an issuer that is not a CA", async () => {
    const notCa = await pki.notCa("Not A CA", { issuer: root });
    const issuedByNotCa = await pki.leaf("cell-1", { issuer: notCa });
    const check = checkCertificateChain(input({ leaf: x509(issuedByNotCa), intermediates: [x509(notCa)] }));
    expect(check.problems.map((p) => p.kind)).toEqual(["not_a_ca"]);
    expect(check.problems[0]?.message).toContain('"O=credmesh-test, CN=Not A CA" issued a certificate on the path but is not a CA certificate');
  });

  it("refuses an expired intermediate and a not-yet-valid leaf, with their dates", () => {
    const later = Date.now() + 11 * DAY; // after the lower CA's notAfter
    const expired = checkCertificateChain(input({ now: later }));
    expect(expired.problems).toEqual([
      { kind: "expired", message: `intermediate CA certificate "O=credmesh-test, CN=Credmesh Lower CA" expired at ${new Date(Date.parse(x509(lower).validTo)).toISOString()}`, certificate: "intermediate" },
    ]);
    const early = checkCertificateChain(input({ now: Date.now() - 2 * 3600_000 }));
    expect(early.problems.map((p) => p.kind)).toContain("not_yet_valid");
    expect(early.problems.find((p) => p.message.startsWith("certificate "))?.message).toMatch(/^certificate "O=credmesh-test, CN=cell-1" is not valid before /);
    // The identity-watcher tells the leaf's own window from its chain's by this field.
    expect(early.problems.find((p) => p.kind === "not_yet_valid")?.certificate).toBe("leaf");
  });

  it("requires exactly the cell's CN, compared unescaped", async () => {
    expect(checkCertificateChain(input({ expectedCommonName: "cell-2" })).problems).toEqual([
      { kind: "common_name_mismatch", message: 'certificate "O=credmesh-test, CN=cell-1" has subject "cell-1"; the cell expects CN "cell-2"' },
    ]);
    const comma = await pki.leaf("cell, one", { issuer: lower });
    expect(checkCertificateChain(input({ leaf: x509(comma), expectedCommonName: "cell, one" })).ok).toBe(true);
    const twoNames = await pki.leaf("cell-1", { issuer: lower, subjectPrefix: "/O=credmesh-test/CN=cell-0" });
    const check = checkCertificateChain(input({ leaf: x509(twoNames) }));
    expect(check.problems.map((p) => p.kind)).toEqual(["common_name_mismatch"]);
    expect(check.problems[0]?.message).toContain('has subject "cell-0" and "cell-1"');
  });

  it("reports every problem at once; the error takes the first one's reason and carries all messages", async () => {
    const stale = await pki.leaf("cell-9", { issuer: lower, notBefore: new Date(Date.now() - 3 * DAY), notAfter: new Date(Date.now() - DAY) });
    const check = checkCertificateChain(input({ leaf: x509(stale), intermediates: [] }));
    expect(check.problems.map((p) => p.kind)).toEqual(["common_name_mismatch", "incomplete_chain", "expired"]);
    const error = certificateCheckError(check.problems);
    expect(error).toMatchObject({ reason: "configuration", retryable: false, code: "common_name_mismatch" });
    expect(error.message).toContain("incomplete");
    expect(error.message).toContain("expired at");
  });
});

describe("cellCertificateReader", () => {
  let pki: Pki;
  let root: Issued;
  let intermediate: Issued;
  let dir: string;

  beforeAll(async () => {
    pki = await createPki();
    root = await pki.ca("Reader Root CA", { keyType: "rsa" });
    intermediate = await pki.ca("Reader Intermediate CA", { issuer: root });
    dir = await mkdtemp(join(tmpdir(), "credmesh-ra-reader-"));
  }, 60_000);
  afterAll(async () => {
    await pki?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, content: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  };

  it("reads cert-manager's tls.crt (leaf, then intermediates) without a chain file", async () => {
    const leaf = await pki.leaf("cell-1", { issuer: intermediate });
    const read = cellCertificateReader({
      certificateFile: await file("bundle-tls.crt", leaf.certPem + intermediate.certPem),
      privateKeyFile: leaf.keyPath,
      trustAnchorFile: root.certPath,
    });
    const cell = await read();
    expect(cell.leaf.subject).toBe(x509(leaf).subject);
    expect(cell.intermediates.map((c) => c.subject)).toEqual([x509(intermediate).subject]);
    expect(checkCertificateChain({ ...cell, expectedCommonName: "cell-1", now: Date.now() }).ok).toBe(true);
    expect(String(cell.privateKey)).toBe("[REDACTED]");
  });

  it.each([
    ["PKCS#1 RSA", "rsa", ["rsa", "-traditional"], "BEGIN RSA PRIVATE KEY"],
    ["SEC1 EC", "ec", ["ec"], "BEGIN EC PRIVATE KEY"],
  ] as const)("reads a %s key file", async (_name, keyType, convert, marker) => {
    const leaf = await pki.leaf(`cell-${keyType}`, { issuer: root, keyType });
    const { stdout } = await run("openssl", [...convert, "-in", leaf.keyPath]);
    expect(stdout).toContain(marker);
    const read = cellCertificateReader({ certificateFile: leaf.certPath, privateKeyFile: await file(`${keyType}.key`, stdout), trustAnchorFile: root.certPath });
    expect((await read()).privateKey.reveal().asymmetricKeyType).toBe(keyType);
  });

  it("says a key is encrypted rather than unreadable", async () => {
    const leaf = await pki.leaf("cell-enc", { issuer: root });
    const { stdout } = await run("openssl", ["pkey", "-in", leaf.keyPath, "-aes256", "-passout", "pass:not-mounted"]);
    const error = await cellCertificateReader({ certificateFile: leaf.certPath, privateKeyFile: await file("enc.key", stdout), trustAnchorFile: root.certPath })().catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason: "configuration", code: "unreadable" });
    expect((error as Error).message).toContain("is encrypted");
  });

  it("is configuration for a file without a certificate, identity_unavailable for a missing one", async () => {
    const leaf = await pki.leaf("cell-x", { issuer: root });
    const garbage = await cellCertificateReader({ certificateFile: await file("garbage.crt", "not a pem\n"), privateKeyFile: leaf.keyPath, trustAnchorFile: root.certPath })().catch(
      (e: unknown) => e,
    );
    expect(garbage).toMatchObject({ reason: "configuration", code: "unreadable" });
    expect((garbage as Error).message).toContain("holds no PEM certificate");
    const missing = await cellCertificateReader({ certificateFile: leaf.certPath, privateKeyFile: leaf.keyPath, trustAnchorFile: join(dir, "no-anchor.pem") })().catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ reason: "identity_unavailable", retryable: true });
    expect((missing as Error).message).toContain("trust anchor file");
  });
});
