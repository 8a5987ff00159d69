import type { EnvReader } from "@credmesh/config";
import type { Sensitive } from "@credmesh/logging";
import { DEFAULT_ALLOWED_ORIGINS } from "./eventgrid/abuse-protection.ts";

/**
 * Event Grid webhook settings, read at boot. The webhook is enabled by choosing how deliveries
 * authenticate (`CREDMESH_EVENTGRID_AUTH`); there is no default, and no unauthenticated mode.
 * Any other `CREDMESH_EVENTGRID_*` setting without it is a boot error rather than a silently
 * disabled webhook.
 * @see ../../../../shared/FORMATS.md section D
 */

const EVENTGRID_AUTH_MODES = ["entra", "shared-key"] as const;
type EventGridAuthMode = (typeof EVENTGRID_AUTH_MODES)[number];

/** The Microsoft.EventGrid first-party application in Azure Public (FORMATS.md D). */
export const EVENTGRID_APP_ID_AZURE_PUBLIC = "4962773b-9cdb-44cf-a8bf-237846a00ab7";
/** The app role the webhook's app registration assigns to Event Grid's service principal. */
export const EVENTGRID_WEBHOOK_ROLE = "AzureEventGridSecureWebhookSubscriber";

/** Signature algorithms an operator may allow. `none` and the HMAC family are never accepted. */
const ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"] as const;

export interface EntraAuthConfig {
  readonly mode: "entra";
  /** The tenant the webhook's app registration lives in; also required as the `tid` claim. */
  readonly tenantId: string | undefined;
  /** Accepted `iss` values (v1 `https://sts.windows.net/<tid>/`, v2 `https://login.microsoftonline.com/<tid>/v2.0`). */
  readonly issuers: readonly string[];
  /** Accepted `aud` values: the app's client id and/or App ID URI, as configured on the subscription. */
  readonly audiences: readonly string[];
  /** A fixed JWKS URL for every issuer; otherwise OpenID discovery per issuer. */
  readonly jwksUrl: string | undefined;
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
  /** Accepted `appid` (v1) / `azp` (v2) values; undefined turns the check off. */
  readonly appIds: readonly string[] | undefined;
  /** The app role `roles` must contain; undefined turns the check off. */
  readonly role: string | undefined;
}

export interface SharedKeyAuthConfig {
  readonly mode: "shared-key";
  /** Lowercase header name carrying the key (a static delivery header of the subscription). */
  readonly header: string;
  /** Accepted keys; several at once so a key can be rotated without downtime. */
  readonly keys: readonly Sensitive<string>[];
}

export type EventGridAuthConfig = EntraAuthConfig | SharedKeyAuthConfig;

export interface EventGridConfig {
  readonly auth: EventGridAuthConfig;
  /** Largest accepted delivery. An event is at most 1 MB; batching is opt-in per subscription. */
  readonly bodyLimitBytes: number;
  /** Publishes in flight per delivery. */
  readonly publishConcurrency: number;
  /**
   * How long a delivery's publishes keep retrying while JetStream cannot take them (a leader
   * election) before the delivery is answered 503: Event Grid waits 30 s for an answer.
   */
  readonly publishWindowMs: number;
  /** Origins accepted by the CloudEvents OPTIONS handshake. */
  readonly allowedOrigins: readonly string[];
}

const PREFIX = "CREDMESH_EVENTGRID_";

const ENTRA_SETTINGS = [
  "CREDMESH_EVENTGRID_TENANT_ID",
  "CREDMESH_EVENTGRID_ISSUERS",
  "CREDMESH_EVENTGRID_AUDIENCES",
  "CREDMESH_EVENTGRID_JWKS_URL",
  "CREDMESH_EVENTGRID_ALGORITHMS",
  "CREDMESH_EVENTGRID_CLOCK_TOLERANCE_SECONDS",
  "CREDMESH_EVENTGRID_APP_IDS",
  "CREDMESH_EVENTGRID_CHECK_APP_ID",
  "CREDMESH_EVENTGRID_ROLE",
  "CREDMESH_EVENTGRID_CHECK_ROLE",
] as const;

const SHARED_KEY_SETTINGS = ["CREDMESH_EVENTGRID_SHARED_KEY_HEADER", "CREDMESH_EVENTGRID_SHARED_KEYS", "CREDMESH_EVENTGRID_SHARED_KEYS_FILE"] as const;

/** A static key must resist guessing: 32 characters is e.g. 24 random bytes in base64. */
const MIN_SHARED_KEY_LENGTH = 32;

const TENANT_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const ORIGIN = /^(\*|[A-Za-z0-9.-]{1,253}(:\d{1,5})?)$/;

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the Event Grid settings; undefined when the webhook is not configured at all. */
export function readEventGridConfig(read: EnvReader, env: Env): EventGridConfig | undefined {
  const present = Object.keys(env).filter((name) => name.startsWith(PREFIX) && (env[name] ?? "").trim() !== "");
  const mode = read.optionalString("CREDMESH_EVENTGRID_AUTH");
  if (mode === undefined) {
    if (present.length > 0) {
      read.problem(`${present.sort().join(", ")} set without CREDMESH_EVENTGRID_AUTH (entra or shared-key): the Event Grid webhook needs an authentication mode`);
    }
    return undefined;
  }
  if (!(EVENTGRID_AUTH_MODES as readonly string[]).includes(mode)) {
    read.problem(`CREDMESH_EVENTGRID_AUTH="${mode}" must be one of ${EVENTGRID_AUTH_MODES.join(", ")}`);
    return undefined;
  }
  const auth = mode as EventGridAuthMode;
  const foreign = (auth === "entra" ? SHARED_KEY_SETTINGS : ENTRA_SETTINGS).filter((name) => present.includes(name));
  if (foreign.length > 0) read.problem(`${foreign.join(", ")} cannot be used with CREDMESH_EVENTGRID_AUTH=${auth}`);
  return {
    auth: auth === "entra" ? readEntra(read) : readSharedKey(read),
    bodyLimitBytes: read.int("CREDMESH_EVENTGRID_BODY_LIMIT_BYTES", { default: 1_048_576, min: 1_024, max: 16_777_216 }),
    publishConcurrency: read.int("CREDMESH_EVENTGRID_PUBLISH_CONCURRENCY", { default: 32, min: 1, max: 1_024 }),
    publishWindowMs: read.int("CREDMESH_EVENTGRID_PUBLISH_WINDOW_MS", { default: 25_000, min: 0, max: 28_000 }),
    allowedOrigins: readOrigins(read),
  };
}

function readEntra(read: EnvReader): EntraAuthConfig {
  const tenantId = read.optionalString("CREDMESH_EVENTGRID_TENANT_ID");
  if (tenantId !== undefined && !TENANT_ID.test(tenantId)) read.problem(`CREDMESH_EVENTGRID_TENANT_ID="${tenantId}" is invalid: a tenant id is a GUID`);
  const configured = read.list("CREDMESH_EVENTGRID_ISSUERS");
  const issuers = configured.length > 0 ? configured : tenantId === undefined ? [] : defaultIssuers(tenantId.toLowerCase());
  if (issuers.length === 0) read.problem("set CREDMESH_EVENTGRID_TENANT_ID or CREDMESH_EVENTGRID_ISSUERS: Entra tokens are accepted from listed issuers only");
  for (const issuer of configured) checkFetchableUrl(read, "CREDMESH_EVENTGRID_ISSUERS", issuer);

  const audiences = read.list("CREDMESH_EVENTGRID_AUDIENCES");
  if (audiences.length === 0) read.problem("CREDMESH_EVENTGRID_AUDIENCES is required: the webhook app's client id and/or App ID URI");

  const jwksUrl = read.optionalString("CREDMESH_EVENTGRID_JWKS_URL");
  if (jwksUrl !== undefined) checkFetchableUrl(read, "CREDMESH_EVENTGRID_JWKS_URL", jwksUrl);

  const algorithms = read.list("CREDMESH_EVENTGRID_ALGORITHMS", ["RS256"]);
  const refused = algorithms.filter((alg) => !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg));
  if (refused.length > 0) {
    read.problem(
      `CREDMESH_EVENTGRID_ALGORITHMS="${refused.join(",")}" is not allowed: use ${ASYMMETRIC_ALGORITHMS.join(", ")} (none and HS* are always refused)`,
    );
  }
  if (algorithms.length === 0) read.problem("CREDMESH_EVENTGRID_ALGORITHMS must name at least one algorithm");

  const checkAppId = read.bool("CREDMESH_EVENTGRID_CHECK_APP_ID", true);
  const appIds = read.list("CREDMESH_EVENTGRID_APP_IDS", [EVENTGRID_APP_ID_AZURE_PUBLIC]);
  const checkRole = read.bool("CREDMESH_EVENTGRID_CHECK_ROLE", true);
  const role = read.string("CREDMESH_EVENTGRID_ROLE", { default: EVENTGRID_WEBHOOK_ROLE, pattern: /^[\x21-\x7e]{1,120}$/, hint: "an app role value" });
  return {
    mode: "entra",
    tenantId: tenantId?.toLowerCase(),
    issuers,
    audiences,
    jwksUrl,
    algorithms,
    clockToleranceSeconds: read.int("CREDMESH_EVENTGRID_CLOCK_TOLERANCE_SECONDS", { default: 60, min: 0, max: 300 }),
    appIds: checkAppId ? appIds : undefined,
    role: checkRole ? role : undefined,
  };
}

function readSharedKey(read: EnvReader): SharedKeyAuthConfig {
  const header = read
    .string("CREDMESH_EVENTGRID_SHARED_KEY_HEADER", { default: "authorization", pattern: HEADER_NAME, hint: "an HTTP header name" })
    .toLowerCase();
  const keys = read.secretList("CREDMESH_EVENTGRID_SHARED_KEYS");
  if (keys.length === 0) read.problem("CREDMESH_EVENTGRID_SHARED_KEYS (or CREDMESH_EVENTGRID_SHARED_KEYS_FILE) is required with CREDMESH_EVENTGRID_AUTH=shared-key");
  if (keys.some((key) => key.reveal().length < MIN_SHARED_KEY_LENGTH)) {
    read.problem(`CREDMESH_EVENTGRID_SHARED_KEYS entries must be at least ${MIN_SHARED_KEY_LENGTH} characters (values not shown)`);
  }
  return { mode: "shared-key", header, keys };
}

function readOrigins(read: EnvReader): string[] {
  const origins = read.list("CREDMESH_EVENTGRID_ALLOWED_ORIGINS", DEFAULT_ALLOWED_ORIGINS);
  const bad = origins.filter((origin) => !ORIGIN.test(origin));
  if (bad.length > 0) read.problem(`CREDMESH_EVENTGRID_ALLOWED_ORIGINS="${bad.join(",")}" is invalid: host names (or *)`);
  return origins;
}

/** Both token versions of a tenant: v1 is Entra's default for app registrations, v2 opt-in. */
export function defaultIssuers(tenantId: string): string[] {
  return [`https://sts.windows.net/${tenantId}/`, `https://login.microsoftonline.com/${tenantId}/v2.0`];
}

/**
 * Keys are fetched over HTTPS; plain HTTP only on the loopback interface (a local test issuer).
 * A URL with credentials is refused: the JWKS is public.
 */
export function isFetchableUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.username !== "" || url.password !== "") return false;
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function checkFetchableUrl(read: EnvReader, name: string, raw: string): void {
  if (!isFetchableUrl(raw)) read.problem(`${name}="${raw.replace(/^([^:/?#]*:\/\/)[^/?#]*@/, "$1[REDACTED]@")}" must be an https URL (http only on loopback)`);
}
