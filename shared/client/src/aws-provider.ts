import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CredmeshError } from "@credmesh/errors";
import { createLogger, type Logger } from "@credmesh/logging";
import { SecretsManagerVault, type CallMetrics } from "@credmesh/vault/adapters";
import { awsCredentialProvider, type AwsCredentialSource } from "./credentials.ts";
import type { ProvidedSecret, ProvidedVersion, ProviderContext, SecretProvider } from "./provider.ts";

export interface SecretsManagerProviderOptions {
  /** The account that holds the secrets (12 digits): rules and provenance name secrets by it. */
  account: string;
  region: string;
  /** How the SDK gets credentials; default the SDK's own chain. */
  credentials?: AwsCredentialSource | undefined;
  /** Endpoint override, for emulators only. */
  endpoint?: string | undefined;
}

/**
 * AWS Secrets Manager behind the {@link SecretProvider} port, on the same adapter the replicator
 * uses (`@credmesh/vault`: error mapping, call metrics) without its rate limiting. The SDK makes
 * one attempt per call (`maxAttempts: 1`): retries of throttling and failover are the client's.
 */
export class SecretsManagerProvider implements SecretProvider {
  readonly cloud = "aws" as const;
  readonly location: string;
  readonly #client: SecretsManagerClient;
  readonly #vault: SecretsManagerVault;
  readonly #logger: Logger;

  constructor(options: SecretsManagerProviderOptions, deps: { metrics?: CallMetrics; logger?: Logger } = {}) {
    this.location = `aws/${options.account}/${options.region}`;
    const credentials = awsCredentialProvider(options.credentials ?? { type: "default" }, options.region);
    this.#client = new SecretsManagerClient({
      region: options.region,
      maxAttempts: 1,
      ...(credentials ? { credentials } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
    this.#vault = new SecretsManagerVault(this.#client, deps.metrics);
    this.#logger = deps.logger ?? silentLogger();
  }

  async get(name: string, ctx: ProviderContext, options: { versionId?: string } = {}): Promise<ProvidedSecret> {
    const version = await this.#vault.get(name, { logger: this.#logger, signal: ctx.signal }, options.versionId ? { versionId: options.versionId } : {});
    if (!version) throw notFound(name);
    return { name: version.name, versionId: version.versionId, value: version.value, encoding: version.encoding, createdAt: version.createdAt };
  }

  async currentVersion(name: string, ctx: ProviderContext): Promise<ProvidedVersion> {
    const description = await this.#vault.describe(name, { logger: this.#logger, signal: ctx.signal });
    // A secret scheduled for deletion cannot be read: the service's answer is "not found".
    if (description.state !== "active" || !description.currentVersionId) throw notFound(name);
    return { versionId: description.currentVersionId, tags: description.tags };
  }

  close(): void {
    this.#client.destroy();
  }
}

function notFound(name: string): CredmeshError {
  return new CredmeshError("not_found", `secretsmanager secret ${name} not found`, { code: "ResourceNotFoundException" });
}

/** The vault adapters take a logger in their context; the client logs through its own hook instead. */
export function silentLogger(): Logger {
  return createLogger({ service: "credmesh-client", level: "silent" });
}
