import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import type { CredentialChain } from "./chain.ts";
import type { AwsCredentials } from "./web-identity.ts";

/** An AWS SDK credential provider backed by a chain, plus the handles an operator or test needs. */
export type ChainedAwsCredentials = AwsCredentialIdentityProvider & {
  /** Drops the memoised credentials (e.g. after an ExpiredToken answer); the next call walks the chain. */
  invalidate(): void;
  readonly chain: CredentialChain<void, AwsCredentials>;
};

/**
 * The chain as an AWS SDK `credentials` option. The SDK calls the provider before every request
 * once the credentials are within five minutes of expiry; the chain's cache answers those calls,
 * so STS is still asked once per lifetime.
 */
export function chainedAwsCredentials(chain: CredentialChain<void, AwsCredentials>): ChainedAwsCredentials {
  const provider = async (): Promise<AwsCredentialIdentity> => {
    const { expiresAt: _expiresAt, ...credentials } = await chain.get(undefined);
    return credentials;
  };
  return Object.assign(provider, { invalidate: () => chain.invalidate(), chain });
}
