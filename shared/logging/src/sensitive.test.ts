import { format, inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { REDACTED, Sensitive, sensitive } from "./sensitive.ts";

const SECRET = "hunter2-s3cr3t-value";

/** A real logger whose lines are kept in memory. */
function captureLogger() {
  const written: string[] = [];
  const logger = createLogger({ service: "test", level: "debug", destination: { write: (line: string) => written.push(line) } });
  return { logger, lines: () => written };
}

describe("Sensitive", () => {
  const secret = sensitive(SECRET);
  // The value as code that has lost its type sees it (a string, for all it knows): typed code is
  // kept from interpolating or concatenating an object by lint, untyped code is not, so the runtime must redact.
  const untyped = secret as unknown as string;

  it("gives the value only through reveal()", () => {
    expect(secret.reveal()).toBe(SECRET);
  });

  it.each([
    ["String()", () => String(secret)],
    ["a template literal", () => `value=${untyped}`],
    ["string concatenation", () => "value=" + untyped],
    ["JSON.stringify", () => JSON.stringify(secret)],
    ["JSON.stringify of a nested object", () => JSON.stringify({ request: { headers: [{ key: secret }] } })],
    ["util.inspect", () => inspect(secret)],
    ["util.inspect of a nested object", () => inspect({ a: { b: { c: [secret] } } }, { depth: Infinity, showHidden: true })],
    ["util.format %s %o %O %j", () => format("%s %o %O %j", secret, secret, { secret }, { secret })],
    ["Object.entries", () => JSON.stringify(Object.entries(secret))],
    ["an object spread", () => JSON.stringify({ ...secret })],
    ["structuredClone", () => inspect(structuredClone({ secret }), { depth: Infinity })],
  ])("does not reveal the value through %s", (_, render) => {
    const text = render();
    expect(text).not.toContain(SECRET);
  });

  it("renders as the redaction marker", () => {
    expect(String(secret)).toBe(REDACTED);
    expect(JSON.parse(JSON.stringify({ secret }))).toEqual({ secret: REDACTED });
  });

  it("hides structured values too", () => {
    const credentials = new Sensitive({ accessKeyId: "ASIAEXAMPLE", secretAccessKey: SECRET });
    expect(JSON.stringify({ credentials })).not.toContain(SECRET);
    expect(inspect({ credentials }, { depth: Infinity })).not.toContain(SECRET);
    expect(credentials.reveal().secretAccessKey).toBe(SECRET);
  });

  it("does not reveal the value in a pino log line, at any depth", () => {
    const { logger, lines } = captureLogger();
    logger.info({ apiKey: secret, nested: { deeper: { list: [secret] } }, other: secret }, "received %s", secret);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).not.toContain(SECRET);
    expect(lines()[0]).toContain(REDACTED);
  });
});
