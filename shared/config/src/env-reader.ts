import { readFileSync } from "node:fs";
import { Sensitive } from "@credmesh/logging";
import { ConfigError } from "./config-error.ts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads typed settings from environment variables and collects every problem before failing, so
 * one boot attempt reports all of them. Secret settings accept `NAME` or `NAME_FILE` (a mounted
 * file) and come back as {@link Sensitive}; their values never appear in an error.
 */
export class EnvReader {
  readonly #env: Env;
  readonly #issues: string[] = [];

  constructor(env: Env = process.env) {
    this.#env = env;
  }

  string(name: string, options: { default?: string; pattern?: RegExp; hint?: string } = {}): string {
    const raw = this.#raw(name);
    if (raw === undefined) return this.#fallback(name, options.default, "");
    if (options.pattern && !options.pattern.test(raw)) {
      this.#issues.push(`${name}="${raw}" is invalid${options.hint ? `: ${options.hint}` : ""}`);
    }
    return raw;
  }

  optionalString(name: string): string | undefined {
    return this.#raw(name);
  }

  int(name: string, options: { default?: number; min?: number; max?: number } = {}): number {
    const raw = this.#raw(name);
    if (raw === undefined) return this.#fallback(name, options.default, 0);
    const value = Number(raw);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.#issues.push(`${name}="${raw}" must be an integer between ${min} and ${max}`);
      return options.default ?? 0;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    this.#issues.push(`${name}="${raw}" must be true or false`);
    return fallback;
  }

  url(name: string, options: { default?: string; protocols?: readonly string[] } = {}): string {
    const raw = this.#raw(name) ?? options.default;
    if (raw === undefined) return this.#fallback(name, undefined, "");
    // A URL may carry a password (scheme://user:password@host); never echo that part.
    const shown = raw.replace(/^([^:/?#]*:\/\/)[^/?#]*@/, "$1[REDACTED]@");
    try {
      const parsed = new URL(raw);
      if (options.protocols && !options.protocols.includes(parsed.protocol)) {
        this.#issues.push(`${name}="${shown}" must use ${options.protocols.join(" or ")}`);
      }
    } catch {
      this.#issues.push(`${name}="${shown}" is not a URL`);
    }
    return raw;
  }

  list(name: string, fallback: readonly string[] = []): string[] {
    const raw = this.#raw(name);
    if (raw === undefined) return [...fallback];
    return raw
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    const raw = this.#raw(name);
    if (raw === undefined) return this.#fallback(name, fallback, allowed[0] as T);
    if (!(allowed as readonly string[]).includes(raw)) {
      this.#issues.push(`${name}="${raw}" must be one of ${allowed.join(", ")}`);
      return fallback ?? (allowed[0] as T);
    }
    return raw as T;
  }

  /** A list of secrets from `NAME` (comma separated) or `NAME_FILE` (one per line). */
  secretList(name: string): Sensitive<string>[] {
    const raw = this.#secretRaw(name);
    if (raw === undefined) return [];
    return raw
      .split(/[\n,]/)
      .map((item) => item.trim())
      .filter((item) => item !== "")
      .map((item) => new Sensitive(item));
  }

  secret(name: string, options: { required: boolean; minLength?: number }): Sensitive<string> | undefined {
    const raw = this.#secretRaw(name)?.trim();
    if (raw === undefined || raw === "") {
      if (options.required) this.#issues.push(`${name} (or ${name}_FILE) is required`);
      return undefined;
    }
    if (options.minLength !== undefined && raw.length < options.minLength) {
      this.#issues.push(`${name} must be at least ${options.minLength} characters (value not shown)`);
    }
    return new Sensitive(raw);
  }

  /** Records a problem found by a caller's own cross-setting check. */
  problem(issue: string): void {
    this.#issues.push(issue);
  }

  /** Throws a {@link ConfigError} listing every problem seen so far. */
  done(): void {
    if (this.#issues.length > 0) throw new ConfigError(this.#issues);
  }

  #raw(name: string): string | undefined {
    const value = this.#env[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  #secretRaw(name: string): string | undefined {
    const direct = this.#env[name];
    if (direct !== undefined && direct !== "") return direct;
    const file = this.#raw(`${name}_FILE`);
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, "utf8");
    } catch {
      this.#issues.push(`${name}_FILE="${file}" cannot be read`);
      return undefined;
    }
  }

  #fallback<T>(name: string, fallback: T | undefined, placeholder: T): T {
    if (fallback !== undefined) return fallback;
    this.#issues.push(`${name} is required`);
    return placeholder;
  }
}
