/**
 * Refuses a package-lock.json that a fresh machine cannot install, before `npm ci` runs.
 *
 * Two checks, cheapest first:
 * 1. Every installable entry carries a valid version. npm writes version-less stubs in some
 *    situations (platform-specific optional packages nested under their parent); `npm ci` then
 *    dies in arborist with "Invalid Version:" and no entry name. A warm node_modules or npm cache
 *    hides it, which is how it reached main once (issue 8).
 * 2. The lockfile is in sync with every workspace's package.json: `npm ci --dry-run` builds the
 *    ideal tree from the lockfile and compares it with the manifests without downloading anything;
 *    npm's own message names the missing or mismatched dependency.
 *
 * Runs with the provisioned Node and nothing from node_modules (it runs before they exist).
 * Usage: node scripts/check-lockfile.ts [repo-dir]   (exit 1 with the problems on stderr)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** One `packages` entry of a lockfile v3, the fields this check reads. */
interface LockEntry {
  readonly version?: unknown;
  readonly link?: unknown;
}

/** SemVer 2.0.0 (semver.org's recommended expression, without named groups). */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/**
 * The structural problems of a parsed lockfile, one line each naming the entry; empty when sound.
 * The root entry ("") and workspace links (`link: true`) carry no version of their own.
 */
export function lockfileProblems(lock: unknown): string[] {
  if (typeof lock !== "object" || lock === null) return ["package-lock.json is not a JSON object"];
  const { lockfileVersion, packages } = lock as { lockfileVersion?: unknown; packages?: unknown };
  if (lockfileVersion !== 3) return [`lockfileVersion is ${String(lockfileVersion)}; this project expects 3 (npm 9 or newer)`];
  if (typeof packages !== "object" || packages === null) return ["package-lock.json has no \"packages\" map"];
  const problems: string[] = [];
  for (const [path, entry] of Object.entries(packages as Record<string, LockEntry>)) {
    if (path === "" || entry.link === true) continue;
    if (entry.version === undefined) problems.push(`entry "${path}" has no version`);
    else if (typeof entry.version !== "string" || !SEMVER.test(entry.version)) {
      problems.push(`entry "${path}" has an invalid version ${JSON.stringify(entry.version)}`);
    }
  }
  return problems;
}

/** Runs `npm ci --dry-run` in `repo` with a throw-away cache; returns npm's error lines, or []. */
export function syncProblems(repo: string, npm: readonly string[]): string[] {
  const cache = mkdtempSync(join(tmpdir(), "credmesh-lockcheck-"));
  try {
    const [command, ...prefix] = npm;
    if (command === undefined) throw new Error("no npm command given");
    const run = spawnSync(command, [...prefix, "ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund", `--cache=${cache}`], {
      cwd: repo,
      encoding: "utf8",
      timeout: 120_000,
    });
    if (run.error !== undefined) return [`could not run npm: ${run.error.message}`];
    if (run.status === 0) return [];
    const lines = `${run.stdout}\n${run.stderr}`
      .split("\n")
      .filter((line) => line.startsWith("npm error") && !/complete log|^npm error\s*$/.test(line))
      .map((line) => line.replace(/^npm error\s?/, ""));
    // npm appends the whole usage text of `ci` after the reason; the reason is what helps.
    const usage = lines.findIndex((line) => line.startsWith("Clean install a project"));
    return usage > 0 ? lines.slice(0, usage).filter((line) => line.trim() !== "") : lines;
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

function main(): void {
  const repo = resolve(process.argv[2] ?? join(import.meta.dirname, ".."));
  const lockPath = join(repo, "package-lock.json");
  let lock: unknown;
  try {
    lock = JSON.parse(readFileSync(lockPath, "utf8"));
  } catch (error) {
    fail([`cannot read ${lockPath}: ${(error as Error).message}`]);
  }
  const structural = lockfileProblems(lock);
  if (structural.length > 0) fail(structural);
  // CREDMESH_NPM is the provisioned npm (scripts/provision.sh); fall back to the one on PATH.
  const npm = process.env["CREDMESH_NPM"] ?? "npm";
  const sync = syncProblems(repo, [npm]);
  if (sync.length > 0) fail(sync);
}

function fail(problems: readonly string[]): never {
  process.stderr.write(
    `package-lock.json cannot be installed from nothing:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
      "Repair it with the pinned npm (scripts/provision.sh installs it): remove the broken entries, run " +
      "`$CREDMESH_NPM install`, and commit the regenerated package-lock.json.\n",
  );
  process.exit(1);
}

if (import.meta.main) main();
