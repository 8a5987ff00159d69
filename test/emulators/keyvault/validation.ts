/**
 * Validation of secret names and request bodies, with Key Vault's limits and error shapes.
 *
 * @see FORMATS.md §E for the limits (name pattern, 25k value, 15 tags, 255-char content type).
 */
import { badParameter, invalidName, invalidProperty } from "./errors.ts";
import {
  MAX_CONTENT_TYPE_LENGTH,
  MAX_TAGS,
  MAX_TAG_LENGTH,
  MAX_VALUE_BYTES,
  SECRET_NAME_PATTERN,
} from "./model.ts";
import type { SecretVersionInput, SetSecretInput } from "./model.ts";

/** Returns the name if Key Vault would accept it, else throws 400 "invalid name". */
export function checkName(name: string): string {
  if (!SECRET_NAME_PATTERN.test(name)) throw invalidName(name);
  return name;
}

/** Parses a JSON request body; anything but a JSON object is a 400 BadParameter. */
export function parseJsonObject(raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badParameter("The request body is not valid JSON.");
  }
  if (!isObject(parsed)) throw badParameter("The request body must be a JSON object.");
  return parsed;
}

/** The body of `PUT /secrets/{name}`. */
export function parseSetSecret(body: Record<string, unknown>): SetSecretInput {
  const value = body["value"];
  if (typeof value !== "string") throw badParameter("The secret value is required and must be a string.");
  if (Buffer.byteLength(value, "utf8") > MAX_VALUE_BYTES) throw invalidProperty();
  return { value, ...parseVersionInput(body) };
}

/** The body of `PATCH /secrets/{name}/{version}`; a `value` in it is ignored, as the service does. */
export function parseVersionInput(body: Record<string, unknown>): SecretVersionInput {
  const attributes = optionalObject(body["attributes"]);
  return {
    contentType: parseContentType(body["contentType"]),
    tags: parseTags(body["tags"]),
    enabled: optionalBoolean(attributes?.["enabled"]),
    nbf: optionalIntDate(attributes?.["nbf"]),
    exp: optionalIntDate(attributes?.["exp"]),
  };
}

function parseContentType(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "string" || raw.length > MAX_CONTENT_TYPE_LENGTH) throw invalidProperty();
  return raw;
}

/** Tags: an object of strings, at most 15, names and values at most 256 characters. */
function parseTags(raw: unknown): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw invalidProperty();
  const entries = Object.entries(raw);
  if (entries.length > MAX_TAGS) throw invalidProperty();
  const tags: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (typeof value !== "string") throw invalidProperty();
    if (name.length === 0 || name.length > MAX_TAG_LENGTH || value.length > MAX_TAG_LENGTH) throw invalidProperty();
    tags[name] = value;
  }
  return tags;
}

function optionalObject(raw: unknown): Record<string, unknown> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw invalidProperty();
  return raw;
}

function optionalBoolean(raw: unknown): boolean | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "boolean") throw invalidProperty();
  return raw;
}

/** IntDate: whole Unix seconds. */
function optionalIntDate(raw: unknown): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "number" || !Number.isSafeInteger(raw) || raw < 0) throw invalidProperty();
  return raw;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
