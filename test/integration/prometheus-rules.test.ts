import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { METRIC } from "@credmesh/metrics";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/services.ts";
import { loadTools } from "../support/tools.ts";

const run = promisify(execFile);
const PROMETHEUS_DIR = resolve(REPO_ROOT, "deploy", "prometheus");

/**
 * The alert rules and scrape configuration operators deploy, checked by the real promtool: they
 * parse, each alert fires on the series that should trigger it (alerts.test.yml), and every
 * credmesh metric they use is one the services actually export.
 */
describe("deploy/prometheus", () => {
  const promtool = (): string => {
    const path = loadTools().promtool;
    if (!path) throw new Error("promtool missing: run scripts/provision.sh");
    return path;
  };

  it("passes promtool's config and rules checks", async () => {
    await run(promtool(), ["check", "config", "prometheus.yml"], { cwd: PROMETHEUS_DIR });
    await run(promtool(), ["check", "rules", "alerts.yml", "identity-alerts.yml"], { cwd: PROMETHEUS_DIR });
  });

  it.each(["alerts.test.yml", "identity-alerts.test.yml"])("fires each tested alert as expected (promtool test rules %s)", async (file) => {
    const { stdout } = await run(promtool(), ["test", "rules", file], { cwd: PROMETHEUS_DIR });
    expect(stdout).toContain("SUCCESS");
  });

  it("tests every identity alert and links each to its runbook entry", () => {
    const rules = readFileSync(resolve(PROMETHEUS_DIR, "identity-alerts.yml"), "utf8");
    const tests = readFileSync(resolve(PROMETHEUS_DIR, "identity-alerts.test.yml"), "utf8");
    const runbooks = readFileSync(resolve(REPO_ROOT, "docs", "runbooks.md"), "utf8");
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((match) => match[1] ?? "");
    expect(alerts.length).toBeGreaterThan(5);
    for (const alert of alerts) {
      expect(tests).toContain(`alertname: ${alert}`);
      expect(rules).toContain(`runbook_url: docs/runbooks.md#${alert.toLowerCase()}`);
      expect(runbooks).toContain(`## ${alert}\n`);
    }
  });

  it.each([
    ["alert rules", resolve(PROMETHEUS_DIR, "alerts.yml")],
    ["identity alert rules", resolve(PROMETHEUS_DIR, "identity-alerts.yml")],
    ["Grafana dashboard", resolve(REPO_ROOT, "deploy", "grafana", "dashboards", "credmesh-overview.json")],
    ["Grafana identity dashboard", resolve(REPO_ROOT, "deploy", "grafana", "dashboards", "credmesh-identity.json")],
    ["Grafana bus dashboard", resolve(REPO_ROOT, "deploy", "grafana", "dashboards", "credmesh-bus.json")],
  ])("%s only reference metrics that credmesh exports", (_what, file) => {
    const rules = readFileSync(file, "utf8");
    const used = new Set([...rules.matchAll(/\b((?:credmesh|x509)_[a-z_]+?)(?:_bucket|_sum|_count)?\b/g)].map((match) => match[1]));
    const exported = new Set<string>(Object.values(METRIC));
    expect([...used].filter((name) => name !== undefined && !exported.has(name))).toEqual([]);
    expect(used.size).toBeGreaterThan(4);
  });
});
