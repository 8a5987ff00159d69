import { mkdir, mkdtemp, rename, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CredmeshError } from "@credmesh/errors";
import { tokenFromFile } from "./token-file.ts";

const FIRST = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmaXJzdCJ9.FIRST-SIGNATURE";
const SECOND = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNvbmQifQ.SECOND-SIGNATURE";

describe("tokenFromFile", () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-token-file-"));
    path = join(dir, "token");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Replaces the file the way the kubelet does: a new file renamed over the old one. */
  async function rotate(content: string): Promise<void> {
    const temp = join(dir, `.token.${Math.random()}`);
    await writeFile(temp, content);
    await rename(temp, path);
  }

  async function failure(call: Promise<unknown>): Promise<CredmeshError> {
    try {
      await call;
    } catch (error) {
      expect(error).toBeInstanceOf(CredmeshError);
      return error as CredmeshError;
    }
    throw new Error("expected the read to fail");
  }

  it("returns the file's content, trimmed, as a Sensitive value", async () => {
    await writeFile(path, `${FIRST}\n`);
    const token = await tokenFromFile(path)();
    expect(token.reveal()).toBe(FIRST);
    expect(String(token)).not.toContain(FIRST);
    expect(JSON.stringify({ token })).not.toContain(FIRST);
  });

  it("does not read an unchanged file again", async () => {
    await writeFile(path, FIRST);
    const read = tokenFromFile(path);
    for (let i = 0; i < 20; i += 1) expect((await read()).reveal()).toBe(FIRST);
    expect(read.reads()).toBe(1);
  });

  it("shares one read among concurrent callers", async () => {
    await writeFile(path, FIRST);
    const read = tokenFromFile(path);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => read()));
    expect(tokens.map((t) => t.reveal())).toEqual(Array.from({ length: 10 }, () => FIRST));
    expect(read.reads()).toBe(1);
  });

  it("returns the rotated token on the very next call after an atomic replace", async () => {
    await writeFile(path, FIRST);
    const read = tokenFromFile(path);
    expect((await read()).reveal()).toBe(FIRST);
    await rotate(SECOND);
    expect((await read()).reveal()).toBe(SECOND);
    expect((await read()).reveal()).toBe(SECOND);
    expect(read.reads()).toBe(2);
  });

  it("sees a rotation through a symlink swap, as in a Kubernetes projected volume", async () => {
    // <volume>/token -> ..data/token, ..data -> ..<timestamp>; the kubelet swaps ..data.
    await mkdir(join(dir, "..v1"));
    await writeFile(join(dir, "..v1", "token"), FIRST);
    await symlink("..v1", join(dir, "..data"));
    await symlink(join("..data", "token"), path);
    const read = tokenFromFile(path);
    expect((await read()).reveal()).toBe(FIRST);

    await mkdir(join(dir, "..v2"));
    await writeFile(join(dir, "..v2", "token"), SECOND);
    await symlink("..v2", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    expect((await read()).reveal()).toBe(SECOND);
  });

  it("sees an in-place rewrite of the same size whose mtime was put back", async () => {
    await writeFile(path, FIRST);
    const before = await stat(path);
    const read = tokenFromFile(path);
    expect((await read()).reveal()).toBe(FIRST);
    const sameSize = FIRST.replace("FIRST", "THIRD");
    await writeFile(path, sameSize);
    await utimes(path, before.atime, before.mtime);
    expect((await read()).reveal()).toBe(sameSize);
  });

  it("fails as identity_unavailable, naming the path, when the file does not exist", async () => {
    const error = await failure(tokenFromFile(join(dir, "missing"))());
    expect(error.reason).toBe("identity_unavailable");
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(join(dir, "missing"));
    expect(error.code).toBe("ENOENT");
  });

  it("fails as identity_unavailable when the file is empty, and recovers once it is written", async () => {
    await writeFile(path, "\n");
    const read = tokenFromFile(path);
    expect((await failure(read())).reason).toBe("identity_unavailable");
    await rotate(FIRST);
    expect((await read()).reveal()).toBe(FIRST);
  });

  it("fails as configuration when the path is a directory", async () => {
    const error = await failure(tokenFromFile(dir)());
    expect(error.reason).toBe("configuration");
    expect(error.retryable).toBe(false);
  });

  it("keeps the token out of errors raised after it was read", async () => {
    await writeFile(path, FIRST);
    const read = tokenFromFile(path);
    await read();
    await rm(path);
    const error = await failure(read());
    const shown = `${error.message} ${JSON.stringify(error.toRecord())} ${String(error.cause)} ${error.stack ?? ""}`;
    expect(shown).not.toContain("FIRST-SIGNATURE");
  });
});
