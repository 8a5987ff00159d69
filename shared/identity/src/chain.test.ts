import { Writable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { CredmeshError, type ReasonCode } from "@credmesh/errors";
import { Sensitive, createLogger } from "@credmesh/logging";
import { Registry, createMetrics } from "@credmesh/metrics";
import { chainedAwsCredentials } from "./aws-chain.ts";
import { chainedTokenCredential } from "./azure-chain.ts";
import { CredentialChain, unconfiguredSource, type ChainSource } from "./chain.ts";
import type { AzureAccessToken, AzureTokenRequest } from "./client-assertion.ts";
import type { AwsCredentials } from "./web-identity.ts";

const MINUTE = 60_000;
const T0 = Date.parse("2026-01-01T12:00:00Z");

interface Credential {
  from: string;
  serial: number;
  expiresAt: Date;
}

/** A source the test scripts: each fetch takes the next outcome (a reason fails, "ok" succeeds). */
function scripted(name: string, clock: { now: number }, outcomes: Array<ReasonCode | "ok"> = [], lifetimeMs = 60 * MINUTE) {
  let serial = 0;
  const fetch = vi.fn(async (): Promise<Credential> => {
    const outcome = outcomes.shift() ?? "ok";
    if (outcome !== "ok") throw new CredmeshError(outcome, `${name} said ${outcome}`, { code: `${name}-code` });
    serial += 1;
    return { from: name, serial, expiresAt: new Date(clock.now + lifetimeMs) };
  });
  return { source: { name, fetch } satisfies ChainSource<void, Credential>, fetch };
}

function setup(sources: (clock: { now: number }) => ChainSource<void, Credential>[]) {
  const clock = { now: T0 };
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: "test",
    level: "debug",
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
        done();
      },
    }),
  });
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const chain = new CredentialChain(sources(clock), { name: "aws", metrics, logger, now: () => clock.now });
  const attempts = async (): Promise<Record<string, number>> =>
    Object.fromEntries((await metrics.credentialRefreshes.get()).values.map((v) => [`${v.labels["source"]} ${v.labels["outcome"]}`, v.value]));
  const messages = (level: string): string[] => lines.filter((line) => line["level"] === level).map((line) => String(line["msg"]));
  return { chain, clock, lines, metrics, attempts, messages };
}

async function failure(call: Promise<unknown>): Promise<CredmeshError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(CredmeshError);
    return error as CredmeshError;
  }
  throw new Error("expected a failure");
}

describe("CredentialChain", () => {
  it("uses the first source that works, and says so once", async () => {
    let second!: ReturnType<typeof scripted>;
    const { chain, attempts, messages } = setup((clock) => {
      second = scripted("azure-managed-identity", clock);
      return [scripted("web-identity-token-file", clock).source, second.source];
    });
    expect((await chain.get(undefined)).from).toBe("web-identity-token-file");
    await chain.get(undefined);
    expect(chain.winner).toBe("web-identity-token-file");
    expect(second.fetch).not.toHaveBeenCalled();
    expect(await attempts()).toEqual({ "aws/web-identity-token-file success": 1 });
    expect(messages("info")).toEqual(["aws credentials from source web-identity-token-file"]);
  });

  it("moves on past unavailable sources, counting each attempt, and names the skipped ones", async () => {
    const { chain, attempts, lines } = setup((clock) => [
      unconfiguredSource("web-identity-token-file", ["CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"]),
      scripted("roles-anywhere", clock, ["identity_unavailable"]).source,
      scripted("azure-managed-identity", clock).source,
    ]);
    expect((await chain.get(undefined)).from).toBe("azure-managed-identity");
    expect(await attempts()).toEqual({
      "aws/web-identity-token-file identity_unavailable": 1,
      "aws/roles-anywhere identity_unavailable": 1,
      "aws/azure-managed-identity success": 1,
    });
    const chosen = lines.find((line) => line["msg"] === "aws credentials from source azure-managed-identity");
    expect(chosen?.["skipped"]).toEqual([
      { source: "web-identity-token-file", code: "NotConfigured", error: "source web-identity-token-file is not configured (CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE not set)" },
      { source: "roles-anywhere", code: "roles-anywhere-code", error: "roles-anywhere said identity_unavailable" },
    ]);
  });

  it.each<ReasonCode>(["unauthenticated", "access_denied", "configuration", "throttled", "network"])(
    "stops at %s with an error that names the source, and never tries the next one",
    async (reason) => {
      let next!: ReturnType<typeof scripted>;
      const { chain, attempts } = setup((clock) => {
        next = scripted("azure-managed-identity", clock);
        return [scripted("web-identity-token-file", clock, [reason]).source, next.source];
      });
      const error = await failure(chain.get(undefined));
      expect(error.reason).toBe(reason);
      expect(error.code).toBe("web-identity-token-file-code");
      expect(error.message).toBe(`aws credential source web-identity-token-file failed: web-identity-token-file said ${reason}`);
      expect(next.fetch).not.toHaveBeenCalled();
      expect(await attempts()).toEqual({ [`aws/web-identity-token-file ${reason}`]: 1 });
    },
  );

  it("fails as retryable identity_unavailable when no source is available, listing why", async () => {
    const { chain } = setup((clock) => [
      unconfiguredSource("web-identity-token-file", ["CREDMESH_AWS_WEB_IDENTITY_TOKEN_FILE"]),
      scripted("azure-managed-identity", clock, ["identity_unavailable"]).source,
    ]);
    const error = await failure(chain.get(undefined));
    expect(error).toMatchObject({ reason: "identity_unavailable", retryable: true, code: "NoSourceAvailable" });
    expect(error.message).toContain("web-identity-token-file: source web-identity-token-file is not configured");
    expect(error.message).toContain("azure-managed-identity: azure-managed-identity said identity_unavailable");
  });

  it("memoises the winner's credential: one fetch for many concurrent and later callers", async () => {
    let source!: ReturnType<typeof scripted>;
    const { chain, clock } = setup((c) => [(source = scripted("web-identity-token-file", c)).source]);
    await Promise.all(Array.from({ length: 100 }, () => chain.get(undefined)));
    for (let i = 0; i < 100; i += 1) await chain.get(undefined);
    clock.now += 54 * MINUTE;
    await chain.get(undefined);
    expect(source.fetch).toHaveBeenCalledTimes(1);
  });

  it("refreshes before expiry, walking the chain again, and logs only a change of source", async () => {
    const order: string[] = [];
    const { chain, clock, messages } = setup((c) => {
      const file = scripted("web-identity-token-file", c, ["ok", "identity_unavailable", "ok"], 10 * MINUTE);
      const mi = scripted("azure-managed-identity", c, [], 10 * MINUTE);
      for (const s of [file, mi]) {
        const inner = s.fetch.getMockImplementation();
        s.fetch.mockImplementation(async () => {
          order.push(s.source.name);
          return inner ? inner() : Promise.reject(new Error("no implementation"));
        });
      }
      return [file.source, mi.source];
    });
    expect((await chain.get(undefined)).from).toBe("web-identity-token-file");
    // 10 min lifetime: refresh 2 min (20 %) before expiry.
    clock.now += 8 * MINUTE - 1;
    expect((await chain.get(undefined)).serial).toBe(1);
    clock.now += 1;
    expect((await chain.get(undefined)).from).toBe("azure-managed-identity");
    clock.now += 8 * MINUTE;
    expect((await chain.get(undefined)).from).toBe("web-identity-token-file");
    clock.now += 8 * MINUTE;
    expect((await chain.get(undefined)).from).toBe("web-identity-token-file");
    expect(order).toEqual(["web-identity-token-file", "web-identity-token-file", "azure-managed-identity", "web-identity-token-file", "web-identity-token-file"]);
    expect(messages("info")).toEqual(["aws credentials from source web-identity-token-file"]);
    expect(messages("warn")).toEqual([
      "aws credentials now from source azure-managed-identity (was web-identity-token-file)",
      "aws credentials now from source web-identity-token-file (was azure-managed-identity)",
    ]);
  });

  it("keeps serving a still-valid credential when a refresh fails", async () => {
    const { chain, clock, attempts } = setup((c) => [scripted("web-identity-token-file", c, ["ok", "unavailable"], 10 * MINUTE).source]);
    await chain.get(undefined);
    clock.now += 9 * MINUTE;
    expect((await chain.get(undefined)).serial).toBe(1);
    expect((await chain.get(undefined)).serial).toBe(2);
    expect(await attempts()).toEqual({ "aws/web-identity-token-file success": 2, "aws/web-identity-token-file unavailable": 1 });
  });

  it("records the winner's expiry under the chain's label", async () => {
    const { chain, metrics } = setup((c) => [scripted("azure-managed-identity", c).source]);
    await chain.get(undefined);
    expect((await metrics.credentialExpiry.get()).values).toEqual([
      { labels: { source: "aws/azure-managed-identity" }, value: (T0 + 60 * MINUTE) / 1000 },
    ]);
  });

  it("refuses an empty chain and a source listed twice", () => {
    expect(() => new CredentialChain([], { name: "aws" })).toThrow(/has no source/);
    const source = { name: "x", fetch: async () => ({ expiresAt: new Date() }) };
    expect(() => new CredentialChain([source, source], { name: "aws" })).toThrow(/lists x twice/);
  });
});

describe("chainedAwsCredentials", () => {
  it("hands the AWS SDK the winner's keys and expiration, and re-fetches after invalidate()", async () => {
    let serial = 0;
    const source: ChainSource<void, AwsCredentials> = {
      name: "web-identity-token-file",
      fetch: async () => {
        serial += 1;
        const expiration = new Date(Date.now() + 3_600_000);
        return { accessKeyId: `ASIA${serial}`, secretAccessKey: "s", sessionToken: "t", expiration, expiresAt: expiration };
      },
    };
    const provider = chainedAwsCredentials(new CredentialChain([source], { name: "aws" }));
    const first = await provider();
    expect(first).toEqual({ accessKeyId: "ASIA1", secretAccessKey: "s", sessionToken: "t", expiration: expect.any(Date) });
    expect((await provider()).accessKeyId).toBe("ASIA1");
    provider.invalidate();
    expect((await provider()).accessKeyId).toBe("ASIA2");
  });
});

describe("chainedTokenCredential", () => {
  const SCOPE = "https://vault.azure.net/.default";

  it("memoises tokens per scope, tenant and CAE, and walks the chain afresh for a claims challenge", async () => {
    const requests: AzureTokenRequest[] = [];
    const source: ChainSource<AzureTokenRequest, AzureAccessToken> = {
      name: "client-assertion",
      fetch: async (request) => {
        requests.push(request);
        return { token: new Sensitive(`token-${requests.length}`), expiresAt: new Date(Date.now() + 3_600_000) };
      },
    };
    const credential = chainedTokenCredential(new CredentialChain([source], { name: "azure" }));
    expect((await credential.getToken(SCOPE))?.token).toBe("token-1");
    expect((await credential.getToken([SCOPE]))?.token).toBe("token-1");
    expect((await credential.getToken(SCOPE, { tenantId: "t2" }))?.token).toBe("token-2");
    expect((await credential.getToken(SCOPE, { enableCae: true }))?.token).toBe("token-3");
    expect((await credential.getToken(SCOPE, { claims: "{}" }))?.token).toBe("token-4");
    expect((await credential.getToken(SCOPE, { claims: "{}" }))?.token).toBe("token-5");
    expect((await credential.getToken(SCOPE))?.token).toBe("token-1");
    expect(requests.map((r) => [r.tenantId, r.enableCae, r.claims])).toEqual([
      [undefined, undefined, undefined],
      ["t2", undefined, undefined],
      [undefined, true, undefined],
      [undefined, undefined, "{}"],
      [undefined, undefined, "{}"],
    ]);
  });
});
