/**
 * How the identity-watcher reads and judges certificate places, on real files and real
 * certificates made by openssl: every state distinct (`absent`, `unreadable` and `invalid` are not
 * one "broken"), the renewal point and the near-expiry thresholds, the chain to the cell's trust
 * anchor, the expected CN, what STS session tags cannot carry, X.509 v1, and a Kubernetes projected
 * volume read through its `..data` symlink without counting a certificate twice.
 */
import { execFile } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_NEAR_EXPIRY } from "../../services/identity-watcher/src/cells.ts";
import type { CertificateSourceConfig } from "../../services/identity-watcher/src/cells.ts";
import { parseDuration } from "../../services/identity-watcher/src/durations.ts";
import { judge } from "../../services/identity-watcher/src/certificates/judge.ts";
import { readAnchors, readSource } from "../../services/identity-watcher/src/certificates/places.ts";
import { createPki, type Issued, type Pki } from "../emulators/roles-anywhere/pki.ts";

const run = promisify(execFile);
const DAY = 86_400_000;
const CELL = "cell-1";

describe("identity-watcher: reading and judging certificate places", () => {
  let pki: Pki;
  let ca: Issued;
  let dir: string;

  const source = (path: string, overrides: Partial<CertificateSourceConfig> = {}): CertificateSourceConfig => ({
    path,
    kind: "leaf",
    expectedCommonName: CELL,
    trustAnchorFile: join(dir, "anchor.pem"),
    renewAt: { fraction: 2 / 3 },
    nearExpiryMs: DEFAULT_NEAR_EXPIRY.map((text) => parseDuration(text) ?? 0),
    ...overrides,
  });

  async function judged(config: CertificateSourceConfig, now = Date.now()) {
    const anchors = await readAnchors(config.trustAnchorFile);
    return (await readSource(config)).map(({ place, reading }) => ({ place, ...judge(reading, config, anchors, now) }));
  }

  async function file(name: string, pem: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, pem);
    return path;
  }

  const leaf = (cn: string, fromDays: number, toDays: number, issuer = ca) =>
    pki.leaf(cn, { issuer, notBefore: new Date(Date.now() + fromDays * DAY), notAfter: new Date(Date.now() + toDays * DAY) });

  beforeAll(async () => {
    pki = await createPki();
    ca = await pki.ca("cells CA");
    dir = join(pki.dir, "watched");
    await mkdir(dir);
    await writeFile(join(dir, "anchor.pem"), ca.certPem);
  });
  afterAll(async () => {
    await pki?.remove();
  });

  it.each([
    ["ok", -1, 89, undefined],
    ["renewal_due", -90, 40, undefined],
    ["near_expiry", -80, 5, 7 * DAY],
    ["near_expiry", -80, 0.5, DAY],
    ["expired", -30, -0.1, undefined],
    ["not_yet_valid", 1, 30, undefined],
  ] as const)("judges %s (valid from %s to %s days)", async (state, from, to, threshold) => {
    const certificate = await leaf(CELL, from, to);
    const [result] = await judged(source(await file(`${state}-${from}.crt`, certificate.certPem)));
    expect(result).toMatchObject({ state, problems: state === "ok" ? [] : [expect.any(String)] });
    expect(result?.thresholdMs).toBe(threshold);
    expect(result?.facts).toMatchObject({ subjectCN: CELL, issuerCN: "cells CA" });
  });

  it("is healthy long before expiry if the renewal point is not passed (a short-lived certificate)", async () => {
    const shortLived = await pki.leaf(CELL, { issuer: ca, notBefore: new Date(Date.now() - 3_600_000), notAfter: new Date(Date.now() + 23 * 3_600_000) });
    const [result] = await judged(source(await file("short.crt", shortLived.certPem)));
    expect(result?.state).toBe("ok");
    const late = await judged(source(join(dir, "short.crt")), Date.now() + 16 * 3_600_000);
    expect(late[0]).toMatchObject({ state: "near_expiry", thresholdMs: DAY });
  });

  it("honours a renewal point given as a duration before expiry", async () => {
    const certificate = await leaf(CELL, -10, 50);
    const path = await file("duration.crt", certificate.certPem);
    expect((await judged(source(path, { renewAt: { beforeMs: 45 * DAY } })))[0]?.state).toBe("ok");
    expect((await judged(source(path, { renewAt: { beforeMs: 55 * DAY } })))[0]?.state).toBe("renewal_due");
  });

  it("tells a certificate from another CA (chain_incomplete) from one with the wrong CN (cn_mismatch)", async () => {
    const other = await pki.ca("someone else's CA");
    const foreign = await leaf(CELL, -1, 89, other);
    expect((await judged(source(await file("foreign.crt", foreign.certPem))))[0]).toMatchObject({ state: "chain_incomplete", problems: [expect.stringContaining("someone else's CA")] });
    const wrongName = await leaf("cell-2", -1, 89);
    expect((await judged(source(await file("wrong-cn.crt", wrongName.certPem))))[0]).toMatchObject({ state: "cn_mismatch" });
    const noAnchor = await judged(source(join(dir, "foreign.crt"), { trustAnchorFile: join(dir, "missing-anchor.pem") }));
    expect(noAnchor[0]).toMatchObject({ state: "chain_incomplete", problems: [expect.stringContaining("trust anchor cannot be read")] });
  });

  it("keeps absent, unreadable and invalid apart", async () => {
    expect((await judged(source(join(dir, "nothing-here.crt"))))[0]).toMatchObject({ state: "absent" });
    await symlink(join(dir, "gone", "tls.crt"), join(dir, "dangling.crt"));
    expect((await judged(source(join(dir, "dangling.crt"))))[0]).toMatchObject({ state: "unreadable", problems: [expect.stringContaining("symlink")] });
    expect((await judged(source(await file("garbage.crt", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"))))[0]).toMatchObject({ state: "invalid" });
    expect((await judged(source(await file("empty.crt", ""))))[0]).toMatchObject({ state: "invalid", problems: [expect.stringContaining("holds no PEM certificate")] });
    expect((await judged(source(join(dir, "no-match-*.crt"))))[0]).toMatchObject({ state: "absent", problems: [expect.stringContaining("no file matches")] });
  });

  it("calls invalid what Roles Anywhere cannot use: X.509 v1, a CN STS cannot take as source identity", async () => {
    // A v1 certificate: openssl x509 -req without extensions.
    const key = join(dir, "v1.key");
    await run("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", `/CN=${CELL}`, "-out", join(dir, "v1.csr")]);
    await run("openssl", ["x509", "-req", "-in", join(dir, "v1.csr"), "-CA", ca.certPath, "-CAkey", ca.keyPath, "-CAcreateserial", "-days", "30", "-out", join(dir, "v1.crt")]);
    const [v1] = await judged(source(join(dir, "v1.crt")));
    expect(v1).toMatchObject({ state: "invalid", problems: [expect.stringContaining("X.509 v1")] });
    const spaced = await leaf("cell one", -1, 89);
    expect((await judged(source(await file("spaced.crt", spaced.certPem), { expectedCommonName: "cell one" })))[0]).toMatchObject({
      state: "invalid",
      problems: [expect.stringContaining("cannot be an STS source identity")],
    });
  });

  it("reads a projected volume through ..data once, and never puts key material in its facts", async () => {
    const volume = join(dir, "projected");
    const current = join(volume, "..2026_12_07_01");
    await mkdir(current, { recursive: true });
    const certificate = await leaf(CELL, -1, 89);
    await writeFile(join(current, "tls.crt"), `${certificate.certPem}\n${certificate.keyPem}`);
    await writeFile(join(current, "ca.crt"), ca.certPem);
    await symlink("..2026_12_07_01", join(volume, "..data"));
    await symlink("..data/tls.crt", join(volume, "tls.crt"));
    await symlink("..data/ca.crt", join(volume, "ca.crt"));
    const results = await judged(source(volume, { trustAnchorFile: join(volume, "ca.crt") }));
    // The directory gives tls.crt (as a leaf, with its key skipped) and ca.crt (a leaf of another
    // CN), not the timestamped copies behind ..data.
    expect(results.map((result) => result.place).sort()).toEqual([join(volume, "ca.crt"), join(volume, "tls.crt")]);
    expect(results.find((result) => result.place.endsWith("tls.crt"))?.state).toBe("ok");
    expect(JSON.stringify(results)).not.toMatch(/PRIVATE KEY/);
  });

  it("judges every certificate of a bundle on its dates", async () => {
    const old = await pki.ca("old CA", { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    const bundle = await file("bundle.pem", `${ca.certPem}\n${old.certPem}`);
    const results = await judged(source(bundle, { kind: "bundle" }));
    expect(results.map((result) => [result.place, result.state])).toEqual([
      [`${bundle}#O=credmesh-test, CN=cells CA`, "ok"],
      [`${bundle}#O=credmesh-test, CN=old CA`, "expired"],
    ]);
  });
});
