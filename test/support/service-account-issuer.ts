/**
 * A stand-in for a Kubernetes cluster's service-account token issuer (an EKS cluster's OIDC
 * provider): it mints RS256 "projected service-account tokens" and publishes its OpenID discovery
 * document and JWKS on 127.0.0.1, the way `kubectl get --raw /.well-known/openid-configuration`
 * and `/openid/v1/jwks` show them. The Key Vault emulator's federated identity credentials trust it
 * through `jwksUri`, as Entra trusts a real cluster issuer.
 *
 * `projectTokenFile` plays the kubelet: it writes the token file atomically and rotates it before
 * expiry (at 80% of the lifetime, as the kubelet does).
 */
import { createHash, randomUUID } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, join } from "node:path";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import type { JWK } from "jose";

/** The audience Azure workload identity projects tokens for. */
export const AZURE_TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** Claims of a token to mint; everything defaults to a valid token for `credmesh/replicator-aws`. */
export interface ServiceAccountTokenOptions {
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** Overrides `system:serviceaccount:<namespace>:<serviceAccount>`. */
  readonly subject?: string;
  readonly audience?: string | readonly string[];
  /** Default 3600, the smallest lifetime a projected volume may request. */
  readonly lifetimeSeconds?: number;
  /** Shift iat/nbf/exp by this many seconds (negative: a token minted in the past). */
  readonly offsetSeconds?: number;
  /** Overrides the `iss` claim (a token that claims to come from somewhere else). */
  readonly issuer?: string;
}

/** A running issuer. */
export interface ServiceAccountIssuer {
  /** `iss` of minted tokens: `http://127.0.0.1:<port>`. */
  readonly issuer: string;
  /** `<issuer>/.well-known/openid-configuration`. */
  readonly discoveryUri: string;
  /** `<issuer>/openid/v1/jwks`, as a Kubernetes API server serves it. */
  readonly jwksUri: string;
  /** `system:serviceaccount:<namespace>:<name>`. */
  subjectOf(namespace: string, serviceAccount: string): string;
  /** Mints a signed token. */
  mint(options?: ServiceAccountTokenOptions): Promise<string>;
  /** Mints a token and writes it to `path` atomically (write beside, then rename); returns it. */
  writeTokenFile(path: string, options?: ServiceAccountTokenOptions): Promise<string>;
  /**
   * Keeps `path` holding a fresh token, rewritten at 80% of `lifetimeSeconds`, until the returned
   * function is called.
   */
  projectTokenFile(path: string, options?: ServiceAccountTokenOptions): Promise<() => void>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  stop(): Promise<void>;
}

/** Starts the issuer on 127.0.0.1 (port 0: any free port). */
export async function startServiceAccountIssuer(options: { port?: number } = {}): Promise<ServiceAccountIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = createHash("sha256").update(JSON.stringify(jwk)).digest("base64url").slice(0, 43);
  const publicJwk: JWK = { ...jwk, kid, use: "sig", alg: "RS256" };
  let fetches = 0;
  let issuer = "";

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    let body: unknown;
    if (req.method === "GET" && path === "/.well-known/openid-configuration") {
      body = {
        issuer,
        jwks_uri: `${issuer}/openid/v1/jwks`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
      };
    } else if (req.method === "GET" && path === "/openid/v1/jwks") {
      fetches += 1;
      body = { keys: [publicJwk] };
    }
    const payload = JSON.stringify(body ?? { error: "not found" });
    res.writeHead(body === undefined ? 404 : 200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
    });
    res.end(payload);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const subjectOf = (namespace: string, serviceAccount: string): string =>
    `system:serviceaccount:${namespace}:${serviceAccount}`;

  const mint = async (token: ServiceAccountTokenOptions = {}): Promise<string> => {
    const namespace = token.namespace ?? "credmesh";
    const serviceAccount = token.serviceAccount ?? "replicator-aws";
    const lifetime = token.lifetimeSeconds ?? 3600;
    const now = Math.floor(Date.now() / 1000) + (token.offsetSeconds ?? 0);
    const audience = token.audience ?? AZURE_TOKEN_EXCHANGE_AUDIENCE;
    return new SignJWT({
      // The claims a projected service-account token carries (Kubernetes 1.29+), pod bound.
      "kubernetes.io": {
        namespace,
        serviceaccount: { name: serviceAccount, uid: randomUUID() },
        pod: { name: `${serviceAccount}-0`, uid: randomUUID() },
      },
    })
      .setProtectedHeader({ alg: "RS256", kid })
      .setIssuer(token.issuer ?? issuer)
      .setSubject(token.subject ?? subjectOf(namespace, serviceAccount))
      .setAudience(typeof audience === "string" ? audience : [...audience])
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(privateKey);
  };

  const writeTokenFile = async (path: string, token?: ServiceAccountTokenOptions): Promise<string> => {
    const jwt = await mint(token);
    // Like the kubelet's atomic writer: readers see the old file or the new one, never half of one.
    const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}`);
    await writeFile(temp, jwt, { mode: 0o600 });
    await rename(temp, path);
    return jwt;
  };

  const projections = new Set<NodeJS.Timeout>();
  const projectTokenFile = async (path: string, token: ServiceAccountTokenOptions = {}): Promise<() => void> => {
    await writeTokenFile(path, token);
    const every = Math.max(1, Math.floor((token.lifetimeSeconds ?? 3600) * 0.8)) * 1000;
    const timer = setInterval(() => void writeTokenFile(path, token).catch(() => undefined), every);
    timer.unref();
    projections.add(timer);
    return () => {
      clearInterval(timer);
      projections.delete(timer);
    };
  };

  return {
    issuer,
    discoveryUri: `${issuer}/.well-known/openid-configuration`,
    jwksUri: `${issuer}/openid/v1/jwks`,
    subjectOf,
    mint,
    writeTokenFile,
    projectTokenFile,
    jwksFetches: () => fetches,
    stop: async () => {
      for (const timer of projections) clearInterval(timer);
      projections.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
