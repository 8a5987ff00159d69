import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  TagResourceCommand,
  type CreateSecretCommandOutput,
  type DeleteSecretCommandOutput,
  type DescribeSecretCommandOutput,
  type GetSecretValueCommandOutput,
  type ListSecretsCommandOutput,
  type PutSecretValueCommandOutput,
  type RestoreSecretCommandOutput,
  type TagResourceCommandOutput,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive } from "@credmesh/logging";
import { attemptSignal, observed, type CallMetrics } from "../observed.ts";
import { pagedRequest } from "../paced.ts";
import type {
  DeleteOptions,
  DeleteResult,
  ListOptions,
  ListedSecret,
  PutOptions,
  SecretDescription,
  SecretRead,
  SecretVersion,
  VaultContext,
  VaultPort,
  VersionInfo,
} from "../port.ts";
import { mapAwsError } from "./errors.ts";

/**
 * The slice of the Secrets Manager SDK this adapter uses — an interface, so a fake is trivial.
 * A SecretsManagerClient satisfies it.
 */
export interface SecretsManagerApi {
  send(command: GetSecretValueCommand, options?: { abortSignal?: AbortSignal }): Promise<GetSecretValueCommandOutput>;
  send(command: DescribeSecretCommand, options?: { abortSignal?: AbortSignal }): Promise<DescribeSecretCommandOutput>;
  send(command: CreateSecretCommand, options?: { abortSignal?: AbortSignal }): Promise<CreateSecretCommandOutput>;
  send(command: PutSecretValueCommand, options?: { abortSignal?: AbortSignal }): Promise<PutSecretValueCommandOutput>;
  send(command: DeleteSecretCommand, options?: { abortSignal?: AbortSignal }): Promise<DeleteSecretCommandOutput>;
  send(command: RestoreSecretCommand, options?: { abortSignal?: AbortSignal }): Promise<RestoreSecretCommandOutput>;
  send(command: TagResourceCommand, options?: { abortSignal?: AbortSignal }): Promise<TagResourceCommandOutput>;
  send(command: ListSecretsCommand, options?: { abortSignal?: AbortSignal }): Promise<ListSecretsCommandOutput>;
}

/** Fixed content type marking a value that credmesh stored as base64 of binary data. */
export const BINARY_CONTENT_TYPE = "application/octet-stream;encoding=base64";

/**
 * Secrets Manager behind the vault port. One instance per account and region (a client is
 * regional). `secretId` arguments accept a name or a full ARN, as the API does.
 *
 * Secrets Manager keeps tags per secret, not per version: a write stamp becomes the version's
 * ClientRequestToken (hence its version id, and a repeated write a no-op), per-version tags are
 * not stored, and the secret's tags are rewritten only when they change.
 */
export class SecretsManagerVault implements VaultPort {
  readonly cloud = "aws" as const;
  readonly tagsPerVersion = false;
  readonly #api: SecretsManagerApi | SecretsManagerClient;
  readonly #metrics: CallMetrics | undefined;
  readonly #attemptTimeoutMs: number | undefined;

  /** `attemptTimeoutMs`: each call is aborted (a retryable `timeout`) when it takes longer. */
  constructor(api: SecretsManagerApi | SecretsManagerClient, metrics?: CallMetrics, options: { attemptTimeoutMs?: number } = {}) {
    this.#api = api;
    this.#metrics = metrics;
    this.#attemptTimeoutMs = options.attemptTimeoutMs;
  }

  /**
   * GetSecretValue. A secret scheduled for deletion answers InvalidRequestException
   * (FORMATS.md F); DescribeSecret tells that case apart without reading the message.
   */
  async read(secretId: string, ctx: VaultContext): Promise<SecretRead> {
    try {
      const version = await this.get(secretId, ctx);
      return version ? { state: "active", version } : { state: "absent" };
    } catch (error) {
      if (!(error instanceof CredmeshError) || error.code !== "InvalidRequestException") throw error;
      const described = await this.describe(secretId, ctx);
      if (described.state !== "deleted") throw error;
      return { state: "deleted", description: described };
    }
  }

  async get(secretId: string, ctx: VaultContext, options: { versionId?: string } = {}): Promise<SecretVersion | undefined> {
    const input = options.versionId
      ? { SecretId: secretId, VersionId: options.versionId }
      : { SecretId: secretId, VersionStage: "AWSCURRENT" };
    let output: GetSecretValueCommandOutput;
    try {
      output = await this.#call<GetSecretValueCommandOutput>("GetSecretValue", ctx, () => new GetSecretValueCommand(input));
    } catch (error) {
      if (error instanceof CredmeshError && error.reason === "not_found") return undefined;
      throw error;
    }
    if (!output.VersionId || !output.Name) {
      throw new CredmeshError("unavailable", "secretsmanager GetSecretValue returned no version");
    }
    const binary = output.SecretString === undefined && output.SecretBinary !== undefined;
    const value = binary ? Buffer.from(output.SecretBinary as Uint8Array).toString("base64") : (output.SecretString ?? "");
    return {
      name: output.Name,
      versionId: output.VersionId,
      value: new Sensitive(value),
      encoding: binary ? "base64" : "utf8",
      tags: {},
      ...(output.CreatedDate ? { createdAt: output.CreatedDate } : {}),
      stamp: output.VersionId,
    };
  }

  async describe(secretId: string, ctx: VaultContext): Promise<SecretDescription> {
    let output: DescribeSecretCommandOutput;
    try {
      output = await this.#call<DescribeSecretCommandOutput>("DescribeSecret", ctx, () => new DescribeSecretCommand({ SecretId: secretId }));
    } catch (error) {
      if (error instanceof CredmeshError && error.reason === "not_found") return { name: secretId, state: "absent", tags: {} };
      throw error;
    }
    const current = Object.entries(output.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes("AWSCURRENT"))?.[0];
    const tags = Object.fromEntries((output.Tags ?? []).flatMap((tag) => (tag.Key ? [[tag.Key, tag.Value ?? ""]] : [])));
    return {
      name: output.Name ?? secretId,
      state: output.DeletedDate ? "deleted" : "active",
      ...(output.ARN ? { id: output.ARN } : {}),
      ...(current ? { currentVersionId: current, currentStamp: current } : {}),
      tags,
      ...(output.DeletedDate ? { deletedAt: output.DeletedDate } : {}),
    };
  }

  /**
   * DescribeSecret's labelled versions (AWSCURRENT first, then AWSPREVIOUS, then the rest); no
   * value, no per-version tags. One request, paced as the operation's only page.
   */
  async versions(secretId: string, ctx: VaultContext, limit = 100): Promise<VersionInfo[]> {
    let output: DescribeSecretCommandOutput;
    try {
      output = await pagedRequest(ctx, "versions", () =>
        this.#call<DescribeSecretCommandOutput>("DescribeSecret", ctx, () => new DescribeSecretCommand({ SecretId: secretId })),
      );
    } catch (error) {
      // The port's contract: a secret that does not exist has no versions (as Key Vault answers).
      if (error instanceof CredmeshError && error.reason === "not_found") return [];
      throw error;
    }
    const rank = (stages: string[]): number => (stages.includes("AWSCURRENT") ? 0 : stages.includes("AWSPREVIOUS") ? 1 : 2);
    return Object.entries(output.VersionIdsToStages ?? {})
      .sort(([, a], [, b]) => rank(a) - rank(b))
      .slice(0, limit)
      .map(([versionId]) => ({ versionId, tags: {}, stamp: versionId }));
  }

  /**
   * A new secret: CreateSecret with the tags. An existing one (`options.existing`): PutSecretValue,
   * then TagResource only if the tags changed. Unknown: CreateSecret, and on ResourceExistsException
   * PutSecretValue plus TagResource. The stamp is the ClientRequestToken either way.
   */
  async put(name: string, value: Sensitive<string>, options: PutOptions, ctx: VaultContext): Promise<{ versionId: string }> {
    const payload =
      options.encoding === "base64"
        ? { SecretBinary: Buffer.from(value.reveal(), "base64") }
        : { SecretString: value.reveal() };
    const token = options.stamp;
    const tags = Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value }));
    const create = async (): Promise<{ versionId: string }> => {
      const created = await this.#call<CreateSecretCommandOutput>("CreateSecret", ctx, () =>
        new CreateSecretCommand({ Name: name, ...payload, Tags: tags, ...(token ? { ClientRequestToken: token } : {}) }),
      );
      return { versionId: created.VersionId ?? token ?? "" };
    };
    if (!options.existing) {
      try {
        return await create();
      } catch (error) {
        // ResourceExistsException (validation): the secret exists, so add a version instead.
        if (!(error instanceof CredmeshError) || error.code !== "ResourceExistsException") throw error;
      }
    }
    let put: PutSecretValueCommandOutput;
    try {
      put = await this.#call<PutSecretValueCommandOutput>("PutSecretValue", ctx, () =>
        new PutSecretValueCommand({ SecretId: name, ...payload, ...(token ? { ClientRequestToken: token } : {}) }),
      );
    } catch (error) {
      // Gone since the caller looked (force-deleted): create it.
      if (options.existing && error instanceof CredmeshError && error.reason === "not_found") return create();
      throw error;
    }
    const known = options.existing?.tags;
    const changed = known === undefined || Object.entries(options.tags).some(([key, tagValue]) => known[key] !== tagValue);
    // TagResource overwrites the given keys only.
    if (tags.length > 0 && changed) {
      await this.#call<TagResourceCommandOutput>("TagResource", ctx, () => new TagResourceCommand({ SecretId: name, Tags: tags }));
    }
    return { versionId: put.VersionId ?? token ?? "" };
  }

  async delete(secretId: string, options: DeleteOptions, ctx: VaultContext): Promise<DeleteResult> {
    const input =
      options.mode === "force"
        ? { SecretId: secretId, ForceDeleteWithoutRecovery: true }
        : { SecretId: secretId, RecoveryWindowInDays: Math.min(30, Math.max(7, options.recoveryWindowDays ?? 30)) };
    // ForceDeleteWithoutRecovery cannot be refused for protection: a force delete always purges.
    const done: DeleteResult = { purged: options.mode === "force" };
    try {
      await this.#call("DeleteSecret", ctx, () => new DeleteSecretCommand(input));
      return done;
    } catch (error) {
      if (error instanceof CredmeshError && error.reason === "not_found") return done;
      // A secret already scheduled for deletion answers InvalidRequestException (FORMATS.md F);
      // DescribeSecret tells that case apart without reading the message. Already gone = success.
      if (error instanceof CredmeshError && error.code === "InvalidRequestException") {
        if ((await this.describe(secretId, ctx)).state === "deleted") return { purged: false };
      }
      throw error;
    }
  }

  async restore(secretId: string, ctx: VaultContext): Promise<void> {
    await this.#call("RestoreSecret", ctx, () => new RestoreSecretCommand({ SecretId: secretId }));
  }

  /**
   * ListSecrets, page by page (each page one paced request): names, ARNs, tags and the AWSCURRENT
   * version id, never a value.
   * IncludePlannedDeletion shows secrets scheduled for deletion (DeletedDate set) as deleted.
   * The name prefix is applied here, case-sensitively as Secrets Manager names compare, rather
   * than through the API's `name` filter, whose matching is not a plain prefix comparison.
   */
  async *list(ctx: VaultContext, options: ListOptions = {}): AsyncIterable<ListedSecret> {
    const includeDeleted = options.includeDeleted ?? true;
    const maxResults = Math.min(100, Math.max(1, options.pageSize ?? 100));
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const page = await pagedRequest(ctx, "list", () =>
        this.#call<ListSecretsCommandOutput>("ListSecrets", ctx, () =>
          new ListSecretsCommand({ IncludePlannedDeletion: includeDeleted, MaxResults: maxResults, ...(token ? { NextToken: token } : {}) }),
        ),
      );
      for (const entry of page.SecretList ?? []) {
        if (!entry.Name) continue;
        if (options.namePrefix !== undefined && !entry.Name.startsWith(options.namePrefix)) continue;
        if (entry.DeletedDate && !includeDeleted) continue;
        const current = Object.entries(entry.SecretVersionsToStages ?? {}).find(([, stages]) => stages.includes("AWSCURRENT"))?.[0];
        yield {
          name: entry.Name,
          state: entry.DeletedDate ? "deleted" : "active",
          ...(entry.ARN ? { id: entry.ARN } : {}),
          ...(current ? { currentVersionId: current, currentStamp: current } : {}),
          tags: Object.fromEntries((entry.Tags ?? []).flatMap((tag) => (tag.Key ? [[tag.Key, tag.Value ?? ""]] : []))),
          ...(entry.CreatedDate ? { createdAt: entry.CreatedDate } : {}),
          ...(entry.DeletedDate ? { deletedAt: entry.DeletedDate } : {}),
        };
      }
      nextToken = page.NextToken;
    } while (nextToken);
  }

  async #call<T>(operation: string, ctx: VaultContext, command: () => object): Promise<T> {
    const signal = attemptSignal(ctx.signal, this.#attemptTimeoutMs);
    return observed(this.#metrics, "aws", operation, async () => {
      try {
        const send = this.#api.send.bind(this.#api) as (c: object, o?: { abortSignal?: AbortSignal }) => Promise<T>;
        return await send(command(), signal ? { abortSignal: signal } : undefined);
      } catch (error) {
        throw mapAwsError(operation, error);
      }
    });
  }
}
