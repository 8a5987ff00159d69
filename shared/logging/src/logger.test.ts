import { describe, expect, it } from "vitest";
import { createLogger, serializeError, type Logger } from "./logger.ts";

const SECRET = "hunter2-s3cr3t-value";

/** Shaped like @credmesh/errors' CredmeshError, which this package recognises by shape. */
function credmeshError(message: string): Error {
  return Object.assign(new Error(message), {
    name: "CredmeshError",
    reason: "throttled",
    retryable: true,
    code: "ThrottlingException",
    status: 400,
  });
}

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ service: "replicator", destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines };
}

describe("serializeError", () => {
  it("writes the message and facts of a CredmeshError", () => {
    expect(serializeError(credmeshError("secretsmanager PutSecretValue failed (ThrottlingException, HTTP 400)"))).toStrictEqual({
      type: "CredmeshError",
      message: "secretsmanager PutSecretValue failed (ThrottlingException, HTTP 400)",
      reason: "throttled",
      retryable: true,
      code: "ThrottlingException",
      status: 400,
    });
  });

  it("writes a foreign error's type and code but never its message", () => {
    const foreign = Object.assign(new TypeError(`cannot parse ${SECRET}`), { code: "ERR_INVALID_ARG" });
    const record = serializeError(foreign);
    expect(record).toStrictEqual({ type: "TypeError", code: "ERR_INVALID_ARG" });
    expect(JSON.stringify(record)).not.toContain(SECRET);
  });

  it("writes no stack, which can embed values too", () => {
    expect(serializeError(new Error(SECRET))).not.toHaveProperty("stack");
  });

  it("writes only the type of a thrown non-object", () => {
    expect(serializeError(SECRET)).toStrictEqual({ type: "string" });
    expect(serializeError(undefined)).toStrictEqual({ type: "undefined" });
  });

  it("does not take a foreign message that is not a string", () => {
    expect(serializeError({ name: "Weird", message: { text: SECRET } })).toStrictEqual({ type: "Weird" });
  });
});

describe("createLogger", () => {
  it("writes JSON lines with the service, level label and message", () => {
    const { logger, lines } = capture();
    logger.warn({ rule: "payments" }, "skipped");
    expect(JSON.parse(lines[0] as string)).toMatchObject({ service: "replicator", level: "warn", rule: "payments", msg: "skipped" });
  });

  it("writes nothing below its level", () => {
    const { logger, lines } = capture();
    logger.debug("noise");
    expect(lines).toHaveLength(0);
  });

  it.each([
    ["as err", (error: Error, logger: Logger) => logger.error({ err: error }, "write failed")],
    ["as error", (error: Error, logger: Logger) => logger.error({ error }, "write failed")],
    ["as the first argument", (error: Error, logger: Logger) => logger.error(error, "write failed")],
  ])("never writes a foreign error's message or stack when it is logged %s", (_, log) => {
    const { logger, lines } = capture();
    log(new Error(`Secret value ${SECRET} is invalid`), logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SECRET);
    expect(lines[0]).toContain("write failed");
  });

  it("writes a CredmeshError's own message", () => {
    const { logger, lines } = capture();
    logger.error({ err: credmeshError("keyvault SetSecret failed (HTTP 429)") }, "write failed");
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      err: { type: "CredmeshError", message: "keyvault SetSecret failed (HTTP 429)", reason: "throttled" },
    });
  });
});
