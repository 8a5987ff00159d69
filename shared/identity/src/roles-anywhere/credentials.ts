import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { isAwsRegion, parseRoleArn } from "@credmesh/identifiers";
import { CredmeshError, toCredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { CachedCredential, DEFAULT_REFRESH, type RefreshPolicy } from "../cached-token.ts";
import type { AwsCredentials } from "../web-identity.ts";
import { type CellCertificate, type CellCertificateFiles, cellCertificateReader } from "./cell-certificate.ts";
import { type CertificateCheck, certificateCheckError, checkCertificateChain } from "./certificate-chain.ts";
import { createSession } from "./create-session.ts";
import { serialDecimal } from "./signing.ts";

const DEFAULT_SOURCE = "aws-roles-anywhere";

/**
 * Configuration of {@link rolesAnywhereCredentials}: the Roles Anywhere trust anchor, profile and
 * role, the files the cell mounts, and the CN its certificate must carry.
 */
export interface RolesAnywhereConfig extends CellCertificateFiles {
  /** The Roles Anywhere region: the region of the trust anchor and profile ARNs. */
  region: string;
  /** `arn:aws:rolesanywhere:<region>:<account>:trust-anchor/<id>`. */
  trustAnchorArn: string;
  /** `arn:aws:rolesanywhere:<region>:<account>:profile/<id>`; the profile must list `roleArn`. */
  profileArn: string;
  /** The role to assume; its trust policy allows rolesanywhere.amazonaws.com for this CN. */
  roleArn: string;
  /**
   * The cell's certificate subject CN. Checked before every CreateSession, so a wrong certificate is
   * refused locally with a clear error rather than by the role's trust policy with a bare 403.
   */
  expectedCommonName: string;
  /**
   * Role session name, identifying the cell in CloudTrail (`assumed-role/<Role>/<session>`). Needs the
   * profile's acceptRoleSessionName; when unset, AWS names the session after the certificate serial.
   */
  sessionName?: string;
  /** 900–43200; default 3600. The profile's own duration caps it, and so does the certificate's expiry. */
  durationSeconds?: number;
  /** Default `https://rolesanywhere.<region>.amazonaws.com`; http only on loopback (the test endpoint). */
  endpoint?: string;
  /** Deadline of one CreateSession call; default 10 000 ms. */
  timeoutMs?: number;
  /** When cached credentials are refreshed; default {@link DEFAULT_REFRESH}. */
  refresh?: RefreshPolicy;
}

/** The provider, plus the handles an operator, the identity-watcher or a test needs. */
export type RolesAnywhereCredentialProvider = AwsCredentialIdentityProvider & {
  /** Drops the cached credentials, e.g. after AWS rejected them as expired. */
  invalidate(): void;
  /** Reads the files as they are now and checks them as a refresh would, without calling AWS. */
  check(): Promise<CertificateCheck>;
};

export interface RolesAnywhereFetchOptions {
  /** Counted under `source` (default `aws-roles-anywhere`); chains count for themselves and pass none. */
  metrics?: Pick<Metrics, "credentialRefreshes" | "credentialExpiry">;
  source?: string;
  logger?: Logger;
  /** The clock of the certificate check and of X-Amz-Date; default Date.now. */
  now?: () => number;
}

/**
 * One IAM Roles Anywhere CreateSession per invocation, signed with the cell's X.509 certificate and
 * key (AWS4-X509-RSA-SHA256 or AWS4-X509-ECDSA-SHA256). No AWS key is stored anywhere: the
 * certificate is the identity, renewed by rewriting the mounted files, which are re-read when they
 * change. Not cached: {@link rolesAnywhereCredentials} or a credential chain caches.
 *
 * Before the request the files are checked (validity windows, a complete chain to the trust anchor,
 * the expected CN, the key belonging to the certificate); a failed check is a permanent
 * CredmeshError naming what is wrong (subject and issuer DNs, never key material), and nothing is
 * sent. Missing files are `identity_unavailable`, so a chain moves on to its next source where the
 * certificate is not mounted.
 *
 * @see ../../../../shared/SPEC.md section 3 (Azure → AWS)
 */
export function rolesAnywhereFetcher(config: RolesAnywhereConfig, options: RolesAnywhereFetchOptions = {}): () => Promise<AwsCredentials> {
  return fetcherOf(resolveConfig(config), cellCertificateReader(config, options.logger ? { logger: options.logger } : {}), options);
}

function fetcherOf(
  resolved: ResolvedConfig,
  read: () => Promise<CellCertificate>,
  options: RolesAnywhereFetchOptions,
): () => Promise<AwsCredentials> {
  const now = options.now ?? Date.now;
  const source = options.source ?? DEFAULT_SOURCE;
  return async () => {
    try {
      const cell = await read();
      const at = now();
      const result = checkCertificateChain({ ...cell, expectedCommonName: resolved.expectedCommonName, now: at });
      if (!result.ok) throw certificateCheckError(result.problems);
      const session = await createSession(
        resolved.endpoint,
        resolved.region,
        {
          durationSeconds: resolved.durationSeconds,
          profileArn: resolved.profileArn,
          roleArn: resolved.roleArn,
          trustAnchorArn: resolved.trustAnchorArn,
          ...(resolved.sessionName === undefined ? {} : { roleSessionName: resolved.sessionName }),
        },
        { certificate: cell.leaf, intermediates: result.intermediates, privateKey: cell.privateKey },
        { date: new Date(at), timeoutMs: resolved.timeoutMs },
      );
      options.metrics?.credentialRefreshes.inc({ source, outcome: "success" });
      options.metrics?.credentialExpiry.set({ source }, Math.floor(session.expiration.getTime() / 1000));
      options.logger?.info(
        {
          source,
          role: resolved.roleArn,
          profile: resolved.profileArn,
          trustAnchor: resolved.trustAnchorArn,
          certificate: result.subject,
          serial: serialDecimal(cell.leaf),
          certificateExpiresAt: result.expiresAt.toISOString(),
          expiresAt: session.expiration.toISOString(),
        },
        "assumed AWS role with IAM Roles Anywhere",
      );
      return {
        accessKeyId: session.accessKeyId,
        // Revealed here only because the AWS SDK's credential shape holds plain strings.
        secretAccessKey: session.secretAccessKey.reveal(),
        sessionToken: session.sessionToken.reveal(),
        expiration: session.expiration,
        expiresAt: session.expiration,
      };
    } catch (error) {
      const failure = toCredmeshError(error);
      options.metrics?.credentialRefreshes.inc({ source, outcome: failure.reason });
      throw failure;
    }
  };
}

/**
 * AWS credentials by IAM Roles Anywhere ({@link rolesAnywhereFetcher}), cached and refreshed shortly
 * before they expire: many callers share one CreateSession, and a still-valid credential is served
 * when a refresh fails. Metrics: `credentialRefreshes{source="aws-roles-anywhere", outcome}` and
 * `credentialExpiry{source}`.
 */
export function rolesAnywhereCredentials(
  config: RolesAnywhereConfig,
  deps: Omit<RolesAnywhereFetchOptions, "source"> = {},
): RolesAnywhereCredentialProvider {
  const resolved = resolveConfig(config);
  const now = deps.now ?? Date.now;
  const read = cellCertificateReader(config, deps.logger ? { logger: deps.logger } : {});
  const cache = new CachedCredential<AwsCredentials>(fetcherOf(resolved, read, deps), resolved.refresh, now);
  const check = async (): Promise<CertificateCheck> =>
    checkCertificateChain({ ...(await read()), expectedCommonName: resolved.expectedCommonName, now: now() });
  const provider = async (): Promise<AwsCredentialIdentity> => {
    const { expiresAt: _expiresAt, ...credentials } = await cache.get();
    return credentials;
  };
  return Object.assign(provider, { invalidate: () => cache.invalidate(), check });
}

interface ResolvedConfig {
  region: string;
  trustAnchorArn: string;
  profileArn: string;
  roleArn: string;
  expectedCommonName: string;
  sessionName: string | undefined;
  durationSeconds: number;
  endpoint: URL;
  timeoutMs: number;
  refresh: RefreshPolicy;
}

const ROLES_ANYWHERE_ARN = /^arn:(aws[a-z-]*):rolesanywhere:([a-z0-9-]+):(\d{12}):(trust-anchor|profile)\/[0-9a-f-]{36}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/**
 * Validates the configuration at construction; errors name the setting and the (non-secret) value.
 * Exported for the configuration layer and its tests.
 */
export function resolveConfig(config: RolesAnywhereConfig): ResolvedConfig {
  const bad = (setting: string, value: unknown, why: string): CredmeshError =>
    new CredmeshError("configuration", `Roles Anywhere credentials: ${setting} ${why} (got ${JSON.stringify(value)})`);
  if (typeof config.region !== "string" || !isAwsRegion(config.region)) throw bad("region", config.region, "must be an AWS region");
  for (const [setting, kind] of [
    ["trustAnchorArn", "trust-anchor"],
    ["profileArn", "profile"],
  ] as const) {
    const value = config[setting];
    const match = typeof value === "string" ? ROLES_ANYWHERE_ARN.exec(value) : null;
    if (!match || match[4] !== kind) throw bad(setting, value, `must be a Roles Anywhere ${kind} ARN`);
    // CreateSession is served per region and only knows that region's anchors and profiles.
    if (match[2] !== config.region) throw bad(setting, value, `must be in region ${config.region}`);
  }
  if (typeof config.roleArn !== "string" || parseRoleArn(config.roleArn) === undefined) throw bad("roleArn", config.roleArn, "must be an IAM role ARN");
  if (typeof config.expectedCommonName !== "string" || config.expectedCommonName.trim() === "") {
    throw bad("expectedCommonName", config.expectedCommonName, "must be the CN of the cell's certificate");
  }
  if (config.sessionName !== undefined && !SESSION_NAME.test(config.sessionName)) {
    throw bad("sessionName", config.sessionName, "must be 2-64 characters of letters, digits and +=,.@_-");
  }
  const durationSeconds = config.durationSeconds ?? 3600;
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43_200) {
    throw bad("durationSeconds", config.durationSeconds, "must be an integer from 900 to 43200");
  }
  for (const setting of ["certificateFile", "privateKeyFile", "trustAnchorFile"] as const) {
    if (typeof config[setting] !== "string" || config[setting] === "") throw bad(setting, config[setting], "must be a file path");
  }
  if (config.chainFile !== undefined && (typeof config.chainFile !== "string" || config.chainFile === "")) {
    throw bad("chainFile", config.chainFile, "must be a file path when set");
  }
  const endpointText = config.endpoint ?? `https://rolesanywhere.${config.region}.amazonaws.com`;
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw bad("endpoint", config.endpoint, "is not a URL");
  }
  if (endpoint.protocol !== "https:" && !(endpoint.protocol === "http:" && LOOPBACK.has(endpoint.hostname))) {
    throw bad("endpoint", config.endpoint, "must be an https URL (http only on loopback)");
  }
  if (endpoint.username !== "" || endpoint.password !== "") {
    // Not echoed: the value holds what looks like a credential.
    throw new CredmeshError("configuration", "Roles Anywhere credentials: endpoint must not carry a user name or password");
  }
  if (endpoint.search !== "" || endpoint.hash !== "") throw bad("endpoint", config.endpoint, "must not carry a query or a fragment");
  const timeoutMs = config.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw bad("timeoutMs", config.timeoutMs, "must be a positive integer");
  return {
    region: config.region,
    trustAnchorArn: config.trustAnchorArn,
    profileArn: config.profileArn,
    roleArn: config.roleArn,
    expectedCommonName: config.expectedCommonName,
    sessionName: config.sessionName,
    durationSeconds,
    endpoint,
    timeoutMs,
    refresh: config.refresh ?? DEFAULT_REFRESH,
  };
}
