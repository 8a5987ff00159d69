/**
 * The Key Vault secrets REST API (data plane, secrets.json 7.x): routing and request → store → JSON.
 *
 * @see FORMATS.md §E for the endpoint list this mirrors.
 */
import {
  deletedSecretBundle,
  deletedSecretItem,
  secretBundle,
  secretItem,
} from "./bundles.ts";
import type { VaultContext } from "./bundles.ts";
import { invalidName } from "./errors.ts";
import type { JsonResponse } from "./http.ts";
import { currentVersion } from "./model.ts";
import type { SecretVersionRecord } from "./model.ts";
import { paginate } from "./paging.ts";
import type { SecretStore } from "./store.ts";
import { checkName, parseJsonObject, parseSetSecret, parseVersionInput } from "./validation.ts";

/** What a resolved operation runs against. */
interface VaultRequest {
  readonly store: SecretStore;
  readonly vault: VaultContext;
  readonly query: URLSearchParams;
  /** The raw request body ("" when there is none). */
  readonly body: string;
}

/** A matched secrets operation, named by its REST operation id (used for request statistics). */
interface VaultRoute {
  readonly operation: string;
  readonly run: (request: VaultRequest) => JsonResponse;
}

/**
 * What a request path and method resolve to: an operation; a known resource asked with a method it
 * does not have (`allow` lists the methods it has: the service answers 405); or nothing (404).
 */
export type RouteMatch =
  | { readonly kind: "operation"; readonly route: VaultRoute }
  | { readonly kind: "method_not_allowed"; readonly allow: readonly string[] }
  | { readonly kind: "unknown" };

/** Matches `method` and the URL path segments to an operation of the secrets API. */
export function resolveVaultRoute(method: string, segments: readonly string[]): RouteMatch {
  const methods = resourceOf(segments);
  if (methods === undefined) return { kind: "unknown" };
  const route = methods[method];
  return route === undefined ? { kind: "method_not_allowed", allow: Object.keys(methods) } : { kind: "operation", route };
}

/** The operations of the resource a path names, by method; undefined for paths the API does not have. */
function resourceOf(segments: readonly string[]): Readonly<Record<string, VaultRoute>> | undefined {
  const [collection, rawName, third, ...rest] = segments;
  if (rest.length > 0) return undefined;
  if (collection === "secrets") return secretResource(rawName, third);
  if (collection === "deletedsecrets") return deletedSecretResource(rawName, third);
  return undefined;
}

function secretResource(rawName: string | undefined, third: string | undefined): Record<string, VaultRoute> | undefined {
  if (rawName === undefined || rawName === "") {
    return third === undefined ? { GET: route("GetSecrets", listSecrets) } : undefined;
  }
  // Backup and restore are not emulated (README.md): their paths stay unknown rather than 405.
  if (rawName === "restore" || third === "backup") return undefined;
  if (third === "versions") return { GET: route("GetSecretVersions", (r) => listVersions(r, name(rawName))) };
  if (third === undefined) {
    return {
      GET: route("GetSecret", (r) => getSecret(r, name(rawName), undefined)),
      PUT: route("SetSecret", (r) => setSecret(r, name(rawName))),
      PATCH: route("UpdateSecret", (r) => updateSecret(r, name(rawName), undefined)),
      DELETE: route("DeleteSecret", (r) => deleteSecret(r, name(rawName))),
    };
  }
  // The SDK asks for the current version as `/secrets/{name}/` (an empty version segment).
  const version = third === "" ? undefined : third;
  return {
    GET: route("GetSecret", (r) => getSecret(r, name(rawName), version)),
    PATCH: route("UpdateSecret", (r) => updateSecret(r, name(rawName), version)),
  };
}

function deletedSecretResource(rawName: string | undefined, third: string | undefined): Record<string, VaultRoute> | undefined {
  if (rawName === undefined || rawName === "") {
    return third === undefined ? { GET: route("GetDeletedSecrets", listDeletedSecrets) } : undefined;
  }
  if (third === "recover") return { POST: route("RecoverDeletedSecret", (r) => recoverSecret(r, name(rawName))) };
  if (third !== undefined) return undefined;
  return {
    GET: route("GetDeletedSecret", (r) => getDeletedSecret(r, name(rawName))),
    DELETE: route("PurgeDeletedSecret", (r) => purgeSecret(r, name(rawName))),
  };
}

function setSecret({ store, vault, body }: VaultRequest, secretName: string): JsonResponse {
  const input = parseSetSecret(parseJsonObject(body));
  const { secret, version } = store.set(secretName, input);
  return ok(secretBundle(vault, secret, version, true));
}

function getSecret({ store, vault }: VaultRequest, secretName: string, version: string | undefined): JsonResponse {
  const ref = store.get(secretName, version);
  return ok(secretBundle(vault, ref.secret, ref.version, true));
}

function updateSecret(
  { store, vault, body }: VaultRequest,
  secretName: string,
  version: string | undefined,
): JsonResponse {
  const input = parseVersionInput(parseJsonObject(body));
  const ref = store.update(secretName, version, input);
  // The value is not returned by an update, like the service's UpdateSecret response.
  return ok(secretBundle(vault, ref.secret, ref.version, false));
}

function deleteSecret({ store, vault }: VaultRequest, secretName: string): JsonResponse {
  return ok(deletedSecretBundle(vault, store.delete(secretName)));
}

function listSecrets({ store, vault, query }: VaultRequest): JsonResponse {
  const page = paginate(
    {
      items: store.list(),
      keyOf: (secret) => secret.name.toLowerCase(),
      render: (secret) => secretItem(vault, secret, currentVersion(secret), false),
    },
    query,
    `${vault.vaultUrl}/secrets`,
    vault.emptyPageEvery,
  );
  return ok(page);
}

function listVersions({ store, vault, query }: VaultRequest, secretName: string): JsonResponse {
  const found = store.versions(secretName);
  // Key Vault lists versions by version id, not by creation (the skip tokens of the SDK's recording
  // "can retrieve all versions of a secret by page" carry the id; a newer version may come first or
  // last), so clients must not take list order for age.
  const page = paginate(
    {
      items: found === undefined ? [] : found.versions.map((version) => ({ secret: found.secret, version })).sort(byVersionId),
      keyOf: (item) => item.version.version,
      render: (item) => secretItem(vault, item.secret, item.version, true),
    },
    query,
    `${vault.vaultUrl}/secrets/${found?.secret.name ?? secretName}/versions`,
    vault.emptyPageEvery,
  );
  return ok(page);
}

function byVersionId(a: { version: SecretVersionRecord }, b: { version: SecretVersionRecord }): number {
  return compare(a.version.version, b.version.version);
}

function listDeletedSecrets({ store, vault, query }: VaultRequest): JsonResponse {
  const page = paginate(
    {
      items: store.listDeleted(),
      keyOf: (record) => record.secret.name.toLowerCase(),
      render: (record) => deletedSecretItem(vault, record),
    },
    query,
    `${vault.vaultUrl}/deletedsecrets`,
    vault.emptyPageEvery,
  );
  return ok(page);
}

function getDeletedSecret({ store, vault }: VaultRequest, secretName: string): JsonResponse {
  return ok(deletedSecretBundle(vault, store.getDeleted(secretName)));
}

function recoverSecret({ store, vault }: VaultRequest, secretName: string): JsonResponse {
  const { secret, version } = store.recover(secretName);
  return ok(secretBundle(vault, secret, version, false));
}

function purgeSecret({ store }: VaultRequest, secretName: string): JsonResponse {
  store.purge(secretName);
  return { status: 204 };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function route(operation: string, run: (request: VaultRequest) => JsonResponse): VaultRoute {
  return { operation, run };
}

function ok(body: unknown): JsonResponse {
  return { status: 200, body };
}

/** Decodes and validates a name path segment; a bad escape is an invalid name like any other. */
function name(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw invalidName(raw);
  }
  return checkName(decoded);
}
