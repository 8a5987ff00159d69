import type { z } from "zod";

/**
 * Reading and checking what crosses a process boundary, for every record and event of this
 * package: one error type, one way to turn schema issues into messages (paths and zod's own
 * texts, never the offending input), one way to decode bytes.
 */

/** Raised when bytes or an object are not a valid event or record. Carries paths, never values. */
export class InvalidEventError extends Error {
  readonly issues: readonly string[];

  constructor(issues: readonly string[], what = "mutation event") {
    super(`invalid ${what}: ${issues.join("; ")}`);
    this.name = "InvalidEventError";
    this.issues = issues;
  }
}

/** Validates `candidate` against `schema`, deep-frozen; throws {@link InvalidEventError} naming `what`. */
export function validated<S extends z.ZodType>(schema: S, candidate: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(candidate);
  if (!result.success) {
    throw new InvalidEventError(
      result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
      what,
    );
  }
  return deepFreeze(result.data);
}

/** Strict UTF-8 both ways; stateless between calls, so one of each serves every event (ingest builds one per webhook). */
const UTF8_IN = new TextDecoder("utf-8", { fatal: true });
const UTF8_OUT = new TextEncoder();

/** Parses UTF-8 JSON bytes from the bus and validates them against `schema`. */
export function decoded<S extends z.ZodType>(schema: S, bytes: Uint8Array, what: string): z.infer<S> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(UTF8_IN.decode(bytes));
  } catch {
    throw new InvalidEventError(["body is not UTF-8 JSON"], what);
  }
  return validated(schema, parsed, what);
}

/** `text` cut to `max` characters (with an ellipsis): a long detail must not cost the record. */
export function capped(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** The bytes of an event or record on the bus. */
export function encoded(value: unknown): Uint8Array {
  return UTF8_OUT.encode(JSON.stringify(value));
}

/**
 * Freezes a tree of plain objects and arrays (what zod and JSON.parse return: no cycles, no
 * prototypes with state). Children first, by `for…in`, with no allocation: this runs for every
 * event ingest builds and every event a consumer decodes.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const key in value) deepFreeze(value[key]);
    Object.freeze(value);
  }
  return value;
}
