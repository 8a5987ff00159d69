/**
 * The local CreateSession endpoint refuses what Roles Anywhere refuses. Requests are signed with the
 * shared signer and then altered the way a bug or an attacker would alter them; each alteration must
 * turn a 201 into AWS's 403 AccessDeniedException (or the documented 4xx), so that a test passing
 * against this endpoint means something.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { signRolesAnywhereRequest } from "@credmesh/identity";
import { Sensitive } from "@credmesh/logging";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPki, type Issued, type Pki } from "./pki.ts";
import { startRolesAnywhereEmulator, type RolesAnywhereEmulator } from "./emulator.ts";

const MINUTE = 60_000;

describe("Roles Anywhere CreateSession endpoint", () => {
  let pki: Pki;
  let root: Issued;
  let intermediate: Issued;
  let rsaCell: Issued;
  let ecCell: Issued;
  let otherRsaCell: Issued;
  let strangerCell: Issued;
  let expiredCell: Issued;
  let emulator: RolesAnywhereEmulator;
  let restricted: RolesAnywhereEmulator;

  beforeAll(async () => {
    pki = await createPki();
    root = await pki.ca("credmesh test root CA", { keyType: "rsa" });
    const strangerRoot = await pki.ca("someone else's root CA");
    intermediate = await pki.ca("credmesh test intermediate CA", { issuer: root });
    [rsaCell, ecCell, otherRsaCell, strangerCell, expiredCell] = await Promise.all([
      pki.leaf("cell-rsa", { issuer: intermediate, keyType: "rsa" }),
      pki.leaf("cell-ec", { issuer: root, keyType: "ec" }),
      pki.leaf("cell-rsa-2", { issuer: intermediate, keyType: "rsa" }),
      pki.leaf("cell-rsa", { issuer: strangerRoot, keyType: "rsa" }),
      pki.leaf("cell-old", { issuer: intermediate, notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }),
    ]);
    emulator = await startRolesAnywhereEmulator({ trustAnchorPem: root.certPem });
    restricted = await startRolesAnywhereEmulator({
      trustAnchorPem: root.certPem,
      roles: [{ arn: "arn:aws:iam::123456789012:role/only-cell-ec", commonNames: ["cell-ec"] }],
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([emulator?.stop(), restricted?.stop()]);
    await pki?.remove();
  });

  interface Alteration {
    /** Sign as if at this time (default now). */
    date?: Date;
    region?: string;
    /** Certificates sent in X-Amz-X509-Chain and signed (default: the intermediate for cells under it). */
    intermediates?: readonly Issued[];
    /** Headers changed after signing. */
    headers?: (headers: Record<string, string>) => Record<string, string>;
    /** The body sent, when different from the one signed. */
    sentBody?: string;
    bodyFields?: Record<string, unknown>;
    target?: RolesAnywhereEmulator;
  }

  async function send(cell: Issued, alteration: Alteration = {}) {
    const target = alteration.target ?? emulator;
    const url = new URL("/sessions", target.endpoint);
    const body = JSON.stringify({
      durationSeconds: 3600,
      profileArn: target.profileArn,
      roleArn: target.roleArn,
      trustAnchorArn: target.trustAnchorArn,
      ...alteration.bodyFields,
    });
    const underIntermediate = cell !== ecCell && cell !== strangerCell;
    const intermediates = alteration.intermediates ?? (underIntermediate ? [intermediate] : []);
    const { headers } = signRolesAnywhereRequest(
      { method: "POST", url, body, region: alteration.region ?? target.region, date: alteration.date ?? new Date() },
      {
        certificate: new X509Certificate(cell.certPem),
        intermediates: intermediates.map((c) => new X509Certificate(c.certPem)),
        privateKey: new Sensitive(createPrivateKey(cell.keyPem)),
      },
    );
    const { Host: _host, ...sent } = headers;
    const response = await fetch(url, { method: "POST", headers: alteration.headers ? alteration.headers(sent) : sent, body: alteration.sentBody ?? body });
    return {
      status: response.status,
      errorType: response.headers.get("x-amzn-errortype"),
      retryAfter: response.headers.get("retry-after"),
      body: (await response.json()) as Record<string, unknown>,
    };
  }

  const denied = { status: 403, errorType: "AccessDeniedException" };

  it("answers a valid RSA request with a chain in CreateSession's format", async () => {
    const before = Date.now();
    const answer = await send(rsaCell);
    expect(answer.status).toBe(201);
    const set = (answer.body as { credentialSet: Array<{ credentials: { expiration: string } }> }).credentialSet;
    expect(set).toHaveLength(1);
    expect(set[0]).toMatchObject({
      roleArn: emulator.roleArn,
      sourceIdentity: "CN=cell-rsa",
      assumedRoleUser: { arn: expect.stringMatching(/^arn:aws:sts::123456789012:assumed-role\/credmesh-replicator-aws\//) },
      credentials: {
        accessKeyId: expect.stringMatching(/^ASIA[0-9A-F]{16}$/),
        secretAccessKey: expect.any(String),
        sessionToken: expect.any(String),
        expiration: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      },
    });
    const expiration = Date.parse(set[0]?.credentials.expiration ?? "");
    expect(expiration).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000);
    expect(expiration).toBeLessThanOrEqual(Date.now() + 3600_000);
    expect(answer.body["subjectArn"]).toMatch(/^arn:aws:rolesanywhere:us-east-1:123456789012:subject\//);
  });

  it("answers a valid ECDSA request from a leaf issued by the anchor itself (no chain header)", async () => {
    const answer = await send(ecCell);
    expect(answer.status).toBe(201);
    expect(emulator.requests().at(-1)).toMatchObject({ status: 201, algorithm: "AWS4-X509-ECDSA-SHA256" });
    expect(emulator.requests().at(-1)?.headers["x-amz-x509-chain"]).toBeUndefined();
  });

  it("refuses a body changed after signing", async () => {
    const answer = await send(rsaCell, { sentBody: JSON.stringify({ durationSeconds: 43_200 }) });
    expect(answer).toMatchObject(denied);
    expect(answer.body["message"]).toMatch(/signature .* does not match/);
  });

  it("refuses a signature that is not the certificate key's", async () => {
    const answer = await send(rsaCell, {
      headers: (h) => ({ ...h, Authorization: (h["Authorization"] ?? "").replace(/Signature=(.)/, (_m, c: string) => `Signature=${c === "0" ? "1" : "0"}`) }),
    });
    expect(answer).toMatchObject(denied);
  });

  it("refuses another certificate than the one that signed, even from the same CA", async () => {
    const other = Buffer.from(new X509Certificate(otherRsaCell.certPem).raw).toString("base64");
    expect(await send(rsaCell, { headers: (h) => ({ ...h, "X-Amz-X509": other }) })).toMatchObject(denied);
  });

  it("refuses a Credential that names another serial", async () => {
    const answer = await send(rsaCell, { headers: (h) => ({ ...h, Authorization: (h["Authorization"] ?? "").replace(/Credential=\d+/, "Credential=12345") }) });
    expect(answer).toMatchObject(denied);
    expect(answer.body["message"]).toMatch(/serial/);
  });

  it("accepts a request signed 4 minutes ago and refuses one 6 minutes old or 6 minutes ahead", async () => {
    expect((await send(rsaCell, { date: new Date(Date.now() - 4 * MINUTE) })).status).toBe(201);
    expect(await send(rsaCell, { date: new Date(Date.now() - 6 * MINUTE) })).toMatchObject(denied);
    expect(await send(rsaCell, { date: new Date(Date.now() + 6 * MINUTE) })).toMatchObject(denied);
  });

  it("refuses a request scoped to another region", async () => {
    expect(await send(rsaCell, { region: "eu-west-1" })).toMatchObject(denied);
  });

  it("refuses a leaf whose intermediate was not sent", async () => {
    const answer = await send(rsaCell, { intermediates: [] });
    expect(answer).toMatchObject(denied);
    expect(answer.body["message"]).toMatch(/Untrusted signing certificate/);
  });

  it("refuses a chain header that was added without being signed", async () => {
    const chain = Buffer.from(new X509Certificate(intermediate.certPem).raw).toString("base64");
    expect(await send(rsaCell, { intermediates: [], headers: (h) => ({ ...h, "X-Amz-X509-Chain": chain }) })).toMatchObject(denied);
  });

  it("refuses a certificate from a CA that is not the trust anchor, whatever its CN", async () => {
    expect(await send(strangerCell)).toMatchObject(denied);
  });

  it("refuses an expired certificate", async () => {
    expect(await send(expiredCell)).toMatchObject(denied);
  });

  it("refuses a request without Authorization", async () => {
    expect(await send(rsaCell, { headers: ({ Authorization: _a, ...rest }) => rest })).toMatchObject(denied);
  });

  it("answers ResourceNotFoundException for an unknown profile and ValidationException for a bad duration", async () => {
    expect(
      await send(rsaCell, { bodyFields: { profileArn: "arn:aws:rolesanywhere:us-east-1:123456789012:profile/00000000-0000-0000-0000-000000000000" } }),
    ).toMatchObject({ status: 404, errorType: "ResourceNotFoundException" });
    expect(await send(rsaCell, { bodyFields: { durationSeconds: 60 } })).toMatchObject({ status: 400, errorType: "ValidationException" });
  });

  it("applies the role trust policy's CN condition", async () => {
    expect(await send(rsaCell, { target: restricted })).toMatchObject(denied);
    expect((await send(ecCell, { target: restricted })).status).toBe(201);
  });

  it("serves queued faults before authenticating, with Retry-After", async () => {
    emulator.failNext({ status: 429, errorType: "ThrottlingException", message: "Rate exceeded", retryAfterSeconds: 3 });
    expect(await send(rsaCell)).toMatchObject({ status: 429, errorType: "ThrottlingException", retryAfter: "3" });
    expect((await send(rsaCell)).status).toBe(201);
  });
});
