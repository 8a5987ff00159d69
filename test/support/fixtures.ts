import { readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { REPO_ROOT } from "./services.ts";

/** ../shared/fixtures beside the repository (overridable with CREDMESH_FIXTURES_DIR). */
const FIXTURES_DIR = process.env.CREDMESH_FIXTURES_DIR ?? resolve(REPO_ROOT, "..", "shared", "fixtures");

export function readFixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(resolve(FIXTURES_DIR, name), "utf8")) as T;
}

/** The names of every fixture file, sorted. */
export function fixtureNames(): string[] {
  return readdirSync(FIXTURES_DIR)
    .filter((name) => name.endsWith(".json"))
    .sort();
}
