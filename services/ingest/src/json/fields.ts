/**
 * Small readers over untrusted JSON. Every issue they record names a path and what was expected
 * there, never the value found, so issues can go into responses and logs as they are.
 */

export type JsonObject = { readonly [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An own property only: a body key like "constructor" must not reach the prototype. */
export function own(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** An object member, or an empty object when the member is absent or null (CloudTrail writes null). */
export function objectField(object: JsonObject, key: string, path: string, issues: string[]): JsonObject {
  const value = own(object, key);
  if (value === undefined || value === null) return {};
  if (isJsonObject(value)) return value;
  issues.push(`${path}: expected an object`);
  return {};
}

export interface Expectation {
  readonly pattern: RegExp;
  /** Completes "expected …" in the issue, e.g. "12 digits". */
  readonly expected: string;
}

/**
 * ISO-8601 with a zone, as both senders write it: EventBridge with seconds, Event Grid with up to
 * seven fractional digits (…27.1234567Z).
 */
export const TIMESTAMP: Expectation = {
  pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/,
  expected: "an ISO-8601 timestamp with a zone",
};

export function isTimestamp(value: string): boolean {
  return TIMESTAMP.pattern.test(value) && !Number.isNaN(Date.parse(value));
}

/**
 * A string member: undefined when absent or null; an issue when it has another type or does not
 * match the expectation.
 */
export function stringField(
  object: JsonObject,
  key: string,
  path: string,
  issues: string[],
  expectation?: Expectation,
): string | undefined {
  const value = own(object, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    issues.push(`${path}: expected a string`);
    return undefined;
  }
  if (expectation && !expectation.pattern.test(value)) {
    issues.push(`${path}: expected ${expectation.expected}`);
    return undefined;
  }
  return value;
}

/** Like {@link stringField}, and records an issue when the member is missing. */
export function requiredString(
  object: JsonObject,
  key: string,
  path: string,
  issues: string[],
  expectation?: Expectation,
): string | undefined {
  const value = own(object, key);
  if (value === undefined || value === null) {
    issues.push(`${path}: required`);
    return undefined;
  }
  return stringField(object, key, path, issues, expectation);
}
