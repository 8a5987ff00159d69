import type { LifecycleData } from "@credmesh/events";
import { isJsonObject, type Expectation } from "../json/fields.ts";
import { parseKeyVaultObjectId, vaultNameFromResourceId, type KeyVaultObjectId } from "@credmesh/identifiers";
import { OBJECT_NAME, OBJECT_VERSION, VAULT_NAME } from "./azure-ids.ts";
import type { GridEvent } from "./envelope.ts";

/**
 * The `data` of a Key Vault event (identical for all ten types). Real deliveries use PascalCase
 * keys and numeric or null NBF/EXP, but the documentation has shown camelCase keys, string values
 * and stray spaces, so keys are compared case-insensitively (and trimmed), and NBF/EXP may be a
 * number, null or a numeric string.
 * @see ../../../../../shared/FORMATS.md section C
 */
export interface KeyVaultData {
  readonly vaultName: string;
  /** Absent for vault-level events (VaultAccessPolicyChanged). */
  readonly objectName?: string;
  /** 32 lowercase hex digits, when the event names a version. */
  readonly version?: string;
  /** ISO-8601, from NBF. */
  readonly notBefore?: string;
  /** ISO-8601, from EXP. */
  readonly expiresAt?: string;
}

/** The keys credmesh reads, by their lowercase form, with the spelling used in issue paths. */
const DATA_KEYS = {
  id: "Id",
  vaultname: "VaultName",
  objecttype: "ObjectType",
  objectname: "ObjectName",
  version: "Version",
  nbf: "NBF",
  exp: "EXP",
} as const;

type DataKey = keyof typeof DATA_KEYS;

/** Unix seconds up to 9999-12-31T23:59:59Z; anything later is not a date Key Vault writes. */
const MAX_UNIX_SECONDS = 253_402_300_799;
const NUMERIC_STRING = /^\d{1,12}(\.\d+)?$/;

type ObjectType = LifecycleData["objectType"];

/**
 * Reads the Key Vault data of an event whose type announces `objectType`. Records issues (paths
 * under `at`) and returns undefined when the data cannot identify the object.
 *
 * Where a field is missing, it is taken from the envelope (the vault from `topic`/`source`, the
 * name from `subject`) or from `data.Id`. Where two sources disagree — the data names another
 * vault than the envelope, or another object type than the event type — the event is refused:
 * one of them is not what Key Vault sent.
 */
export function readKeyVaultData(event: GridEvent, objectType: ObjectType, at: string, issues: string[]): KeyVaultData | undefined {
  const before = issues.length;
  if (!isJsonObject(event.data)) {
    issues.push(`${at}data: expected an object`);
    return undefined;
  }
  const fields = foldKeys(event.data, at, issues);
  const text = (key: DataKey, expectation?: Expectation): string | undefined => readText(fields, key, at, issues, expectation);

  const rawId = text("id");
  const objectId = rawId === undefined ? undefined : parseKeyVaultObjectId(rawId);
  const idIssue = rawId !== undefined && objectId === undefined ? `${at}data.Id: expected a Key Vault object URL` : undefined;

  const vaultName = resolveVault(event, text("vaultname", VAULT_NAME), objectId, at, issues, idIssue);
  const declaredType = text("objecttype");
  if (declaredType !== undefined && objectType !== "vault" && declaredType.toLowerCase() !== objectType) {
    issues.push(`${at}data.ObjectType: expected "${capitalize(objectType)}" for ${event.eventType}`);
  }
  const objectName = objectType === "vault" ? undefined : resolveObjectName(event, text("objectname", OBJECT_NAME), objectId, at, issues, idIssue);
  const version = objectType === "vault" ? undefined : (text("version", OBJECT_VERSION)?.toLowerCase() ?? objectId?.version);
  const notBefore = readUnixSeconds(fields, "nbf", at, issues);
  const expiresAt = readUnixSeconds(fields, "exp", at, issues);

  if (issues.length > before || vaultName === undefined) return undefined;
  if (objectType !== "vault" && objectName === undefined) return undefined;
  return {
    vaultName,
    ...(objectName === undefined ? {} : { objectName }),
    ...(version === undefined ? {} : { version }),
    ...(notBefore === undefined ? {} : { notBefore }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

/** The known keys by their lowercase, trimmed form. A key given twice in different cases is an issue. */
function foldKeys(data: Readonly<Record<string, unknown>>, at: string, issues: string[]): Partial<Record<DataKey, unknown>> {
  const folded: Partial<Record<DataKey, unknown>> = {};
  for (const key of Object.keys(data)) {
    const normalized = key.trim().toLowerCase();
    if (!Object.hasOwn(DATA_KEYS, normalized)) continue;
    const known = normalized as DataKey;
    if (Object.hasOwn(folded, known)) {
      issues.push(`${at}data.${DATA_KEYS[known]}: given more than once (keys are compared case-insensitively)`);
      continue;
    }
    folded[known] = data[key];
  }
  return folded;
}

/** A string field, trimmed; undefined when absent or null; an issue for another type or shape. */
function readText(
  fields: Partial<Record<DataKey, unknown>>,
  key: DataKey,
  at: string,
  issues: string[],
  expectation?: Expectation,
): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    issues.push(`${at}data.${DATA_KEYS[key]}: expected a string`);
    return undefined;
  }
  const trimmed = value.trim();
  if (expectation && !expectation.pattern.test(trimmed)) {
    issues.push(`${at}data.${DATA_KEYS[key]}: expected ${expectation.expected}`);
    return undefined;
  }
  return trimmed;
}

function resolveVault(
  event: GridEvent,
  declared: string | undefined,
  objectId: KeyVaultObjectId | undefined,
  at: string,
  issues: string[],
  idIssue: string | undefined,
): string | undefined {
  const fromTopic = event.topic === undefined ? undefined : vaultNameFromResourceId(event.topic);
  if (declared !== undefined && fromTopic !== undefined && declared.toLowerCase() !== fromTopic.toLowerCase()) {
    issues.push(`${at}data.VaultName: does not match the vault in ${event.topicField}`);
    return undefined;
  }
  const vault = declared ?? fromTopic ?? objectId?.vaultName;
  if (vault === undefined) issues.push(idIssue ?? `${at}data.VaultName: required (the vault is not in ${event.topicField} or data.Id either)`);
  return vault;
}

function resolveObjectName(
  event: GridEvent,
  declared: string | undefined,
  objectId: KeyVaultObjectId | undefined,
  at: string,
  issues: string[],
  idIssue: string | undefined,
): string | undefined {
  const fromSubject = event.subject !== undefined && OBJECT_NAME.pattern.test(event.subject) ? event.subject : undefined;
  const name = declared ?? fromSubject ?? objectId?.name;
  if (name === undefined) issues.push(idIssue ?? `${at}data.ObjectName: required (the name is not in subject or data.Id either)`);
  return name;
}

/** NBF/EXP: Unix seconds as a number or a numeric string, or null. Returned as ISO-8601. */
function readUnixSeconds(fields: Partial<Record<DataKey, unknown>>, key: "nbf" | "exp", at: string, issues: string[]): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  const seconds = typeof value === "number" ? value : typeof value === "string" && NUMERIC_STRING.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_UNIX_SECONDS) {
    issues.push(`${at}data.${DATA_KEYS[key]}: expected Unix seconds (a number, a numeric string, or null)`);
    return undefined;
  }
  return new Date(Math.floor(seconds) * 1000).toISOString().replace(".000Z", "Z");
}

function capitalize(word: string): string {
  return `${word.charAt(0).toUpperCase()}${word.slice(1)}`;
}
