import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { LOGGABLE_HEADERS, REDACTED, REDACT_PATHS, loggableHeaders } from "./redaction.ts";

const SECRET = "hunter2-s3cr3t-value";

/** Logs `object` through a real logger and returns the parsed line. */
function logged(object: Record<string, unknown>): Record<string, unknown> {
  const lines: string[] = [];
  const logger = createLogger({ service: "test", destination: { write: (line: string) => lines.push(line) } });
  logger.info(object, "event");
  expect(lines).toHaveLength(1);
  expect(lines[0]).not.toContain(SECRET);
  return JSON.parse(lines[0] as string) as Record<string, unknown>;
}

describe("REDACT_PATHS in a log line", () => {
  it.each([
    "value",
    "secret",
    "secretString",
    "SecretString",
    "SecretBinary",
    "password",
    "token",
    "accessToken",
    "access_token",
    "apiKey",
    "authorization",
    "credentials",
    "SessionToken",
    "SecretAccessKey",
    "clientAssertion",
  ])("blanks a top-level %s", (field) => {
    expect(logged({ [field]: SECRET })[field]).toBe(REDACTED);
  });

  it.each(["value", "SecretString", "password", "SessionToken", "token"])("blanks %s one level down", (field) => {
    const line = logged({ output: { [field]: SECRET, Name: "prod/db" } });
    expect(line["output"]).toEqual({ [field]: REDACTED, Name: "prod/db" });
  });

  it("blanks an authorization header of a request", () => {
    const line = logged({ req: { headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" } } });
    expect(line["req"]).toEqual({ headers: { authorization: REDACTED, "content-type": "application/json" } });
  });

  it("keeps the fields that are not secret", () => {
    const line = logged({ secretName: "prod/db", versionId: "v1", rule: "payments", value: SECRET });
    expect(line).toMatchObject({ secretName: "prod/db", versionId: "v1", rule: "payments", value: REDACTED, service: "test" });
  });

  it("lists every path once", () => {
    expect(new Set(REDACT_PATHS).size).toBe(REDACT_PATHS.length);
  });
});

describe("loggableHeaders", () => {
  it("drops credentials and keeps the allow-listed headers", () => {
    expect(
      loggableHeaders({
        Authorization: `Basic ${SECRET}`,
        "x-api-key": SECRET,
        cookie: `session=${SECRET}`,
        "Content-Type": "application/json",
        "aeg-event-type": "Notification",
        "x-request-id": "req-1",
      }),
    ).toStrictEqual({ "content-type": "application/json", "aeg-event-type": "Notification", "x-request-id": "req-1" });
  });

  it("drops headers it does not know, so a new secret header is safe by default", () => {
    expect(loggableHeaders({ "x-credmesh-connection-secret": SECRET, "x-custom": "anything" })).toStrictEqual({});
  });

  it("joins repeated headers and skips absent ones", () => {
    expect(loggableHeaders({ "user-agent": ["a", "b"], traceparent: undefined })).toStrictEqual({ "user-agent": "a, b" });
  });

  it("never allow-lists a header that carries credentials", () => {
    for (const name of ["authorization", "x-api-key", "cookie", "proxy-authorization", "aeg-sas-key", "aeg-sas-token"]) {
      expect(LOGGABLE_HEADERS.has(name)).toBe(false);
    }
  });
});
