/**
 * A configuration problem found at boot. Each issue names the setting and, for non-secret
 * settings only, the offending value, so an operator can fix it without reading code.
 */
export class ConfigError extends Error {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid configuration:\n  - ${issues.join("\n  - ")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}
