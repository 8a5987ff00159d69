/**
 * The Roles Anywhere signer checked independently of its own code: the request it actually sent is
 * taken as received by the local endpoint, the test rebuilds the canonical request and string to
 * sign by hand from AWS's documented algorithm (SigV4 as amended by the Roles Anywhere user guide,
 * "Signing process"), and `openssl dgst -sha256 -verify` checks the signature with the public key
 * that `openssl x509` extracts from the certificate. Neither the signer's canonicalisation nor
 * Node's X509Certificate is used to decide the outcome.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { rolesAnywhereCredentials } from "@credmesh/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Issued, type KeyType, type Pki } from "../emulators/roles-anywhere/pki.ts";
import { startRolesAnywhereEmulator, type RecordedRequest, type RolesAnywhereEmulator } from "../emulators/roles-anywhere/emulator.ts";

const run = promisify(execFile);

/** `openssl …` → stdout, or the failure's stdout+stderr when it exits non-zero. */
async function openssl(args: readonly string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await run("openssl", args, { encoding: "buffer" });
    return { ok: true, out: stdout.toString("latin1") };
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer };
    return { ok: false, out: `${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}` };
  }
}

const sha256Hex = (data: string): string => createHash("sha256").update(data, "utf8").digest("hex");

describe("Roles Anywhere signature, verified by openssl over a string to sign rebuilt from AWS's documentation", () => {
  let pki: Pki;
  let root: Issued;
  let intermediate: Issued;
  let emulator: RolesAnywhereEmulator;
  let dir: string;

  beforeAll(async () => {
    pki = await createPki();
    root = await pki.ca("credmesh signature root CA", { keyType: "rsa" });
    intermediate = await pki.ca("credmesh signature intermediate CA", { issuer: root, keyType: "ec" });
    emulator = await startRolesAnywhereEmulator({ trustAnchorPem: root.certPem });
    dir = await mkdtemp(join(tmpdir(), "credmesh-ra-signature-"));
  }, 60_000);
  afterAll(async () => {
    await emulator?.stop();
    await pki?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function signedRequestFrom(leaf: Issued, withIntermediate: boolean): Promise<RecordedRequest> {
    emulator.reset();
    const credentials = rolesAnywhereCredentials({
      region: "us-east-1",
      endpoint: emulator.endpoint,
      trustAnchorArn: emulator.trustAnchorArn,
      profileArn: emulator.profileArn,
      roleArn: emulator.roleArn,
      sessionName: "credmesh-signature-test",
      durationSeconds: 900,
      expectedCommonName: leaf.name,
      certificateFile: leaf.certPath,
      privateKeyFile: leaf.keyPath,
      ...(withIntermediate ? { chainFile: intermediate.certPath } : {}),
      trustAnchorFile: root.certPath,
    });
    await credentials();
    const [request] = emulator.requests();
    if (!request) throw new Error("the signer sent nothing");
    return request;
  }

  it.each([
    ["rsa", "AWS4-X509-RSA-SHA256", true],
    ["ec", "AWS4-X509-ECDSA-SHA256", true],
    ["rsa", "AWS4-X509-RSA-SHA256", false],
    ["ec", "AWS4-X509-ECDSA-SHA256", false],
  ] as const)("a %s cell signs %s (intermediate: %s) so that openssl verifies it", async (keyType: KeyType, algorithm, withIntermediate) => {
    const leaf = await pki.leaf(`cell-signature-${keyType}-${withIntermediate ? "chained" : "direct"}`, {
      issuer: withIntermediate ? intermediate : root,
      keyType,
    });
    const request = await signedRequestFrom(leaf, withIntermediate);
    expect(request.status).toBe(201);
    const header = (name: string): string => {
      const values = request.headers[name];
      if (values === undefined) throw new Error(`header ${name} was not sent`);
      return values.join(",");
    };

    // What the headers must carry, according to openssl's reading of the same files.
    const leafDer = (await openssl(["x509", "-in", leaf.certPath, "-outform", "DER"])).out;
    expect(header("x-amz-x509")).toBe(Buffer.from(leafDer, "latin1").toString("base64"));
    if (withIntermediate) {
      const intermediateDer = (await openssl(["x509", "-in", intermediate.certPath, "-outform", "DER"])).out;
      expect(header("x-amz-x509-chain")).toBe(Buffer.from(intermediateDer, "latin1").toString("base64"));
    } else {
      expect(request.headers["x-amz-x509-chain"]).toBeUndefined();
    }
    const serialHex = /serial=([0-9A-F]+)/.exec((await openssl(["x509", "-in", leaf.certPath, "-noout", "-serial"])).out)?.[1];
    const serialDecimal = BigInt(`0x${serialHex}`).toString(10);

    const date = header("x-amz-date");
    expect(date).toMatch(/^\d{8}T\d{6}Z$/);
    const scope = `${date.slice(0, 8)}/us-east-1/rolesanywhere/aws4_request`;
    const signedHeaders = withIntermediate
      ? "content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain"
      : "content-type;host;x-amz-date;x-amz-x509";
    const authorization = header("authorization");
    const prefix = `${algorithm} Credential=${serialDecimal}/${scope}, SignedHeaders=${signedHeaders}, Signature=`;
    expect(authorization.startsWith(prefix)).toBe(true);
    const signatureHex = authorization.slice(prefix.length);
    expect(signatureHex).toMatch(/^[0-9a-f]+$/);

    expect(JSON.parse(request.body)).toEqual({
      durationSeconds: 900,
      profileArn: emulator.profileArn,
      roleArn: emulator.roleArn,
      trustAnchorArn: emulator.trustAnchorArn,
      roleSessionName: "credmesh-signature-test",
    });

    // The documented layout, written out: SigV4 canonical request, then the string to sign.
    const canonicalRequest = [
      "POST",
      "/sessions",
      "",
      `content-type:${header("content-type")}`,
      `host:${header("host")}`,
      `x-amz-date:${date}`,
      `x-amz-x509:${header("x-amz-x509")}`,
      ...(withIntermediate ? [`x-amz-x509-chain:${header("x-amz-x509-chain")}`] : []),
      "",
      signedHeaders,
      sha256Hex(request.body),
    ].join("\n");
    const stringToSign = [algorithm, date, scope, sha256Hex(canonicalRequest)].join("\n");

    const base = join(dir, leaf.name);
    await writeFile(`${base}.sts`, stringToSign);
    await writeFile(`${base}.sig`, Buffer.from(signatureHex, "hex"));
    await writeFile(`${base}.pub`, (await openssl(["x509", "-in", leaf.certPath, "-noout", "-pubkey"])).out);
    // For RSA, `dgst -verify` uses PKCS#1 v1.5 padding by default: a PSS signature would fail here.
    const verified = await openssl(["dgst", "-sha256", "-verify", `${base}.pub`, "-signature", `${base}.sig`, `${base}.sts`]);
    expect(verified).toEqual({ ok: true, out: "Verified OK\n" });

    // The check can fail: a string to sign that differs in one character does not verify.
    await writeFile(`${base}.wrong`, stringToSign.replace("/us-east-1/", "/us-east-2/"));
    const refused = await openssl(["dgst", "-sha256", "-verify", `${base}.pub`, "-signature", `${base}.sig`, `${base}.wrong`]);
    expect(refused.ok).toBe(false);
    expect(refused.out).toContain("Verification failure");

    if (keyType === "ec") {
      // ECDSA signatures travel DER-encoded: a SEQUENCE of the two INTEGERs r and s.
      const parsed = await openssl(["asn1parse", "-inform", "DER", "-in", `${base}.sig`]);
      expect(parsed.ok).toBe(true);
      expect(parsed.out.match(/INTEGER/g)).toHaveLength(2);
      expect(parsed.out).toContain("SEQUENCE");
    }
    // An RSA-2048 signature is exactly the modulus' 256 bytes.
    if (keyType === "rsa") expect((await readFile(`${base}.sig`)).length).toBe(256);
  });
});
