import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { CredmeshError } from "@credmesh/errors";
import type { ChainSource, CredentialChain } from "./chain.ts";
import { accessTokenOf, tokenCacheKey, tokenRequestOf, type AzureAccessToken, type AzureTokenRequest } from "./client-assertion.ts";
import type { ManagedIdentityTokenSource } from "./managed-identity.ts";

/** An Azure SDK TokenCredential backed by a chain, plus the handles an operator or test needs. */
export type ChainedTokenCredential = TokenCredential & {
  /** Drops memoised access tokens (e.g. after Key Vault rejected one). */
  invalidate(): void;
  readonly chain: CredentialChain<AzureTokenRequest, AzureAccessToken>;
};

/**
 * The chain as an Azure SDK `TokenCredential`. Tokens are memoised per scope, tenant and CAE
 * capability; a claims challenge walks the chain without the cache, since it asks for a token
 * that satisfies new claims.
 */
export function chainedTokenCredential(chain: CredentialChain<AzureTokenRequest, AzureAccessToken>): ChainedTokenCredential {
  return {
    chain,
    invalidate: () => chain.invalidate(),
    async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
      const request = tokenRequestOf(scopes, options);
      const token = request.claims !== undefined ? await chain.resolve(request) : await chain.get(request, tokenCacheKey(request));
      return accessTokenOf(token);
    },
  };
}

/**
 * The managed identity (IMDS) as a chain source: an SDK scope `<resource>/.default` becomes the
 * IMDS `resource`. IMDS has no tenant or claims parameters; it serves its own identity's tenant.
 */
export function managedIdentitySource(identity: ManagedIdentityTokenSource, name = "managed-identity"): ChainSource<AzureTokenRequest, AzureAccessToken> {
  return {
    name,
    async fetch(request) {
      const scope = request.scopes[0];
      if (scope === undefined) throw new CredmeshError("configuration", "no scope requested");
      const token = await identity.fetchToken(scope.replace(/\/\.default$/, ""));
      return { token: token.token, expiresAt: token.expiresAt };
    },
  };
}
