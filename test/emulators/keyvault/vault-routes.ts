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
import { paginate } from "./paging.ts";
import type { SecretStore } from "./store.ts";
import { checkName, parseJsonObject, parseSetSecret, parseVersionInput } from "./validation.ts";

/** What a resolved operation runs against. */
export interface VaultRequest {
  readonly store: SecretStore;
  readonly vault: VaultContext;
  readonly query: URLSearchParams;
  /** The raw request body ("" when there is none). */
  readonly body: string;
}

/** A matched secrets operation, named by its REST operation id (used for request statistics). */
export interface VaultRoute {
  readonly operation: string;
  readonly run: (request: VaultRequest) => JsonResponse;
}

/** Matches `method` and the URL path segments to an operation, or returns undefined for unknown routes. */
export function resolveVaultRoute(method: string, segments: readonly string[]): VaultRoute | undefined {
  const [collection, rawName, third, ...rest] = segments;
  if (rest.length > 0) return undefined;
  if (collection === "secrets") return secretsRoute(method, rawName, third);
  if (collection === "deletedsecrets") return deletedSecretsRoute(method, rawName, third);
  return undefined;
}

function secretsRoute(method: string, rawName: string | undefined, third: string | undefined): VaultRoute | undefined {
  if (rawName === undefined || rawName === "") {
    return third === undefined && method === "GET" ? route("GetSecrets", listSecrets) : undefined;
  }
  // The SDK asks for the current version as `/secrets/{name}/` (an empty version segment).
  const version = third === undefined || third === "" ? undefined : third;
  if (version === "versions") {
    return method === "GET" ? route("GetSecretVersions", (r) => listVersions(r, name(rawName))) : undefined;
  }
  switch (method) {
    case "GET":
      return route("GetSecret", (r) => getSecret(r, name(rawName), version));
    case "PATCH":
      return route("UpdateSecret", (r) => updateSecret(r, name(rawName), version));
    case "PUT":
      return third === undefined ? route("SetSecret", (r) => setSecret(r, name(rawName))) : undefined;
    case "DELETE":
      return third === undefined ? route("DeleteSecret", (r) => deleteSecret(r, name(rawName))) : undefined;
    default:
      return undefined;
  }
}

function deletedSecretsRoute(
  method: string,
  rawName: string | undefined,
  third: string | undefined,
): VaultRoute | undefined {
  if (rawName === undefined || rawName === "") {
    return third === undefined && method === "GET" ? route("GetDeletedSecrets", listDeletedSecrets) : undefined;
  }
  if (third === "recover") {
    return method === "POST" ? route("RecoverDeletedSecret", (r) => recoverSecret(r, name(rawName))) : undefined;
  }
  if (third !== undefined) return undefined;
  if (method === "GET") return route("GetDeletedSecret", (r) => getDeletedSecret(r, name(rawName)));
  if (method === "DELETE") return route("PurgeDeletedSecret", (r) => purgeSecret(r, name(rawName)));
  return undefined;
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
  );
  return ok(page);
}

function listVersions({ store, vault, query }: VaultRequest, secretName: string): JsonResponse {
  const { secret, versions } = store.versions(secretName);
  const page = paginate(
    {
      items: versions,
      // Zero-padded so that string order is creation order.
      keyOf: (version) => String(version.sequence).padStart(16, "0"),
      render: (version) => secretItem(vault, secret, version, true),
    },
    query,
    `${vault.vaultUrl}/secrets/${secret.name}/versions`,
  );
  return ok(page);
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
