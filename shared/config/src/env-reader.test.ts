import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.ts";
import { EnvReader } from "./env-reader.ts";

const SECRET = "hunter2-s3cr3t-value-0123456789abcdef";

/** The ConfigError `read.done()` throws; fails the test if it does not. */
function failure(read: EnvReader): ConfigError {
  try {
    read.done();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("EnvReader", () => {
  const dir = mkdtempSync(join(tmpdir(), "credmesh-env-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it("collects every problem before failing, so one boot reports them all", () => {
    const read = new EnvReader({ PORT: "eighty", DEBUG: "maybe", NATS_URL: "not a url", MODE: "fast" });
    read.int("PORT", { default: 8080 });
    read.bool("DEBUG", false);
    read.url("NATS_URL", { protocols: ["nats:", "tls:"] });
    read.oneOf("MODE", ["safe", "strict"] as const);
    read.string("CREDMESH_RULES_FILE");
    read.secret("API_KEYS", { required: true });
    expect(failure(read).issues).toEqual([
      'PORT="eighty" must be an integer between -9007199254740991 and 9007199254740991',
      'DEBUG="maybe" must be true or false',
      'NATS_URL="not a url" is not a URL',
      'MODE="fast" must be one of safe, strict',
      "CREDMESH_RULES_FILE is required",
      "API_KEYS (or API_KEYS_FILE) is required",
    ]);
  });

  it("lists every issue in the error message", () => {
    const read = new EnvReader({});
    read.string("A");
    read.string("B");
    expect(failure(read).message).toBe("invalid configuration:\n  - A is required\n  - B is required");
  });

  it("passes when everything is valid", () => {
    const read = new EnvReader({ PORT: "8080" });
    expect(read.int("PORT")).toBe(8080);
    expect(() => read.done()).not.toThrow();
  });

  it("treats blank values as unset and applies defaults", () => {
    const read = new EnvReader({ HOST: "   ", PORT: "" });
    expect(read.string("HOST", { default: "127.0.0.1" })).toBe("127.0.0.1");
    expect(read.int("PORT", { default: 8080 })).toBe(8080);
    expect(read.bool("DEBUG", true)).toBe(true);
    expect(read.list("SERVERS", ["nats://127.0.0.1:4222"])).toEqual(["nats://127.0.0.1:4222"]);
    expect(read.optionalString("HOST")).toBeUndefined();
    read.done();
  });

  it("trims values", () => {
    const read = new EnvReader({ PORT: " 8080\n", NAME: "  cell-a  " });
    expect(read.int("PORT")).toBe(8080);
    expect(read.string("NAME")).toBe("cell-a");
  });

  it("checks a string against its pattern and shows the hint", () => {
    const read = new EnvReader({ CELL: "cell a" });
    read.string("CELL", { pattern: /^[a-z-]+$/, hint: "lowercase letters and -" });
    expect(failure(read).issues).toEqual(['CELL="cell a" is invalid: lowercase letters and -']);
  });

  describe("int", () => {
    it.each(["0", "65536", "1.5", "1e3x", "-1"])("refuses %j for a port", (raw) => {
      const read = new EnvReader({ PORT: raw });
      expect(read.int("PORT", { default: 8080, min: 1, max: 65535 })).toBe(8080);
      expect(failure(read).issues).toEqual([`PORT="${raw}" must be an integer between 1 and 65535`]);
    });

    it.each([
      ["1", 1],
      ["65535", 65535],
      ["1e3", 1000],
    ])("accepts %j within bounds", (raw, value) => {
      const read = new EnvReader({ PORT: raw });
      expect(read.int("PORT", { min: 1, max: 65535 })).toBe(value);
      read.done();
    });
  });

  describe("bool", () => {
    it.each(["1", "true", "TRUE", "yes", "Yes", "on", "ON"])("reads %j as true", (raw) => {
      expect(new EnvReader({ FLAG: raw }).bool("FLAG", false)).toBe(true);
    });

    it.each(["0", "false", "False", "no", "NO", "off", "Off"])("reads %j as false", (raw) => {
      expect(new EnvReader({ FLAG: raw }).bool("FLAG", true)).toBe(false);
    });

    it.each(["2", "y", "enabled", "truthy"])("refuses %j", (raw) => {
      const read = new EnvReader({ FLAG: raw });
      expect(read.bool("FLAG", false)).toBe(false);
      expect(failure(read).issues).toEqual([`FLAG="${raw}" must be true or false`]);
    });
  });

  describe("url", () => {
    it("accepts an allowed protocol", () => {
      const read = new EnvReader({ ENDPOINT: "https://sts.us-east-1.amazonaws.com" });
      expect(read.url("ENDPOINT", { protocols: ["http:", "https:"] })).toBe("https://sts.us-east-1.amazonaws.com");
      read.done();
    });

    it("refuses another protocol", () => {
      const read = new EnvReader({ ENDPOINT: "ftp://example.com" });
      read.url("ENDPOINT", { protocols: ["http:", "https:"] });
      expect(failure(read).issues).toEqual(['ENDPOINT="ftp://example.com" must use http: or https:']);
    });

    it("uses the default when unset and requires a URL without one", () => {
      const read = new EnvReader({});
      expect(read.url("IDENTITY", { default: "http://169.254.169.254/metadata/identity/oauth2/token" })).toBe(
        "http://169.254.169.254/metadata/identity/oauth2/token",
      );
      read.url("ENDPOINT");
      expect(failure(read).issues).toEqual(["ENDPOINT is required"]);
    });

    it.each([
      ["a refused protocol", "ftp://svc:hunter2pass@example.com/", 'ENDPOINT="ftp://[REDACTED]@example.com/" must use http: or https:'],
      ["a malformed URL", "http://svc:hunter2pass@exa mple.com/", 'ENDPOINT="http://[REDACTED]@exa mple.com/" is not a URL'],
    ])("does not echo a password embedded in %s", (_, raw, issue) => {
      const read = new EnvReader({ ENDPOINT: raw });
      read.url("ENDPOINT", { protocols: ["http:", "https:"] });
      const error = failure(read);
      expect(error.issues).toEqual([issue]);
      expect(error.message).not.toContain("hunter2pass");
    });
  });

  it("splits a list on commas and drops blanks", () => {
    expect(new EnvReader({ SERVERS: "nats://a:4222, nats://b:4222,,  " }).list("SERVERS")).toEqual(["nats://a:4222", "nats://b:4222"]);
  });

  it("accepts one of the allowed values, else falls back", () => {
    expect(new EnvReader({ LEVEL: "debug" }).oneOf("LEVEL", ["info", "debug"] as const)).toBe("debug");
    const read = new EnvReader({ LEVEL: "loud" });
    expect(read.oneOf("LEVEL", ["info", "debug"] as const, "info")).toBe("info");
    expect(failure(read).issues).toEqual(['LEVEL="loud" must be one of info, debug']);
  });

  describe("secrets", () => {
    it("reads a secret from the variable", () => {
      const secret = new EnvReader({ HASH_KEY: SECRET }).secret("HASH_KEY", { required: true });
      expect(secret?.reveal()).toBe(SECRET);
      expect(String(secret)).toBe("[REDACTED]");
    });

    it("reads a secret from a mounted _FILE, without its trailing newline", () => {
      const path = file("hash-key", `${SECRET}\n`);
      const read = new EnvReader({ HASH_KEY_FILE: path });
      expect(read.secret("HASH_KEY", { required: true, minLength: 32 })?.reveal()).toBe(SECRET);
      read.done();
    });

    it("prefers the variable over the file", () => {
      const path = file("ignored", "from-file");
      expect(new EnvReader({ KEY: "from-env", KEY_FILE: path }).secret("KEY", { required: true })?.reveal()).toBe("from-env");
    });

    it("names an unreadable file", () => {
      const missing = join(dir, "missing");
      const read = new EnvReader({ KEY_FILE: missing });
      expect(read.secret("KEY", { required: true })).toBeUndefined();
      expect(failure(read).issues).toEqual([`KEY_FILE="${missing}" cannot be read`, "KEY (or KEY_FILE) is required"]);
    });

    it("is undefined and not an issue when optional and unset", () => {
      const read = new EnvReader({});
      expect(read.secret("KEY", { required: false })).toBeUndefined();
      read.done();
    });

    it("treats a blank secret as missing", () => {
      const read = new EnvReader({ KEY: "  \n" });
      read.secret("KEY", { required: true });
      expect(failure(read).issues).toEqual(["KEY (or KEY_FILE) is required"]);
    });

    it("reads a list of secrets, comma separated or one per line in a file", () => {
      const fromEnv = new EnvReader({ API_KEYS: "key-one, key-two" }).secretList("API_KEYS");
      expect(fromEnv.map((key) => key.reveal())).toEqual(["key-one", "key-two"]);
      const path = file("api-keys", "key-one\n\nkey-two\n");
      const fromFile = new EnvReader({ API_KEYS_FILE: path }).secretList("API_KEYS");
      expect(fromFile.map((key) => key.reveal())).toEqual(["key-one", "key-two"]);
      expect(JSON.stringify(fromFile)).not.toContain("key-one");
    });

    it("never shows a secret's value in a ConfigError", () => {
      const short = "hunter2";
      const path = file("short", short);
      const read = new EnvReader({ HASH_KEY: short, OTHER_KEY_FILE: path, PORT: "x" });
      read.secret("HASH_KEY", { required: true, minLength: 32 });
      read.secret("OTHER_KEY", { required: true, minLength: 32 });
      read.int("PORT");
      const error = failure(read);
      expect(error.issues).toEqual([
        "HASH_KEY must be at least 32 characters (value not shown)",
        "OTHER_KEY must be at least 32 characters (value not shown)",
        'PORT="x" must be an integer between -9007199254740991 and 9007199254740991',
      ]);
      expect(error.message).not.toContain(short);
    });
  });

  it("records a caller's cross-setting problem", () => {
    const read = new EnvReader({});
    read.problem("CREDMESH_AWS_ENDPOINT requires CREDMESH_AWS_REGION");
    expect(failure(read).issues).toEqual(["CREDMESH_AWS_ENDPOINT requires CREDMESH_AWS_REGION"]);
  });
});
