import type { SecretClient } from "@azure/keyvault-secrets";
import { CredmeshError } from "@credmesh/errors";
import type { Logger } from "@credmesh/logging";
import { KeyVaultVault, createKeyVaultClient, type CallMetrics } from "@credmesh/vault/adapters";
import { silentLogger } from "./aws-provider.ts";
import { azureTokenCredential, type AzureCredentialSource } from "./credentials.ts";
import type { ProvidedSecret, ProvidedVersion, ProviderContext, SecretProvider } from "./provider.ts";

export interface KeyVaultProviderOptions {
  /** https://<vault>.vault.azure.net */
  vaultUrl: string;
  /** How tokens for Key Vault are obtained; default `DefaultAzureCredential`. */
  credential?: AzureCredentialSource | undefined;
  /** Extra CA bundle to trust (private CA, emulator); verification stays on. */
  caFile?: string | undefined;
  /** Emulators on 127.0.0.1 only: accept a challenge whose resource is not *.vault.azure.net. */
  disableChallengeResourceVerification?: boolean | undefined;
}

/**
 * Azure Key Vault behind the {@link SecretProvider} port, on the replicator's adapter
 * (`@credmesh/vault`) without its rate limiting. The SDK's own retries are off.
 */
export class KeyVaultProvider implements SecretProvider {
  readonly cloud = "azure" as const;
  readonly location: string;
  readonly #client: SecretClient;
  readonly #vault: KeyVaultVault;
  readonly #logger: Logger;

  constructor(options: KeyVaultProviderOptions, deps: { metrics?: CallMetrics; logger?: Logger } = {}) {
    this.location = options.vaultUrl;
    this.#client = createKeyVaultClient({
      vaultUrl: options.vaultUrl,
      credential: azureTokenCredential(options.credential ?? { type: "default" }, options.caFile),
      ...(options.caFile ? { caFile: options.caFile } : {}),
      disableChallengeResourceVerification: options.disableChallengeResourceVerification ?? false,
    });
    this.#vault = new KeyVaultVault(this.#client, deps.metrics ? { metrics: deps.metrics } : {});
    this.#logger = deps.logger ?? silentLogger();
  }

  async get(name: string, ctx: ProviderContext, options: { versionId?: string } = {}): Promise<ProvidedSecret> {
    const version = await this.#vault.get(name, { logger: this.#logger, signal: ctx.signal }, options.versionId ? { versionId: options.versionId } : {});
    if (!version) throw new CredmeshError("not_found", `keyvault secret ${name} not found`, { code: "SecretNotFound" });
    return {
      name: version.name,
      versionId: version.versionId,
      value: version.value,
      encoding: version.encoding,
      createdAt: version.createdAt,
      tags: version.tags,
    };
  }

  /** Key Vault tells the current version only with its value: one GetSecret, which is the read. */
  async currentVersion(name: string, ctx: ProviderContext): Promise<ProvidedVersion> {
    const secret = await this.get(name, ctx);
    return { versionId: secret.versionId, tags: secret.tags ?? {}, secret };
  }

  close(): void {
    // The Azure SDK's HTTP client keeps no handle open beyond its keep-alive sockets.
  }
}
