/**
 * Reading JSON without a shared schema (the reconcile reply) without trusting its shape: every
 * field the CLI shows is type-checked here. Events and records have their schemas in @credmesh/events.
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-empty string, capped: identifiers and sanitized messages are short, anything else is cut. */
export function text(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  return value.length > 512 ? `${value.slice(0, 509)}...` : value;
}


/** JSON.parse of UTF-8 bytes; undefined when the bytes are not JSON. */
export function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    return undefined;
  }
}
