import { SecretsManagerServiceException } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { createLogger } from "@credmesh/logging";
import type { ListedSecret } from "../port.ts";
import { SecretsManagerVault, type SecretsManagerApi } from "./secrets-manager-vault.ts";

const ctx = { logger: createLogger({ service: "test", level: "silent" }) };
const ARN = (name: string): string => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-Ab12Cd`;

/** A fake ListSecrets answering `pages` in order, recording each request's input. */
function listingApi(pages: Array<Record<string, unknown> | Error>) {
  const inputs: Array<Record<string, unknown>> = [];
  const api = {
    async send(command: { input: Record<string, unknown> }) {
      if (command.constructor.name !== "ListSecretsCommand") throw new Error(`unexpected ${command.constructor.name}`);
      inputs.push(command.input);
      const page = pages[inputs.length - 1];
      if (page === undefined) throw new Error("no more pages");
      if (page instanceof Error) throw page;
      return { $metadata: { httpStatusCode: 200 }, ...page };
    },
  };
  return { api: api as unknown as SecretsManagerApi, inputs };
}

async function collect(vault: SecretsManagerVault, options = {}): Promise<ListedSecret[]> {
  const listed: ListedSecret[] = [];
  for await (const secret of vault.list(ctx, options)) listed.push(secret);
  return listed;
}

describe("SecretsManagerVault.list", () => {
  it("follows NextToken, includes secrets scheduled for deletion and reads AWSCURRENT, tags and dates", async () => {
    const created = new Date("2025-06-01T12:00:00Z");
    const deleted = new Date("2025-06-02T12:00:00Z");
    const { api, inputs } = listingApi([
      {
        SecretList: [
          {
            ARN: ARN("prod/a"),
            Name: "prod/a",
            CreatedDate: created,
            SecretVersionsToStages: { old: ["AWSPREVIOUS"], cur: ["AWSCURRENT", "custom"] },
            Tags: [{ Key: "managed-by", Value: "credmesh" }],
          },
        ],
        NextToken: "page-2",
      },
      { SecretList: [{ ARN: ARN("prod/b"), Name: "prod/b", DeletedDate: deleted, SecretVersionsToStages: { v1: ["AWSCURRENT"] } }] },
    ]);
    const listed = await collect(new SecretsManagerVault(api), { pageSize: 500 });
    expect(inputs).toStrictEqual([
      { IncludePlannedDeletion: true, MaxResults: 100 },
      { IncludePlannedDeletion: true, MaxResults: 100, NextToken: "page-2" },
    ]);
    expect(listed).toStrictEqual([
      { name: "prod/a", state: "active", id: ARN("prod/a"), currentVersionId: "cur", currentStamp: "cur", tags: { "managed-by": "credmesh" }, createdAt: created },
      { name: "prod/b", state: "deleted", id: ARN("prod/b"), currentVersionId: "v1", currentStamp: "v1", tags: {}, deletedAt: deleted },
    ]);
  });

  it("filters by name prefix, case-sensitively, and leaves deleted secrets out when asked", async () => {
    const { api, inputs } = listingApi([
      {
        SecretList: [
          { ARN: ARN("prod/a"), Name: "prod/a" },
          { ARN: ARN("Prod/b"), Name: "Prod/b" },
          { ARN: ARN("prod/c"), Name: "prod/c", DeletedDate: new Date() },
        ],
      },
    ]);
    const listed = await collect(new SecretsManagerVault(api), { namePrefix: "prod/", includeDeleted: false });
    expect(listed.map((secret) => secret.name)).toEqual(["prod/a"]);
    expect(inputs[0]).toMatchObject({ IncludePlannedDeletion: false });
  });

  it("fails the listing with the classified error of a throttled page", async () => {
    const throttled = new SecretsManagerServiceException({
      name: "ThrottlingException",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message: "Rate exceeded",
    });
    const { api } = listingApi([{ SecretList: [{ ARN: ARN("prod/a"), Name: "prod/a" }], NextToken: "t" }, throttled]);
    await expect(collect(new SecretsManagerVault(api))).rejects.toMatchObject({ reason: "throttled", retryable: true });
  });
});
