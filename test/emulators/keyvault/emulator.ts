/**
 * The Key Vault emulator: one HTTPS server on 127.0.0.1 serving the secrets data plane, a
 * managed-identity token endpoint and Entra's token endpoint for federated client assertions,
 * speaking the real protocols so the unmodified Azure SDK (and MSAL) works.
 *
 * @see FORMATS.md §E (shared/FORMATS.md) for the behaviour it reproduces.
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyVaultError, apiVersionNotRecognized, badParameter, routeNotFound } from "./errors.ts";
import { readBody, sendJson } from "./http.ts";
import type { JsonResponse } from "./http.ts";
import { DEFAULT_TENANT_ID, KEY_VAULT_RESOURCE, TokenIssuer, generateSigningKeys } from "./identity.ts";
import type { ManagedIdentity } from "./identity.ts";
import { handleIdentityRequest } from "./identity-routes.ts";
import { handleEntraRequest } from "./entra-routes.ts";
import type { EntraContext } from "./entra-routes.ts";
import { FederatedCredentials } from "./federation.ts";
import type { FederatedCredential, FederatedExchange } from "./federation.ts";
import { RequestLog } from "./request-log.ts";
import type { LoggedRequest } from "./request-log.ts";
import { checkInteger, recoveryLevelOf, resolveVaultSettings } from "./settings.ts";
import type { ThrottleSettings, VaultSettings, VaultSettingsInput } from "./settings.ts";
import { SecretStore } from "./store.ts";
import { VaultThrottle } from "./throttle.ts";
import { createTlsMaterial } from "./tls.ts";
import type { VaultContext } from "./bundles.ts";
import { resolveVaultRoute } from "./vault-routes.ts";
import { handleGraphRequest } from "./graph-routes.ts";
import { ServicePrincipals } from "./principals.ts";
import type { ServicePrincipal } from "./principals.ts";

/**
 * Options of {@link startKeyVaultEmulator}. The vault's behaviour (timing, throttling, paging, purge
 * protection, api-versions) defaults to the real service's; see settings.ts and README.md.
 */
export interface KeyVaultEmulatorOptions extends VaultSettingsInput {
  /** Only loopback is allowed: the emulator hands out tokens to anyone who asks. */
  readonly host?: "127.0.0.1";
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Port of the plain-HTTP IMDS listener; 0 (the default) picks a free port. */
  readonly imdsPort?: number;
  /**
   * Only for docker compose: the service's hostname on the container network. The emulator then
   * listens on all interfaces of its container and names itself by that hostname (URLs, TLS SAN).
   * Never used on a host, where everything stays on 127.0.0.1.
   */
  readonly containerHostname?: string;
  /** Where the CA and server certificate are written; default: a fresh temp dir removed on stop. */
  readonly dir?: string;
  readonly tenantId?: string;
  /** Lifetime of issued access tokens. Default 3599, as IMDS reports. */
  readonly tokenLifetimeSeconds?: number;
  /**
   * Federated identity credentials of the tenant's applications: which external tokens (e.g. an
   * EKS cluster's projected service-account tokens) may be exchanged at the Entra token endpoint
   * for access tokens of `clientId`. More can be added with `addFederatedCredential`.
   */
  readonly federatedCredentials?: readonly FederatedCredential[];
}

/** A running emulator. */
export interface KeyVaultEmulator {
  /** `https://127.0.0.1:<port>`: pass to `new SecretClient(vaultUrl, …)`. */
  readonly vaultUrl: string;
  /** The IMDS-style token URL (`GET ?api-version=2018-02-01&resource=…`, header `Metadata: true`). */
  readonly tokenEndpoint: string;
  /**
   * The same token endpoint over plain HTTP on its own port, as Azure IMDS serves it
   * (http://169.254.169.254/metadata/identity/oauth2/token): what workloads are configured with.
   */
  readonly imdsEndpoint: string;
  /** The CA certificate (PEM file) clients must trust to reach the emulator. */
  readonly caCertPath: string;
  /** `iss` of the issued tokens. */
  readonly issuer: string;
  /** The JWKS that verifies the issued tokens. */
  readonly jwksUri: string;
  readonly tenantId: string;
  /** The system-assigned identity tokens are issued to when no `client_id` is given. */
  readonly managedIdentity: ManagedIdentity;
  /**
   * The Entra authority host to configure MSAL / @azure/identity with (`authorityHost`, with
   * instance discovery disabled and the CA at `caCertPath` trusted): the emulator's origin.
   */
  readonly authorityHost: string;
  /** `POST <origin>/<tenantId>/oauth2/v2.0/token`: client credentials with a federated client assertion. */
  readonly entraTokenEndpoint: string;
  /** `<issuer>/.well-known/openid-configuration`, where MSAL discovers the token endpoint. */
  readonly openIdConfigurationUri: string;
  /** Adds a federated identity credential; it applies to the next token request. */
  addFederatedCredential(credential: FederatedCredential): void;
  /** The federated identity credentials currently configured. */
  federatedCredentials(): readonly FederatedCredential[];
  /** The federated exchanges accepted so far, oldest first. For test diagnostics only. */
  federatedExchanges(): readonly FederatedExchange[];
  /**
   * Requests served so far per operation: REST operation ids such as `SetSecret`, plus `GetToken`,
   * `EntraToken`, `EntraTokenRejected`, `Unauthorized` (every 401; `BearerRejected` counts those that
   * carried a bearer token), `Throttled`, `UnknownRoute` and `MethodNotAllowed`. For test diagnostics only.
   */
  stats(): Record<string, number>;
  /**
   * The vault data-plane requests answered so far (not token requests), oldest first: operation,
   * status, error code, Retry-After, page shape, caller. The outside view of a client's cloud calls.
   */
  requests(): readonly LoggedRequest[];
  /** The vault behaviour it started with (defaults applied). */
  readonly settings: VaultSettings;
  /**
   * Changes the throttling limits from now on, as when other clients of the same vault use its
   * budget; requests already accepted stay counted. Returns the previous limits.
   */
  setThrottle(settings: ThrottleSettings): ThrottleSettings;
  /**
   * Registers the service principal of an application (client id), so Microsoft Graph can disable
   * it; returns its object id. Federated credentials' applications and the system identity are
   * registered already.
   */
  registerServicePrincipal(appId: string, displayName?: string): ServicePrincipal;
  /** The service principals and whether each is enabled. */
  servicePrincipals(): readonly ServicePrincipal[];
  /** Grants an application a Microsoft Graph application permission (its tokens carry it in `roles`). */
  grantGraphRole(appId: string, role: string): void;
  /** Every request served so far, with its arrival time and caller (test diagnostics). */
  requestLog(): readonly LoggedRequest[];
  /** Closes the server and all connections, and removes the temp dir if the emulator made it. */
  stop(): Promise<void>;
}

const BODY_LIMIT_BYTES = 1024 * 1024;

/** Starts the emulator and resolves once it accepts connections. */
export async function startKeyVaultEmulator(options: KeyVaultEmulatorOptions = {}): Promise<KeyVaultEmulator> {
  const settings = resolveOptions(options);
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "credmesh-kv-emulator-")));
  if (!ownsDir) await mkdir(dir, { recursive: true });
  const [tls, keys] = await Promise.all([
    createTlsMaterial(dir, options.containerHostname ? [options.containerHostname] : []),
    generateSigningKeys(),
  ]);
  const listenHost = options.containerHostname ? "0.0.0.0" : settings.host;
  const publicHost = options.containerHostname ?? settings.host;

  const store = new SecretStore(settings.vault);
  const throttle = new VaultThrottle(settings.vault.throttle);
  const federation = new FederatedCredentials(settings.tenantId, options.federatedCredentials ?? []);
  const exchanges: FederatedExchange[] = [];
  const principals = new ServicePrincipals();
  const log = new RequestLog();
  const counts = new Map<string, number>();
  const count = (operation: string): void => {
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
  };
  // Set once the port is known; requests cannot complete a TLS handshake before that.
  // eslint-disable-next-line prefer-const -- assigned once the port is known; handlers read it before that
  let context: RequestContext | undefined;

  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const headers = baseHeaders(req);
    if (context === undefined) {
      sendJson(res, { status: 503, body: { error: { code: "ServiceUnavailable", message: "Starting." } } }, headers);
      return;
    }
    const entry = log.start(req.method ?? "GET", (req.url ?? "/").split("?")[0] ?? "/");
    res.once("finish", () => {
      entry.status = res.statusCode;
    });
    handleRequest(context, req, res, headers, entry).catch((error: unknown) => {
      if (!res.headersSent) {
        const message = error instanceof Error ? error.message : String(error);
        sendJson(res, { status: 500, body: { error: { code: "InternalServerError", message } } }, headers);
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `https://${publicHost}:${port}`;
  // IMDS is plain HTTP on a link-local address; only its token path is served here.
  const imds = createHttpServer((req, res) => {
    const headers = baseHeaders(req);
    if (context === undefined || !(req.url ?? "").startsWith("/metadata/identity/")) {
      sendJson(res, { status: 404, body: { error: "not_found", error_description: "Unknown IMDS path." } }, headers);
      return;
    }
    const entry = log.start(req.method ?? "GET", (req.url ?? "/").split("?")[0] ?? "/");
    entry.clientId = new URL(req.url ?? "/", "http://imds").searchParams.get("client_id") ?? undefined;
    res.once("finish", () => {
      entry.status = res.statusCode;
    });
    handleRequest(context, req, res, headers, entry).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    imds.once("error", reject);
    imds.listen(options.imdsPort ?? 0, listenHost, () => resolve());
  });
  const imdsPort = (imds.address() as AddressInfo).port;
  const issuer = new TokenIssuer(
    { origin, tenantId: settings.tenantId, tokenLifetimeSeconds: settings.tokenLifetimeSeconds },
    keys,
    (clientId, resource) => principals.rolesFor(clientId, resource),
  );
  const registerPrincipal = (appId: string, displayName?: string): ServicePrincipal =>
    principals.register({ appId, objectId: issuer.identityFor(appId).objectId, ...(displayName === undefined ? {} : { displayName }) });
  principals.register({ appId: issuer.systemIdentity.clientId, objectId: issuer.systemIdentity.objectId, displayName: "system-assigned managed identity" });
  for (const credential of federation.list()) registerPrincipal(credential.clientId);
  context = {
    origin,
    issuer,
    store,
    count,
    entra: { issuer, federation, recordExchange: (exchange) => exchanges.push(exchange), principals },
    principals,
    throttle,
    log,
    apiVersions: settings.vault.apiVersions,
    vault: {
      vaultUrl: origin,
      softDeleteRetentionDays: settings.vault.softDeleteRetentionDays,
      recoveryLevel: recoveryLevelOf(settings.vault),
      emptyPageEvery: settings.vault.emptyPageEvery,
    },
  };

  let stopping: Promise<void> | undefined;
  return {
    vaultUrl: origin,
    tokenEndpoint: issuer.tokenEndpoint,
    imdsEndpoint: `http://${publicHost}:${imdsPort}/metadata/identity/oauth2/token`,
    caCertPath: tls.caCertPath,
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    tenantId: settings.tenantId,
    managedIdentity: issuer.systemIdentity,
    authorityHost: issuer.authorityHost,
    entraTokenEndpoint: issuer.entraTokenEndpoint,
    openIdConfigurationUri: issuer.openIdConfigurationUri,
    addFederatedCredential: (credential) => {
      federation.add(credential);
      registerPrincipal(credential.clientId);
    },
    registerServicePrincipal: registerPrincipal,
    servicePrincipals: () => principals.list(),
    grantGraphRole: (appId, role) => principals.grantGraphRole(appId, role),
    requestLog: () => log.entries(),
    federatedCredentials: () => federation.list(),
    federatedExchanges: () => [...exchanges],
    stats: () => Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b))),
    requests: () => log.entries("vault"),
    setThrottle: (limits) => {
      const previous = throttle.settings;
      throttle.settings = resolveVaultSettings({ ...settings.vault, throttle: limits }).throttle;
      return previous;
    },
    settings: settings.vault,
    stop: () => {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const imdsClosed = new Promise<void>((resolve) => imds.close(() => resolve()));
        // SDK clients keep connections alive; without this, close() would wait for them to time out.
        server.closeAllConnections();
        imds.closeAllConnections();
        await Promise.all([closed, imdsClosed]);
        if (ownsDir) await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

interface ResolvedOptions {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly tenantId: string;
  readonly tokenLifetimeSeconds: number;
  readonly vault: VaultSettings;
}

function resolveOptions(options: KeyVaultEmulatorOptions): ResolvedOptions {
  // The type already says so, but JavaScript callers and the CLI can pass anything.
  if (options.host !== undefined && options.host !== "127.0.0.1") {
    throw new Error(`host must be 127.0.0.1, got ${String(options.host)}`);
  }
  const resolved: ResolvedOptions = {
    host: "127.0.0.1",
    port: options.port ?? 0,
    tenantId: options.tenantId ?? DEFAULT_TENANT_ID,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    vault: resolveVaultSettings(options),
  };
  checkInteger("port", resolved.port, 0, 65_535);
  checkInteger("tokenLifetimeSeconds", resolved.tokenLifetimeSeconds, 1, 86_400);
  // The tenant id becomes a path segment of the issuer and the challenge's authorization URL.
  if (!/^[0-9a-zA-Z.-]+$/.test(resolved.tenantId)) {
    throw new Error(`tenantId is not a valid tenant: ${resolved.tenantId}`);
  }
  return resolved;
}

interface RequestContext {
  readonly principals: ServicePrincipals;
  readonly origin: string;
  readonly issuer: TokenIssuer;
  readonly store: SecretStore;
  readonly count: (operation: string) => void;
  readonly entra: EntraContext;
  readonly throttle: VaultThrottle;
  readonly log: RequestLog;
  readonly apiVersions: readonly string[];
  readonly vault: VaultContext;
}

async function handleRequest(
  context: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  entry: LoggedRequest,
): Promise<void> {
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", context.origin);
  const body = await readBody(req, BODY_LIMIT_BYTES);
  const count = (operation: string): void => {
    entry.operation ||= operation;
    context.count(operation);
  };

  const identityResponse = await handleIdentityRequest(context.issuer, method, url, req.headers, count, context.principals);
  if (identityResponse !== undefined) {
    sendJson(res, identityResponse, headers);
    return;
  }
  const entraResponse = await handleEntraRequest(context.entra, method, url, req.headers, body, count);
  if (entraResponse !== undefined) {
    entry.clientId = new URLSearchParams(body ?? "").get("client_id") ?? undefined;
    sendJson(res, entraResponse, headers);
    return;
  }
  const graphResponse = await handleGraphRequest(
    { principals: context.principals, verify: (token, audience) => context.issuer.verifyFor(token, audience) },
    method,
    url,
    req.headers,
    body,
  );
  if (graphResponse !== undefined) {
    count(method === "PATCH" ? "UpdateServicePrincipal" : "GetServicePrincipal");
    sendJson(res, graphResponse, headers);
    return;
  }
  // Authentication comes first, as in Key Vault: the SDK's first request is deliberately sent without
  // token and without body, and it must get the 401 challenge, not a validation error.
  const unauthorized = await authenticate(context, req.headers.authorization, entry);
  const answer = (operation: string, response: JsonResponse): void => {
    context.count(operation);
    context.log.answer(entry, operation, response);
    sendJson(res, response, headers);
  };
  if (unauthorized !== undefined) {
    answer("Unauthorized", unauthorized);
    return;
  }
  const throttled = context.throttle.admit();
  if (throttled !== undefined) {
    answer("Throttled", throttled);
    return;
  }
  const match = resolveVaultRoute(method, url.pathname.split("/").slice(1));
  const operation = match.kind === "operation" ? match.route.operation : match.kind === "unknown" ? "UnknownRoute" : "MethodNotAllowed";
  answer(operation, runRoute(context, match, method, url, body));
}

function runRoute(
  context: RequestContext,
  match: ReturnType<typeof resolveVaultRoute>,
  method: string,
  url: URL,
  body: string | undefined,
): JsonResponse {
  try {
    // Key Vault has no default version; the text of this error is unverified.
    const apiVersion = url.searchParams.get("api-version");
    if (!apiVersion) throw badParameter("The api-version query parameter is missing.");
    if (!context.apiVersions.includes(apiVersion)) throw apiVersionNotRecognized(apiVersion, context.apiVersions.at(-1) ?? "");
    if (match.kind === "unknown") throw routeNotFound(method, url.pathname);
    if (match.kind === "method_not_allowed") return methodNotAllowed(method, match.allow);
    if (body === undefined) throw badParameter("The request body is too large.");
    return match.route.run({ store: context.store, vault: context.vault, query: url.searchParams, body });
  } catch (error) {
    if (error instanceof KeyVaultError) return { status: error.status, body: error.body };
    throw error;
  }
}

/**
 * 405 for a method the resource does not have. Key Vault answers it with a JSON body (status and
 * content type seen in jseerden/SLAPS#6); the body's shape is ASP.NET Web API's and unverified, so
 * clients must act on the status only. `Allow` is what RFC 9110 requires of a 405.
 */
function methodNotAllowed(method: string, allow: readonly string[]): JsonResponse {
  return {
    status: 405,
    headers: { allow: allow.join(", ") },
    body: { Message: `The requested resource does not support http method '${method}'.` },
  };
}

/** Returns the 401 to send, or undefined when the bearer token is one this emulator issued for Key Vault. */
async function authenticate(
  context: RequestContext,
  authorization: string | undefined,
  entry: LoggedRequest,
): Promise<JsonResponse | undefined> {
  // The SDK takes the tenant from the authorization URL's path and asks its credential for
  // `<resource>/.default`.
  const authority = `${context.origin}/${context.issuer.tenantId}`;
  const challenge = {
    "www-authenticate": `Bearer authorization="${authority}", resource="${KEY_VAULT_RESOURCE}"`,
  };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  const token = match?.[1];
  if (token === undefined) {
    return {
      status: 401,
      headers: challenge,
      body: { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } },
    };
  }
  const check = await context.issuer.verifyForKeyVault(token);
  if (check.ok && typeof check.claims.azp === "string") entry.clientId = check.claims.azp;
  if (check.ok) return undefined;
  context.count("BearerRejected");
  return { status: 401, headers: challenge, body: { error: { code: "Unauthorized", message: check.message } } };
}

/** Headers Key Vault puts on every response; the client request id is echoed as the service does. */
function baseHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {
    "cache-control": "no-cache",
    pragma: "no-cache",
    expires: "-1",
    "x-ms-request-id": randomUUID(),
    "x-ms-keyvault-region": "emulator",
    "x-ms-keyvault-network-info": "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
    "x-ms-keyvault-service-version": "emulator",
    "x-content-type-options": "nosniff",
  };
  const clientRequestId = req.headers["x-ms-client-request-id"];
  if (typeof clientRequestId === "string") headers["x-ms-client-request-id"] = clientRequestId;
  return headers;
}
