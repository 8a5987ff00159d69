import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { CredmeshError, classify, parseRetryAfter } from "@credmesh/errors";
import { Sensitive, type Logger } from "@credmesh/logging";
import type { Metrics } from "@credmesh/metrics";
import { CachedCredential, DEFAULT_REFRESH, type RefreshPolicy } from "./cached-token.ts";

/** The audience Azure-issued tokens carry for federation into AWS (SPEC section 3). */
export const AZURE_TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";
export const DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254/metadata/identity/oauth2/token";

/**
 * Answers that mean "no Azure managed identity here" rather than "this identity was refused":
 * 169.254.169.254 on AWS is the EC2 metadata service, which answers 401 (IMDSv2) or 404 to an
 * Azure token request; Azure IMDS itself answers 404 and 410 while it is updating. A credential
 * chain moves on past them.
 */
const IMDS_UNAVAILABLE_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 410]);

export interface AzureToken {
  token: Sensitive<string>;
  expiresAt: Date;
}

export interface ManagedIdentityConfig {
  /** IMDS-compatible token endpoint (Azure IMDS, or an emulator's). */
  endpoint: string;
  /** Client id of a user-assigned identity; omitted for the system-assigned one. */
  clientId?: string;
  timeoutMs?: number;
  refresh?: RefreshPolicy;
}

/**
 * Tokens from an Azure managed identity over the IMDS protocol (GET with `Metadata: true`),
 * cached per resource until shortly before expiry. No secret is stored anywhere: the platform
 * vouches for the workload.
 */
export class ManagedIdentityTokenSource {
  readonly #config: ManagedIdentityConfig;
  readonly #cache = new Map<string, CachedCredential<AzureToken>>();
  readonly #metrics: Pick<Metrics, "credentialRefreshes" | "credentialExpiry"> | undefined;
  readonly #logger: Logger | undefined;

  constructor(config: ManagedIdentityConfig, options: { metrics?: Pick<Metrics, "credentialRefreshes" | "credentialExpiry">; logger?: Logger } = {}) {
    this.#config = config;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
  }

  /** A token for `resource` (e.g. api://AzureADTokenExchange, https://vault.azure.net). */
  async getToken(resource: string): Promise<AzureToken> {
    let cached = this.#cache.get(resource);
    if (!cached) {
      cached = new CachedCredential(() => this.#fetch(resource), this.#config.refresh ?? DEFAULT_REFRESH);
      this.#cache.set(resource, cached);
    }
    return cached.get();
  }

  /** A fresh token for `resource`, bypassing the cache (a credential chain caches for itself). */
  fetchToken(resource: string): Promise<AzureToken> {
    return this.#fetch(resource);
  }

  async #fetch(resource: string): Promise<AzureToken> {
    const url = new URL(this.#config.endpoint);
    url.searchParams.set("api-version", "2018-02-01");
    url.searchParams.set("resource", resource);
    if (this.#config.clientId) url.searchParams.set("client_id", this.#config.clientId);
    const source = "azure-managed-identity";
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Metadata: "true" },
        signal: AbortSignal.timeout(this.#config.timeoutMs ?? 5_000),
      });
    } catch (error) {
      this.#metrics?.credentialRefreshes.inc({ source, outcome: "identity_unavailable" });
      throw new CredmeshError("identity_unavailable", "managed identity endpoint unreachable", { cause: error });
    }
    if (!response.ok) {
      await response.body?.cancel();
      const failure = IMDS_UNAVAILABLE_STATUSES.has(response.status)
        ? new CredmeshError("identity_unavailable", `managed identity endpoint answered HTTP ${response.status}: no Azure managed identity is available here`, {
            status: response.status,
            code: "ManagedIdentityUnavailable",
          })
        : classify("managed identity token request", {
            status: response.status,
            retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
          });
      this.#metrics?.credentialRefreshes.inc({ source, outcome: failure.reason });
      throw failure;
    }
    let body: { access_token?: unknown; expires_on?: unknown; expires_in?: unknown } | null;
    try {
      body = (await response.json()) as typeof body;
    } catch {
      // No cause: a JSON SyntaxError quotes the body, which may hold the token.
      this.#metrics?.credentialRefreshes.inc({ source, outcome: "invalid_response" });
      throw new CredmeshError("identity_unavailable", "managed identity endpoint returned invalid JSON");
    }
    if (typeof body?.access_token !== "string" || body.access_token === "") {
      this.#metrics?.credentialRefreshes.inc({ source, outcome: "invalid_response" });
      throw new CredmeshError("identity_unavailable", "managed identity endpoint returned no token");
    }
    const expiresAt = expiryOf(body.expires_on, body.expires_in);
    this.#metrics?.credentialRefreshes.inc({ source, outcome: "success" });
    this.#metrics?.credentialExpiry.set({ source }, Math.floor(expiresAt.getTime() / 1000));
    this.#logger?.info({ source, resource, expiresAt: expiresAt.toISOString() }, "obtained managed identity token");
    return { token: new Sensitive(body.access_token), expiresAt };
  }
}

function expiryOf(expiresOn: unknown, expiresIn: unknown): Date {
  const on = Number(expiresOn);
  if (Number.isFinite(on) && on > 0) return new Date(on * 1000);
  const seconds = Number(expiresIn);
  return new Date(Date.now() + (Number.isFinite(seconds) && seconds > 0 ? seconds : 300) * 1000);
}

/**
 * The token source as an Azure SDK TokenCredential: an SDK scope `<resource>/.default` becomes
 * the IMDS `resource`.
 */
export function managedIdentityCredential(source: ManagedIdentityTokenSource): TokenCredential {
  return {
    async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
      const scope = Array.isArray(scopes) ? scopes[0] : scopes;
      if (!scope) throw new CredmeshError("configuration", "no scope requested");
      const token = await source.getToken(scope.replace(/\/\.default$/, ""));
      return { token: token.token.reveal(), expiresOnTimestamp: token.expiresAt.getTime(), tokenType: "Bearer" };
    },
  };
}
