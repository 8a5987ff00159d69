import {
  InvalidRequestException,
  ResourceExistsException,
  ResourceNotFoundException,
  type SecretsManagerServiceException,
} from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { createLogger, sensitive } from "@credmesh/logging";
import { SecretsManagerVault, type SecretsManagerApi } from "./secrets-manager-vault.ts";

type Reply = Record<string, unknown> | SecretsManagerServiceException;

/**
 * A fake of the SDK slice: answers each command by its name from `replies` (a function of the
 * input), records every call, and throws an answer that is an SDK exception.
 */
function fakeApi(replies: Record<string, (input: Record<string, unknown>) => Reply>) {
  const calls: Array<{ command: string; input: Record<string, unknown>; signal: AbortSignal | undefined }> = [];
  const api = {
    async send(command: { input: Record<string, unknown> }, options?: { abortSignal?: AbortSignal }) {
      const name = command.constructor.name.replace(/Command$/, "");
      calls.push({ command: name, input: command.input, signal: options?.abortSignal });
      const reply = replies[name];
      if (!reply) throw new Error(`unexpected ${name}`);
      const answer = reply(command.input);
      if (answer instanceof Error) throw answer;
      return { $metadata: { httpStatusCode: 200 }, ...answer };
    },
  };
  return { api: api as unknown as SecretsManagerApi, calls };
}

const meta = { $metadata: { httpStatusCode: 400 } };
const ctx = { logger: createLogger({ service: "test", level: "silent" }) };
const TOKEN = "0123456789abcdef0123456789abcdef";
const ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-Xa9TqZ";

describe("SecretsManagerVault.get", () => {
  it("returns a binary value as base64, marked as such", async () => {
    const { api } = fakeApi({
      GetSecretValue: () => ({ Name: "prod/cert", VersionId: "v1", SecretBinary: new Uint8Array([0, 1, 2, 253, 254, 255]) }),
    });
    const version = await new SecretsManagerVault(api).get("prod/cert", ctx);
    expect(version?.encoding).toBe("base64");
    expect(version?.value.reveal()).toBe("AAEC/f7/");
    expect(Buffer.from(version?.value.reveal() ?? "", "base64")).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));
  });

  it("returns a string value as utf8 with its name, version and creation time", async () => {
    const created = new Date("2025-06-01T12:00:00Z");
    const { api } = fakeApi({
      GetSecretValue: () => ({ Name: "prod/db", VersionId: "v2", SecretString: '{"password":"p"}', CreatedDate: created }),
    });
    const version = await new SecretsManagerVault(api).get(ARN, ctx);
    expect(version).toMatchObject({ name: "prod/db", versionId: "v2", encoding: "utf8", createdAt: created });
    expect(version?.value.reveal()).toBe('{"password":"p"}');
  });

  it("asks for AWSCURRENT by default and for the version when one is given", async () => {
    const { api, calls } = fakeApi({ GetSecretValue: (input) => ({ Name: "prod/db", VersionId: "v", SecretString: "s", ...input }) });
    const vault = new SecretsManagerVault(api);
    await vault.get("prod/db", ctx);
    await vault.get("prod/db", ctx, { versionId: TOKEN });
    expect(calls.map((call) => call.input)).toStrictEqual([
      { SecretId: "prod/db", VersionStage: "AWSCURRENT" },
      { SecretId: "prod/db", VersionId: TOKEN },
    ]);
  });

  it("reads a missing secret as absent", async () => {
    const { api } = fakeApi({ GetSecretValue: () => new ResourceNotFoundException({ message: "not found", ...meta }) });
    await expect(new SecretsManagerVault(api).get("prod/db", ctx)).resolves.toBeUndefined();
  });

  it("does not swallow InvalidRequestException (a secret scheduled for deletion) as absent", async () => {
    const { api } = fakeApi({
      GetSecretValue: () =>
        new InvalidRequestException({ message: "You can't perform this operation on the secret because it was marked for deletion.", ...meta }),
    });
    await expect(new SecretsManagerVault(api).get("prod/db", ctx)).rejects.toMatchObject({
      reason: "validation",
      code: "InvalidRequestException",
      retryable: false,
    });
  });

  it("passes the context's deadline to the SDK", async () => {
    const { api, calls } = fakeApi({ GetSecretValue: () => ({ Name: "n", VersionId: "v", SecretString: "s" }) });
    const signal = AbortSignal.timeout(60_000);
    await new SecretsManagerVault(api).get("prod/db", { ...ctx, signal });
    expect(calls[0]?.signal).toBe(signal);
  });
});

describe("SecretsManagerVault.put", () => {
  it("creates the secret with its tags and the write stamp as ClientRequestToken", async () => {
    const { api, calls } = fakeApi({ CreateSecret: (input) => ({ VersionId: input["ClientRequestToken"] }) });
    const result = await new SecretsManagerVault(api).put("prod/db", sensitive("s3cret"), { tags: { "managed-by": "credmesh" }, stamp: TOKEN }, ctx);
    expect(result).toStrictEqual({ versionId: TOKEN });
    expect(calls).toMatchObject([
      {
        command: "CreateSecret",
        input: { Name: "prod/db", SecretString: "s3cret", Tags: [{ Key: "managed-by", Value: "credmesh" }], ClientRequestToken: TOKEN },
      },
    ]);
  });

  it("adds a version with PutSecretValue, same token, when the secret already exists", async () => {
    const { api, calls } = fakeApi({
      CreateSecret: () => new ResourceExistsException({ message: "exists", ...meta }),
      PutSecretValue: (input) => ({ VersionId: input["ClientRequestToken"] }),
    });
    const result = await new SecretsManagerVault(api).put("prod/db", sensitive("s3cret"), { tags: {}, stamp: TOKEN }, ctx);
    expect(result).toStrictEqual({ versionId: TOKEN });
    expect(calls.map((call) => call.command)).toEqual(["CreateSecret", "PutSecretValue"]);
    expect(calls[1]?.input).toStrictEqual({ SecretId: "prod/db", SecretString: "s3cret", ClientRequestToken: TOKEN });
  });

  it("adds a version of a secret the caller read with one PutSecretValue, and no TagResource while the tags are unchanged", async () => {
    const { api, calls } = fakeApi({ PutSecretValue: (input) => ({ VersionId: input["ClientRequestToken"] }) });
    const tags = { "managed-by": "credmesh", "credmesh-rule": "r" };
    const result = await new SecretsManagerVault(api).put("prod/db", sensitive("s3cret"), { tags, versionTags: { "credmesh-origin-version": "v2" }, stamp: TOKEN, existing: { tags } }, ctx);
    expect(result).toStrictEqual({ versionId: TOKEN });
    expect(calls.map((call) => call.command)).toEqual(["PutSecretValue"]);
  });

  it("creates a secret the caller read that was force-deleted since", async () => {
    const { api, calls } = fakeApi({
      PutSecretValue: () => new ResourceNotFoundException({ message: "gone", ...meta }),
      CreateSecret: (input) => ({ VersionId: input["ClientRequestToken"] }),
    });
    const result = await new SecretsManagerVault(api).put("prod/db", sensitive("s3cret"), { tags: {}, stamp: TOKEN, existing: { tags: {} } }, ctx);
    expect(result).toStrictEqual({ versionId: TOKEN });
    expect(calls.map((call) => call.command)).toEqual(["PutSecretValue", "CreateSecret"]);
  });

  it("rewrites the tags of a secret the caller read when they changed (never the per-version ones)", async () => {
    const { api, calls } = fakeApi({ PutSecretValue: (input) => ({ VersionId: input["ClientRequestToken"] }), TagResource: () => ({}) });
    await new SecretsManagerVault(api).put(
      "prod/db",
      sensitive("s3cret"),
      { tags: { "managed-by": "credmesh" }, versionTags: { "credmesh-origin-version": "v2" }, stamp: TOKEN, existing: { tags: {} } },
      ctx,
    );
    expect(calls.map((call) => call.command)).toEqual(["PutSecretValue", "TagResource"]);
    expect(calls[1]?.input).toStrictEqual({ SecretId: "prod/db", Tags: [{ Key: "managed-by", Value: "credmesh" }] });
  });

  it("sends no ClientRequestToken without a stamp and returns the SDK's version", async () => {
    const { api, calls } = fakeApi({
      CreateSecret: () => new ResourceExistsException({ message: "exists", ...meta }),
      PutSecretValue: () => ({ VersionId: "sdk-made-version" }),
    });
    const result = await new SecretsManagerVault(api).put("prod/db", sensitive("s"), { tags: {} }, ctx);
    expect(result).toStrictEqual({ versionId: "sdk-made-version" });
    for (const call of calls) expect(call.input).not.toHaveProperty("ClientRequestToken");
  });

  it("writes a base64 value as SecretBinary bytes", async () => {
    const { api, calls } = fakeApi({ CreateSecret: () => ({ VersionId: "v1" }) });
    await new SecretsManagerVault(api).put("prod/cert", sensitive("AAEC/f7/"), { tags: {}, encoding: "base64" }, ctx);
    expect(calls[0]?.input["SecretBinary"]).toEqual(Buffer.from([0, 1, 2, 253, 254, 255]));
    expect(calls[0]?.input).not.toHaveProperty("SecretString");
  });

  it("does not fall back to PutSecretValue on other failures", async () => {
    const { api, calls } = fakeApi({
      CreateSecret: () =>
        new InvalidRequestException({ message: "already scheduled for deletion", ...meta }),
    });
    await expect(new SecretsManagerVault(api).put("prod/db", sensitive("s"), { tags: {} }, ctx)).rejects.toMatchObject({ reason: "validation" });
    expect(calls.map((call) => call.command)).toEqual(["CreateSecret"]);
  });
});

describe("SecretsManagerVault.describe / delete / restore", () => {
  it("describes the current version, tags and ARN without reading the value", async () => {
    const { api, calls } = fakeApi({
      DescribeSecret: () => ({
        ARN,
        Name: "prod/db",
        VersionIdsToStages: { old: ["AWSPREVIOUS"], cur: ["AWSCURRENT"] },
        Tags: [{ Key: "managed-by", Value: "credmesh" }],
      }),
    });
    expect(await new SecretsManagerVault(api).describe("prod/db", ctx)).toStrictEqual({
      name: "prod/db",
      state: "active",
      id: ARN,
      currentVersionId: "cur",
      currentStamp: "cur",
      tags: { "managed-by": "credmesh" },
    });
    expect(calls.map((call) => call.command)).toEqual(["DescribeSecret"]);
  });

  it("describes a secret scheduled for deletion as deleted", async () => {
    const deletedDate = new Date("2025-07-01T00:00:00Z");
    const { api } = fakeApi({ DescribeSecret: () => ({ ARN, Name: "prod/db", DeletedDate: deletedDate }) });
    expect(await new SecretsManagerVault(api).describe("prod/db", ctx)).toMatchObject({ state: "deleted", deletedAt: deletedDate });
  });

  it("describes a missing secret as absent", async () => {
    const { api } = fakeApi({ DescribeSecret: () => new ResourceNotFoundException({ message: "x", ...meta }) });
    expect(await new SecretsManagerVault(api).describe("prod/db", ctx)).toStrictEqual({ name: "prod/db", state: "absent", tags: {} });
  });

  it("deletes recoverably within AWS's 7–30 day window", async () => {
    const { api, calls } = fakeApi({ DeleteSecret: () => ({}) });
    const vault = new SecretsManagerVault(api);
    await vault.delete("prod/db", { mode: "recoverable" }, ctx);
    await vault.delete("prod/db", { mode: "recoverable", recoveryWindowDays: 1 }, ctx);
    await vault.delete("prod/db", { mode: "recoverable", recoveryWindowDays: 90 }, ctx);
    expect(calls.map((call) => call.input["RecoveryWindowInDays"])).toEqual([30, 7, 30]);
  });

  it("force-deletes only when asked", async () => {
    const { api, calls } = fakeApi({ DeleteSecret: () => ({}) });
    await new SecretsManagerVault(api).delete("prod/db", { mode: "force" }, ctx);
    expect(calls[0]?.input).toStrictEqual({ SecretId: "prod/db", ForceDeleteWithoutRecovery: true });
  });

  it("treats deleting a missing secret as success", async () => {
    const { api } = fakeApi({ DeleteSecret: () => new ResourceNotFoundException({ message: "x", ...meta }) });
    await expect(new SecretsManagerVault(api).delete("prod/db", { mode: "recoverable" }, ctx)).resolves.toEqual({ purged: false });
  });

  it("restores with RestoreSecret", async () => {
    const { api, calls } = fakeApi({ RestoreSecret: () => ({ ARN, Name: "prod/db" }) });
    await new SecretsManagerVault(api).restore(ARN, ctx);
    expect(calls).toMatchObject([{ command: "RestoreSecret", input: { SecretId: ARN } }]);
  });
});
