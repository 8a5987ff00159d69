import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeEventGridRules } from "./support/eventgrid-delivery.ts";
import { bootIngestExpectingFailure, credentialEnv, newCredentials } from "./support/ingest.ts";

/**
 * ingest refuses to start with an Event Grid configuration an operator got wrong: no silent
 * fallback to a disabled or unauthenticated webhook, and a fatal line naming each bad setting
 * without printing a key.
 */

interface LogLine {
  level?: string;
  issues?: string[];
}

const fatalIssues = (lines: readonly string[]): string[] =>
  lines
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return {};
      }
    })
    .filter((line) => line.level === "fatal")
    .flatMap((line) => line.issues ?? []);

describe("ingest: Event Grid boot failures", () => {
  let dir: string;
  let base: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-eventgrid-boot-"));
    base = { CREDMESH_RULES_FILE: await writeEventGridRules(dir), ...credentialEnv(newCredentials()) };
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("exits when Event Grid settings are given without an authentication mode", async () => {
    const { code, lines } = await bootIngestExpectingFailure({ ...base, CREDMESH_EVENTGRID_AUDIENCES: "api://credmesh" });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(fatalIssues(lines)).toEqual([expect.stringMatching(/^CREDMESH_EVENTGRID_AUDIENCES set without CREDMESH_EVENTGRID_AUTH/)]);
    expect(lines.some((line) => line.includes("ingest listening"))).toBe(false);
  });

  it("exits for Entra without audience and with none/HS256 allowed, naming both", async () => {
    const { code, lines } = await bootIngestExpectingFailure({
      ...base,
      CREDMESH_EVENTGRID_AUTH: "entra",
      CREDMESH_EVENTGRID_TENANT_ID: "7d1e5a90-2c4b-4f3e-8a6d-0e9b1c2d3f40",
      CREDMESH_EVENTGRID_ALGORITHMS: "RS256,none,HS256",
    });
    expect(code).not.toBe(0);
    expect(fatalIssues(lines)).toEqual([
      expect.stringMatching(/^CREDMESH_EVENTGRID_AUDIENCES is required/),
      expect.stringMatching(/^CREDMESH_EVENTGRID_ALGORITHMS="none,HS256" is not allowed/),
    ]);
  });

  it("exits for a shared key that is too short, without printing it", async () => {
    const short = `short-${randomBytes(6).toString("hex")}`;
    const { code, lines } = await bootIngestExpectingFailure({ ...base, CREDMESH_EVENTGRID_AUTH: "shared-key", CREDMESH_EVENTGRID_SHARED_KEYS: short });
    expect(code).not.toBe(0);
    expect(fatalIssues(lines)).toEqual(["CREDMESH_EVENTGRID_SHARED_KEYS entries must be at least 32 characters (values not shown)"]);
    expect(lines.filter((line) => line.includes(short))).toEqual([]);
  });
});
