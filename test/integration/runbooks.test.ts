import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/services.ts";

const PROMETHEUS_DIR = resolve(REPO_ROOT, "deploy", "prometheus");
const RUNBOOKS = "docs/runbooks.md";

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; annotations?: Record<string, string> }[] }[];
}

/** Every Prometheus rule file in deploy/prometheus (any YAML with rule groups), by file name. */
function ruleFiles(): Map<string, RuleFile> {
  const files = new Map<string, RuleFile>();
  for (const name of readdirSync(PROMETHEUS_DIR).filter((file) => /\.ya?ml$/.test(file))) {
    const content = parse(readFileSync(resolve(PROMETHEUS_DIR, name), "utf8")) as Partial<RuleFile> | null;
    if (content && Array.isArray(content.groups)) files.set(name, content as RuleFile);
  }
  return files;
}

/** The anchor GitHub and most Markdown renderers give a heading. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The `## ` sections of the runbooks, by anchor. */
function runbookSections(): Map<string, { heading: string; body: string }> {
  const text = readFileSync(resolve(REPO_ROOT, RUNBOOKS), "utf8");
  const sections = new Map<string, { heading: string; body: string }>();
  for (const part of text.split(/^## /m).slice(1)) {
    const [heading = "", ...body] = part.split("\n");
    sections.set(anchorOf(heading), { heading: heading.trim(), body: body.join("\n") });
  }
  return sections;
}

/**
 * Every alert of every rule file has a runbook in docs/runbooks.md, linked from its runbook_url
 * annotation, with the three parts on-call needs. Other rule files added to deploy/prometheus are
 * covered without changing this test.
 */
describe("alert runbooks", () => {
  const alerts = () =>
    [...ruleFiles()].flatMap(([file, content]) =>
      content.groups.flatMap((group) => group.rules.filter((rule) => rule.alert !== undefined).map((rule) => ({ file, alert: rule.alert ?? "", annotations: rule.annotations ?? {} }))),
    );

  it("finds the alert rule files", () => {
    expect([...ruleFiles().keys()]).toContain("alerts.yml");
    expect(alerts().length).toBeGreaterThanOrEqual(10);
  });

  it("every rule file is loaded by prometheus.yml (and so by the Helm chart's PrometheusRule)", () => {
    const config = parse(readFileSync(resolve(PROMETHEUS_DIR, "prometheus.yml"), "utf8")) as { rule_files: string[] };
    expect([...config.rule_files].sort()).toEqual([...ruleFiles().keys()].sort());
  });

  it("every alert links docs/runbooks.md#<alert name in lower case>, and that section exists", () => {
    const sections = runbookSections();
    for (const { file, alert, annotations } of alerts()) {
      expect(annotations.runbook_url, `${file}: ${alert}`).toBe(`${RUNBOOKS}#${alert.toLowerCase()}`);
      const section = sections.get(alert.toLowerCase());
      expect(section?.heading, `${file}: ${alert} has no "## ${alert}" section in ${RUNBOOKS}`).toBe(alert);
    }
  });

  it("every runbook says what the alert means, the first three things to check, and how to resolve it", () => {
    const names = new Set(alerts().map(({ alert }) => alert.toLowerCase()));
    for (const [anchor, { heading, body }] of runbookSections()) {
      expect(names.has(anchor), `${RUNBOOKS}: "## ${heading}" is not an alert of deploy/prometheus`).toBe(true);
      expect(body, heading).toMatch(/\*\*What it means\.\*\* \S/);
      expect(body, heading).toMatch(/\*\*Resolve\.\*\* \S/);
      const checks = /\*\*Check first\*\*\n((?:\d\. [\s\S]*?)(?=\n\n\*\*|\n*$))/.exec(body)?.[1] ?? "";
      expect(checks.match(/^\d\. /gm) ?? [], `${heading}: the first three things to check`).toHaveLength(3);
    }
  });
});
