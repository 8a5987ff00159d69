/**
 * AWS credentials from IAM Roles Anywhere, against the local CreateSession endpoint, which verifies
 * every request as Roles Anywhere does (signature, serial, date, chain to its trust anchor). The
 * cell's certificate, key, chain and trust anchor are files, as a cell mounts them; the endpoint
 * and the provider share a clock the test moves, so that refreshes near expiry happen in
 * milliseconds.
 */
import { randomUUID } from "node:crypto";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CredmeshError } from "@credmesh/errors";
import { rolesAnywhereCredentials, rolesAnywhereFetcher, type RolesAnywhereConfig } from "@credmesh/identity";
import { createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createPki, type Issued, type Pki } from "../emulators/roles-anywhere/pki.ts";
import { startRolesAnywhereEmulator, type RolesAnywhereEmulator } from "../emulators/roles-anywhere/emulator.ts";

const MINUTE = 60_000;
const CN = "replicator-aws.cell-1";

describe("AWS credentials by IAM Roles Anywhere, against a verifying CreateSession endpoint", () => {
  let pki: Pki;
  let root: Issued;
  let intermediate: Issued;
  let strangerRoot: Issued;
  let rsaCell: Issued;
  let ecCell: Issued;
  let renewedCell: Issued;
  let emulator: RolesAnywhereEmulator;
  let clock: number;
  let work: string;
  let metrics: ReturnType<typeof createMetrics>;

  beforeAll(async () => {
    pki = await createPki();
    [root, strangerRoot] = await Promise.all([pki.ca("credmesh test root CA", { keyType: "rsa" }), pki.ca("not the trust anchor CA")]);
    intermediate = await pki.ca("credmesh test intermediate CA", { issuer: root });
    [rsaCell, ecCell, renewedCell] = await Promise.all([
      pki.leaf(CN, { issuer: intermediate, keyType: "rsa" }),
      pki.leaf(CN, { issuer: root, keyType: "ec" }),
      pki.leaf(CN, { issuer: intermediate, keyType: "ec" }),
    ]);
    emulator = await startRolesAnywhereEmulator({ trustAnchorPem: root.certPem, now: () => clock });
    work = await mkdtemp(join(tmpdir(), "credmesh-ra-cells-"));
  }, 60_000);
  afterAll(async () => {
    await emulator?.stop();
    await pki?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    // On a whole second: CreateSession's expiration has second precision.
    clock = Math.floor(Date.now() / 1000) * 1000;
    emulator.reset();
    metrics = createMetrics(new Registry(), { defaultMetrics: false });
  });

  /** A cell's mounted volume: tls.crt, tls.key, optional chain.pem, trust-anchor.pem. */
  async function mountCell(leaf: Issued, options: { chain?: readonly Issued[]; anchor?: Issued; keyPem?: string } = {}) {
    const dir = join(work, randomUUID());
    await mkdir(dir);
    const files = {
      certificateFile: join(dir, "tls.crt"),
      privateKeyFile: join(dir, "tls.key"),
      trustAnchorFile: join(dir, "trust-anchor.pem"),
      ...(options.chain ? { chainFile: join(dir, "chain.pem") } : {}),
    };
    await writeFile(files.certificateFile, leaf.certPem);
    await writeFile(files.privateKeyFile, options.keyPem ?? leaf.keyPem, { mode: 0o600 });
    await writeFile(files.trustAnchorFile, (options.anchor ?? root).certPem);
    if (files.chainFile) await writeFile(files.chainFile, (options.chain ?? []).map((c) => c.certPem).join(""));
    return files;
  }

  /** Replaces a file the way the kubelet does: a new inode swapped in atomically. */
  async function rotate(path: string, content: string): Promise<void> {
    const next = `${path}.${randomUUID()}`;
    await writeFile(next, content);
    await rename(next, path);
  }

  function config(files: Awaited<ReturnType<typeof mountCell>>, patch: Partial<RolesAnywhereConfig> = {}): RolesAnywhereConfig {
    return {
      region: "us-east-1",
      endpoint: emulator.endpoint,
      trustAnchorArn: emulator.trustAnchorArn,
      profileArn: emulator.profileArn,
      roleArn: emulator.roleArn,
      sessionName: "credmesh-replicator-aws-cell-1",
      durationSeconds: 3600,
      expectedCommonName: CN,
      ...files,
      ...patch,
    };
  }

  const provider = (c: RolesAnywhereConfig, logger?: ReturnType<typeof createLogger>) =>
    rolesAnywhereCredentials(c, { metrics, now: () => clock, ...(logger ? { logger } : {}) });

  const refreshes = async () => (await metrics.credentialRefreshes.get()).values.map((v) => ({ outcome: v.labels.outcome, value: v.value }));

  const failure = async (promise: Promise<unknown>): Promise<CredmeshError> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CredmeshError);
    return error as CredmeshError;
  };

  it("gets credentials for an RSA cell with an intermediate, once for a thousand callers", async () => {
    const credentials = provider(config(await mountCell(rsaCell, { chain: [intermediate] })));
    const first = await credentials();
    for (let i = 0; i < 500; i += 1) expect((await credentials()).accessKeyId).toBe(first.accessKeyId);
    const concurrent = await Promise.all(Array.from({ length: 500 }, () => credentials()));
    expect(new Set(concurrent.map((c) => c.accessKeyId))).toEqual(new Set([first.accessKeyId]));

    expect(emulator.requests()).toHaveLength(1);
    expect(emulator.requests()[0]).toMatchObject({ status: 201, algorithm: "AWS4-X509-RSA-SHA256" });
    const [session] = emulator.sessions();
    expect(session).toMatchObject({
      accessKeyId: first.accessKeyId,
      commonName: CN,
      roleArn: emulator.roleArn,
      roleSessionName: "credmesh-replicator-aws-cell-1",
    });
    expect(first.sessionToken).toEqual(expect.any(String));
    expect(first.expiration?.getTime()).toBe(Date.parse(session?.expiration ?? ""));
    expect(await refreshes()).toEqual([{ outcome: "success", value: 1 }]);
    const expiry = (await metrics.credentialExpiry.get()).values;
    expect(expiry).toEqual([{ labels: { source: "aws-roles-anywhere" }, value: Math.floor(Date.parse(session?.expiration ?? "") / 1000) }]);
  });

  it("gets credentials for an ECDSA cell issued by the trust anchor itself", async () => {
    const credentials = provider(config(await mountCell(ecCell)));
    await credentials();
    expect(emulator.requests()).toEqual([expect.objectContaining({ status: 201, algorithm: "AWS4-X509-ECDSA-SHA256" })]);
    expect(emulator.requests()[0]?.headers["x-amz-x509-chain"]).toBeUndefined();
  });

  it("calls CreateSession again only when the credentials near expiry, then serves the new ones", async () => {
    const credentials = provider(config(await mountCell(rsaCell, { chain: [intermediate] })));
    const first = await credentials();
    clock += 55 * MINUTE - 1; // 60-minute credentials are refreshed 5 minutes before expiry
    expect((await credentials()).accessKeyId).toBe(first.accessKeyId);
    expect(emulator.requests()).toHaveLength(1);
    clock += 1;
    const second = await credentials();
    expect(second.accessKeyId).not.toBe(first.accessKeyId);
    expect(emulator.requests()).toHaveLength(2);
    expect(await credentials()).toEqual(second);
  });

  it("uses a renewed certificate and key from the next refresh on", async () => {
    const files = await mountCell(rsaCell, { chain: [intermediate] });
    const credentials = provider(config(files));
    await credentials();
    await rotate(files.certificateFile, renewedCell.certPem);
    await rotate(files.privateKeyFile, renewedCell.keyPem);
    await credentials();
    expect(emulator.requests()).toHaveLength(1); // still cached: renewal does not force a call

    clock += 56 * MINUTE;
    await credentials();
    const serials = emulator.requests().map((r) => r.serial);
    expect(serials).toHaveLength(2);
    expect(serials[1]).not.toBe(serials[0]);
    expect(serials[1]).toBe(BigInt(`0x${/serial=([0-9A-F]+)/.exec(await opensslSerial(renewedCell))?.[1]}`).toString());
    expect(emulator.requests()[1]?.algorithm).toBe("AWS4-X509-ECDSA-SHA256");
  });

  it("keeps serving valid credentials while a renewal is half-written, and recovers when it completes", async () => {
    const files = await mountCell(rsaCell, { chain: [intermediate] });
    const credentials = provider(config(files));
    const first = await credentials();
    await rotate(files.certificateFile, renewedCell.certPem); // the key is not renewed yet
    clock += 56 * MINUTE;
    expect((await credentials()).accessKeyId).toBe(first.accessKeyId); // refresh refused locally, cache still valid
    expect(emulator.requests()).toHaveLength(1);
    expect(await refreshes()).toContainEqual({ outcome: "configuration", value: 1 });
    await rotate(files.privateKeyFile, renewedCell.keyPem);
    expect((await credentials()).accessKeyId).not.toBe(first.accessKeyId);
    expect(emulator.requests()).toHaveLength(2);
  });

  describe("refused before any request is sent", () => {
    it("a missing intermediate, naming the certificate and the missing issuer", async () => {
      const credentials = provider(config(await mountCell(rsaCell)));
      // What the identity-watcher sees through check(): the same finding, without a refresh.
      expect((await credentials.check()).problems.map((p) => p.kind)).toEqual(["incomplete_chain"]);
      const error = await failure(credentials());
      expect(error).toMatchObject({ reason: "configuration", retryable: false, code: "incomplete_chain" });
      expect(error.message).toContain(
        `"O=credmesh-test, CN=${CN}" was issued by "O=credmesh-test, CN=credmesh test intermediate CA", which is neither in the certificate or chain file nor a trust anchor`,
      );
      expect(emulator.requests()).toHaveLength(0);
      expect(await refreshes()).toEqual([{ outcome: "configuration", value: 1 }]);
    });

    it("a certificate whose CN is not the cell's", async () => {
      const other = await pki.leaf("replicator-azure.cell-1", { issuer: intermediate });
      const error = await failure(provider(config(await mountCell(other, { chain: [intermediate] })))());
      expect(error).toMatchObject({ reason: "configuration", retryable: false, code: "common_name_mismatch" });
      expect(error.message).toContain(`subject "replicator-azure.cell-1"; the cell expects CN "${CN}"`);
      expect(emulator.requests()).toHaveLength(0);
    });

    it("an expired certificate", async () => {
      const expired = await pki.leaf(CN, {
        issuer: intermediate,
        notBefore: new Date(Date.now() - 30 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      });
      const error = await failure(provider(config(await mountCell(expired, { chain: [intermediate] })))());
      expect(error).toMatchObject({ reason: "unauthenticated", retryable: false, code: "expired" });
      expect(error.message).toMatch(/certificate "O=credmesh-test, CN=replicator-aws.cell-1" expired at \d{4}-/);
      expect(emulator.requests()).toHaveLength(0);
    });

    it("a private key that is not the certificate's", async () => {
      const stranger = await pki.key("rsa");
      const error = await failure(provider(config(await mountCell(rsaCell, { chain: [intermediate], keyPem: stranger.keyPem })))());
      expect(error).toMatchObject({ reason: "configuration", retryable: false, code: "key_mismatch" });
      expect(error.message).not.toContain("PRIVATE KEY");
      expect(emulator.requests()).toHaveLength(0);
    });
  });

  describe("refused by the endpoint", () => {
    it("a signature that does not verify is a permanent access_denied after one 403", async () => {
      const proxy = await startTamperingProxy(emulator.endpoint);
      try {
        const error = await failure(provider(config(await mountCell(rsaCell, { chain: [intermediate] }), { endpoint: proxy.endpoint }))());
        expect(error).toMatchObject({ reason: "access_denied", retryable: false, status: 403, code: "AccessDeniedException" });
        expect(emulator.requests()).toEqual([expect.objectContaining({ status: 403, errorType: "AccessDeniedException" })]);
        expect(emulator.requests()[0]?.message).toMatch(/signature .* does not match/);
        expect(await refreshes()).toEqual([{ outcome: "access_denied", value: 1 }]);
      } finally {
        await proxy.stop();
      }
    });

    it("a certificate from a CA that is not the endpoint's trust anchor (the cell trusts the wrong anchor)", async () => {
      const misissued = await pki.leaf(CN, { issuer: strangerRoot });
      const error = await failure(provider(config(await mountCell(misissued, { anchor: strangerRoot })))());
      expect(error).toMatchObject({ reason: "access_denied", retryable: false, status: 403 });
      expect(emulator.requests()[0]?.message).toMatch(/Untrusted signing certificate/);
    });

    it("a role whose trust policy names another CN", async () => {
      const restricted = await startRolesAnywhereEmulator({
        trustAnchorPem: root.certPem,
        now: () => clock,
        roles: [{ arn: "arn:aws:iam::123456789012:role/credmesh-replicator-azure", commonNames: ["replicator-azure.cell-1"] }],
      });
      try {
        const c = config(await mountCell(rsaCell, { chain: [intermediate] }), {
          endpoint: restricted.endpoint,
          trustAnchorArn: restricted.trustAnchorArn,
          profileArn: restricted.profileArn,
          roleArn: restricted.roleArn,
        });
        expect(await failure(provider(c)())).toMatchObject({ reason: "access_denied", status: 403 });
      } finally {
        await restricted.stop();
      }
    });
  });

  describe("transient failures", () => {
    it("throttling is retryable with the server's Retry-After, and the next call succeeds", async () => {
      const credentials = provider(config(await mountCell(ecCell)));
      emulator.failNext({ status: 429, errorType: "ThrottlingException", message: "Rate exceeded", retryAfterSeconds: 2 });
      expect(await failure(credentials())).toMatchObject({ reason: "throttled", retryable: true, retryAfterMs: 2000 });
      await credentials();
      expect(emulator.requests().map((r) => r.status)).toEqual([429, 201]);
      expect(await refreshes()).toEqual([
        { outcome: "throttled", value: 1 },
        { outcome: "success", value: 1 },
      ]);
    });

    it("a 5xx is retryable unavailable", async () => {
      emulator.failNext({ status: 500, errorType: "InternalServerException" });
      expect(await failure(provider(config(await mountCell(ecCell)))())).toMatchObject({ reason: "unavailable", retryable: true, status: 500 });
    });

    it("an unreachable endpoint is a retryable network failure", async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const error = await failure(provider(config(await mountCell(ecCell), { endpoint: `http://127.0.0.1:${port}` }))());
      expect(error).toMatchObject({ reason: "network", retryable: true });
    });

    it("a failed refresh keeps the still-valid credentials, and the next call refreshes", async () => {
      const credentials = provider(config(await mountCell(ecCell)));
      const first = await credentials();
      clock += 57 * MINUTE;
      emulator.failNext({ status: 503, errorType: "ServiceUnavailableException" });
      expect((await credentials()).accessKeyId).toBe(first.accessKeyId);
      expect((await credentials()).accessKeyId).not.toBe(first.accessKeyId);
      expect(emulator.requests().map((r) => r.status)).toEqual([201, 503, 201]);
    });
  });

  it("as a chain source: missing files are identity_unavailable (move on), a bad certificate is not", async () => {
    const missing = rolesAnywhereFetcher(
      config({ certificateFile: join(work, "absent", "tls.crt"), privateKeyFile: join(work, "absent", "tls.key"), trustAnchorFile: root.certPath }),
      { now: () => clock },
    );
    expect(await failure(missing())).toMatchObject({ reason: "identity_unavailable", retryable: true });
    const fetcher = rolesAnywhereFetcher(config(await mountCell(rsaCell)), { now: () => clock });
    expect(await failure(fetcher())).toMatchObject({ reason: "configuration" });
    const working = rolesAnywhereFetcher(config(await mountCell(ecCell)), { now: () => clock });
    const [a, b] = [await working(), await working()];
    expect(a.expiresAt).toEqual(a.expiration);
    expect(a.accessKeyId).not.toBe(b.accessKeyId); // uncached: the chain caches
    expect(emulator.requests()).toHaveLength(2);
  });

  it("logs the role, certificate and serial, and never a key or a secret", async () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: "roles-anywhere-test",
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const files = await mountCell(rsaCell, { chain: [intermediate] });
    const credentials = provider(config(files), logger);
    const got = await credentials();
    await failure(provider(config(await mountCell(rsaCell)), logger)()); // a refusal too
    const text = lines.join("");
    const line = JSON.parse(lines.find((l) => l.includes("Roles Anywhere")) ?? "{}") as Record<string, unknown>;
    expect(line).toMatchObject({
      source: "aws-roles-anywhere",
      role: emulator.roleArn,
      certificate: `O=credmesh-test, CN=${CN}`,
      serial: emulator.requests()[0]?.serial,
    });
    expect(text).not.toContain(got.secretAccessKey);
    expect(text).not.toContain(got.sessionToken ?? "<none>");
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain(rsaCell.keyPem.split("\n")[1] ?? "<none>");
  });
});

async function opensslSerial(cell: Issued): Promise<string> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) =>
    execFile("openssl", ["x509", "-in", cell.certPath, "-noout", "-serial"], (error: Error | null, stdout) => (error ? reject(error) : resolve(stdout))),
  );
}

/** Forwards to `target`, with one hex digit of the Authorization signature changed: a bad signature in transit. */
async function startTamperingProxy(target: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const headers = { ...req.headers };
    headers["authorization"] = String(headers["authorization"] ?? "").replace(/Signature=(.)/, (_m, c: string) => `Signature=${c === "0" ? "1" : "0"}`);
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
