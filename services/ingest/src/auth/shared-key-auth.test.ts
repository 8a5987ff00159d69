import { describe, expect, it } from "vitest";
import { Sensitive } from "@credmesh/logging";
import { SharedKeyAuthenticator } from "./shared-key-auth.ts";

const OLD = "old-key-0123456789abcdefghijklmnopqrstuv";
const NEW = "new-key-0123456789abcdefghijklmnopqrstuv";

const authenticator = (header = "authorization") => new SharedKeyAuthenticator({ mode: "shared-key", header, keys: [new Sensitive(OLD), new Sensitive(NEW)] });

describe("shared-key authentication", () => {
  it("accepts either configured key as Authorization: Bearer <key> (rotation), or the bare key", async () => {
    for (const authorization of [`Bearer ${OLD}`, `bearer ${NEW}`, NEW]) {
      expect(await authenticator().authenticate({ authorization })).toMatchObject({ ok: true });
    }
    expect(authenticator().challenge).toBe('Bearer realm="credmesh"');
  });

  it("reads a custom delivery header, compared as a whole value", async () => {
    const custom = authenticator("x-credmesh-key");
    expect(await custom.authenticate({ "x-credmesh-key": OLD })).toMatchObject({ ok: true });
    expect(await custom.authenticate({ "x-credmesh-key": `Bearer ${OLD}` })).toMatchObject({ ok: false, failure: "invalid_credentials" });
    expect(await custom.authenticate({ authorization: `Bearer ${OLD}` })).toMatchObject({ ok: false, failure: "missing_credentials" });
    expect(custom.challenge).toBeUndefined();
  });

  it.each([
    ["nothing", {}, "missing_credentials"],
    ["an empty header", { authorization: "" }, "missing_credentials"],
    ["a wrong key", { authorization: "Bearer not-the-key-0123456789abcdefghijklmnop" }, "invalid_credentials"],
    ["a prefix of a key", { authorization: `Bearer ${OLD.slice(0, -1)}` }, "invalid_credentials"],
    ["a key with a suffix", { authorization: `Bearer ${OLD}x` }, "invalid_credentials"],
    ["both keys joined", { authorization: `Bearer ${OLD},${NEW}` }, "invalid_credentials"],
    ["Basic credentials", { authorization: `Basic ${Buffer.from(`eventgrid:${OLD}`).toString("base64")}` }, "invalid_credentials"],
  ])("refuses %s", async (_, headers, failure) => {
    expect(await authenticator().authenticate(headers)).toMatchObject({ ok: false, failure, retryable: false });
  });
});
