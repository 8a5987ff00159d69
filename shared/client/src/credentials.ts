import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import {
  AZURE_TOKEN_EXCHANGE_AUDIENCE,
  DEFAULT_IMDS_ENDPOINT,
  ManagedIdentityTokenSource,
  clientAssertionCredential,
  managedIdentityCredential,
  tokenFromFile,
  webIdentityCredentials,
} from "@credmesh/identity";

/**
 * Where the AWS adapter gets credentials. No static key: the SDK's default chain (environment,
 * IRSA web identity, ECS/EC2 roles, SSO on a laptop), or the cells' federated identities built on
 * `@credmesh/identity` — an Azure managed identity exchanged with STS, or a projected token file.
 */
export type AwsCredentialSource =
  | { type: "default" }
  | {
      /** A workload in Azure: its managed identity's token (audience api://AzureADTokenExchange) → STS AssumeRoleWithWebIdentity. */
      type: "azure-managed-identity";
      roleArn: string;
      /** Role session name, visible in CloudTrail; default `credmesh-client`. */
      sessionName?: string | undefined;
      /** User-assigned identity's client id; the system-assigned one when omitted. */
      clientId?: string | undefined;
      /** IMDS-compatible token endpoint; default Azure's. */
      identityEndpoint?: string | undefined;
      audience?: string | undefined;
      durationSeconds?: number | undefined;
      stsRegion?: string | undefined;
      /** STS endpoint override, emulators only. */
      stsEndpoint?: string | undefined;
    }
  | {
      /** A projected service-account token (EKS/IRSA-style) → STS AssumeRoleWithWebIdentity. Re-read when rotated. */
      type: "web-identity-token-file";
      roleArn: string;
      tokenFile: string;
      sessionName?: string | undefined;
      durationSeconds?: number | undefined;
      stsRegion?: string | undefined;
      stsEndpoint?: string | undefined;
    };

/**
 * Where the Key Vault adapter gets tokens: `DefaultAzureCredential`, the managed identity (IMDS),
 * or a federated client assertion from a projected token file (a workload outside Azure).
 */
export type AzureCredentialSource =
  | { type: "default" }
  | { type: "managed-identity"; clientId?: string | undefined; endpoint?: string | undefined }
  | {
      type: "client-assertion";
      tenantId: string;
      clientId: string;
      tokenFile: string;
      /** Entra authority host (sovereign clouds, emulators); default https://login.microsoftonline.com. */
      authorityHost?: string | undefined;
    };

const DEFAULT_SESSION = "credmesh-client";
const DEFAULT_DURATION_SECONDS = 3600;

/** The SDK `credentials` option for `source`; undefined leaves the SDK's default chain in charge. */
export function awsCredentialProvider(source: AwsCredentialSource, region: string): AwsCredentialIdentityProvider | undefined {
  switch (source.type) {
    case "default":
      return undefined;
    case "azure-managed-identity": {
      const identity = new ManagedIdentityTokenSource({
        endpoint: source.identityEndpoint ?? DEFAULT_IMDS_ENDPOINT,
        ...(source.clientId ? { clientId: source.clientId } : {}),
      });
      const audience = source.audience ?? AZURE_TOKEN_EXCHANGE_AUDIENCE;
      return webIdentityCredentials(stsSettings(source, region), async () => (await identity.getToken(audience)).token);
    }
    case "web-identity-token-file":
      return webIdentityCredentials(stsSettings(source, region), tokenFromFile(source.tokenFile, { what: "AWS web identity token file" }));
  }
}

function stsSettings(
  source: { roleArn: string; sessionName?: string | undefined; durationSeconds?: number | undefined; stsRegion?: string | undefined; stsEndpoint?: string | undefined },
  region: string,
) {
  return {
    roleArn: source.roleArn,
    sessionName: source.sessionName ?? DEFAULT_SESSION,
    durationSeconds: source.durationSeconds ?? DEFAULT_DURATION_SECONDS,
    region: source.stsRegion ?? region,
    ...(source.stsEndpoint ? { endpoint: source.stsEndpoint } : {}),
  };
}

/** The Azure SDK credential for `source`. `caFile` is trusted for the Entra authority too. */
export function azureTokenCredential(source: AzureCredentialSource, caFile?: string): TokenCredential {
  switch (source.type) {
    case "default":
      return new DefaultAzureCredential();
    case "managed-identity":
      return managedIdentityCredential(
        new ManagedIdentityTokenSource({ endpoint: source.endpoint ?? DEFAULT_IMDS_ENDPOINT, ...(source.clientId ? { clientId: source.clientId } : {}) }),
      );
    case "client-assertion":
      return clientAssertionCredential({
        tenantId: source.tenantId,
        clientId: source.clientId,
        tokenFile: source.tokenFile,
        ...(source.authorityHost ? { authorityHost: source.authorityHost } : {}),
        ...(caFile ? { caFile } : {}),
      });
  }
}
