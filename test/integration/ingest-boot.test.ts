import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootIngestExpectingFailure, credentialEnv, newCredentials, writeRulesFile } from "./support/ingest.ts";

/**
 * ingest refuses to start on a configuration an operator got wrong, and says which setting or
 * file is wrong in a fatal log line, without printing a credential. Nothing here needs a bus:
 * configuration is validated before ingest connects.
 * @see ../../../shared/STYLE.md "Configuration is resolved and validated at boot"
 */

interface LogLine {
  level?: string;
  msg?: string;
  issues?: string[];
}

function fatalLines(lines: readonly string[]): LogLine[] {
  return lines
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return {};
      }
    })
    .filter((line) => line.level === "fatal");
}

describe("ingest: boot failures", () => {
  let dir: string;
  let rulesFile: string;
  const credentials = newCredentials();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "credmesh-ingest-boot-"));
    rulesFile = await writeRulesFile(dir);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("exits non-zero when neither API keys nor Basic credentials are configured (no unauthenticated webhook)", async () => {
    const { code, lines } = await bootIngestExpectingFailure({ CREDMESH_RULES_FILE: rulesFile });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const fatal = fatalLines(lines);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.issues).toEqual([expect.stringMatching(/CREDMESH_EVENTBRIDGE_API_KEYS.*CREDMESH_EVENTBRIDGE_BASIC_CREDENTIALS/)]);
    expect(lines.some((line) => line.includes("ingest listening"))).toBe(false);
  });

  it("exits non-zero naming the rules file and the bad account id, without printing a credential", async () => {
    const badDir = await mkdtemp(join(dir, "bad-account-"));
    const badRules = await writeRulesFile(badDir, { account: "12345678901" });
    const { code, lines } = await bootIngestExpectingFailure({ CREDMESH_RULES_FILE: badRules, ...credentialEnv(credentials) });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const fatal = fatalLines(lines);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.issues).toEqual([expect.stringContaining(badRules)]);
    expect(fatal[0]?.issues?.[0]).toMatch(/rules\.0\.source\.accounts\.0: an AWS account id has 12 digits/);
    for (const secret of [...credentials.apiKeys, credentials.basicPassword]) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });

  it("exits non-zero for Basic credentials without a user:password separator, without printing them", async () => {
    const malformed = credentials.basicPassword;
    const { code, lines } = await bootIngestExpectingFailure({
      CREDMESH_RULES_FILE: rulesFile,
      CREDMESH_EVENTBRIDGE_BASIC_CREDENTIALS: malformed,
    });
    expect(code).not.toBe(0);
    const fatal = fatalLines(lines);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.issues).toEqual([expect.stringContaining("CREDMESH_EVENTBRIDGE_BASIC_CREDENTIALS")]);
    expect(lines.filter((line) => line.includes(malformed))).toEqual([]);
  });

  it("exits non-zero naming a rules file that does not exist", async () => {
    const missing = join(dir, "missing", "rules.yaml");
    const { code, lines } = await bootIngestExpectingFailure({ CREDMESH_RULES_FILE: missing, ...credentialEnv(credentials) });
    expect(code).not.toBe(0);
    const fatal = fatalLines(lines);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.issues).toEqual([expect.stringContaining(missing)]);
  });
});
