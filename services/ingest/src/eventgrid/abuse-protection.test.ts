import { describe, expect, it } from "vitest";
import { DEFAULT_ALLOWED_ORIGINS, answerAbuseProtection } from "./abuse-protection.ts";
import { loadAzureFixture } from "./test-fixtures.ts";

interface Exchange {
  request: { method: string; headers: Record<string, string> };
  response: { status: number; headers: Record<string, string> };
}

/** Node lowercases incoming header names; the fixture shows them as Event Grid writes them. */
const incoming = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));

describe("CloudEvents abuse-protection handshake", () => {
  it("answers the fixture's request with exactly the fixture's response", () => {
    const exchange = loadAzureFixture<Exchange>("azure-cloudevents-options-handshake.json");
    expect(exchange.request.method).toBe("OPTIONS");
    const answer = answerAbuseProtection(incoming(exchange.request.headers), DEFAULT_ALLOWED_ORIGINS);
    expect({ status: answer.status, headers: answer.headers }).toStrictEqual(exchange.response);
  });

  it("compares origins case-insensitively and answers with the requested origin", () => {
    const answer = answerAbuseProtection({ "webhook-request-origin": "EventGrid.Azure.NET" }, DEFAULT_ALLOWED_ORIGINS);
    expect(answer).toMatchObject({ status: 200, headers: { "WebHook-Allowed-Origin": "EventGrid.Azure.NET" } });
  });

  it("refuses another origin with 403, and a request without one with 400", () => {
    expect(answerAbuseProtection({ "webhook-request-origin": "evil.example.com" }, DEFAULT_ALLOWED_ORIGINS)).toMatchObject({
      status: 403,
      code: "origin_not_allowed",
      headers: { Allow: "POST, OPTIONS" },
    });
    expect(answerAbuseProtection({}, DEFAULT_ALLOWED_ORIGINS)).toMatchObject({ status: 400, code: "missing_origin" });
    expect(answerAbuseProtection({ "webhook-request-origin": "  " }, DEFAULT_ALLOWED_ORIGINS)).toMatchObject({ status: 400 });
  });

  it("allows every origin when configured with *", () => {
    expect(answerAbuseProtection({ "webhook-request-origin": "partner.example.com" }, ["*"])).toMatchObject({
      status: 200,
      headers: { "WebHook-Allowed-Origin": "partner.example.com" },
    });
  });
});
