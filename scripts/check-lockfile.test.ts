import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lockfileProblems, syncProblems } from "./check-lockfile.ts";

const REPO = join(import.meta.dirname, "..");
const npm = process.env["CREDMESH_NPM"] ?? "npm";
const lockOf = (dir: string): { packages: Record<string, unknown> } =>
  JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as { packages: Record<string, unknown> };

/** A copy of the repository's manifests only: root package.json, lockfile, every workspace's package.json. */
function manifestCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "credmesh-lock-test-"));
  cpSync(join(REPO, "package.json"), join(dir, "package.json"));
  cpSync(join(REPO, "package-lock.json"), join(dir, "package-lock.json"));
  for (const group of ["shared", "services"]) {
    for (const name of readdirSync(join(REPO, group))) copyManifest(dir, join(group, name));
  }
  copyManifest(dir, "test");
  copyManifest(dir, "bench");
  return dir;
}
function copyManifest(dir: string, workspace: string): void {
  mkdirSync(join(dir, workspace), { recursive: true });
  cpSync(join(REPO, workspace, "package.json"), join(dir, workspace, "package.json"));
}

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("lockfileProblems", () => {
  it("finds nothing wrong with the committed lockfile", () => {
    expect(lockfileProblems(lockOf(REPO))).toEqual([]);
  });

  it("names a version-less entry (the turbo platform stubs that broke fresh installs)", () => {
    const lock = lockOf(REPO);
    lock.packages["node_modules/turbo/node_modules/@turbo/darwin-64"] = { dev: true, optional: true };
    expect(lockfileProblems(lock)).toEqual(['entry "node_modules/turbo/node_modules/@turbo/darwin-64" has no version']);
  });

  it("names an entry whose version is not semver, and ignores workspace links", () => {
    const lock = lockOf(REPO);
    lock.packages["node_modules/left-pad"] = { version: "latest" };
    lock.packages["node_modules/@credmesh/x"] = { resolved: "shared/x", link: true };
    expect(lockfileProblems(lock)).toEqual(['entry "node_modules/left-pad" has an invalid version "latest"']);
  });

  it("refuses an old lockfile format", () => {
    expect(lockfileProblems({ lockfileVersion: 1, dependencies: {} })).toEqual([
      "lockfileVersion is 1; this project expects 3 (npm 9 or newer)",
    ]);
  });
});

describe("check-lockfile.ts as the test command runs it", () => {
  it("exits 1 naming the version-less entry", () => {
    const dir = manifestCopy();
    made.push(dir);
    const lock = lockOf(dir);
    lock.packages["node_modules/turbo/node_modules/@turbo/windows-arm64"] = { dev: true, optional: true };
    writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lock, null, 2));
    const run = spawnSync(process.execPath, [join(REPO, "scripts/check-lockfile.ts"), dir], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('entry "node_modules/turbo/node_modules/@turbo/windows-arm64" has no version');
  });

  it("passes on an in-sync copy and names the dependency a package.json changed without the lockfile", () => {
    const dir = manifestCopy();
    made.push(dir);
    expect(syncProblems(dir, [npm])).toEqual([]);
    const manifest = join(dir, "shared/config/package.json");
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { dependencies: Record<string, string> };
    pkg.dependencies["yaml"] = "2.0.0";
    writeFileSync(manifest, JSON.stringify(pkg, null, 2));
    const problems = syncProblems(dir, [npm]);
    expect(problems.join("\n")).toContain("in sync");
    expect(problems.join("\n")).toContain("yaml@2.0.0");
  }, 60_000);
});
