import { CORRELATION_ID, KEY_VAULT_OBJECT_NAME, KEY_VAULT_VERSION, VAULT_NAME as VAULT_NAME_PATTERN } from "@credmesh/identifiers";
import type { Expectation } from "../json/fields.ts";

/**
 * The shapes of Azure identifiers as the event schemas accept them. Checking them while reading
 * turns a bad field into a named issue instead of a late schema failure.
 * @see ../../../../../shared/FORMATS.md sections C and E
 */

/** Event Grid ids are GUIDs; the id also becomes the JetStream message id and the correlation id. */
export const EVENT_ID: Expectation = { pattern: CORRELATION_ID, expected: "an event id (GUID)" };

export const EVENT_TYPE: Expectation = { pattern: /^[A-Za-z0-9.]{1,128}$/, expected: "an event type like Microsoft.KeyVault.SecretNewVersionCreated" };

/** Key Vault names: 3–24 letters, digits and dashes. */
export const VAULT_NAME: Expectation = { pattern: VAULT_NAME_PATTERN, expected: "a Key Vault name (3–24 letters, digits, -)" };

/** Secret, key and certificate names: 1–127 letters, digits and dashes. */
export const OBJECT_NAME: Expectation = { pattern: KEY_VAULT_OBJECT_NAME, expected: "a Key Vault object name (1–127 letters, digits, -)" };

/** Object versions: 32 hex digits (Key Vault writes them in lowercase; either case is read, then lowercased). */
export const OBJECT_VERSION: Expectation = { pattern: new RegExp(KEY_VAULT_VERSION.source, "i"), expected: "a Key Vault version (32 hex digits)" };

/** The validation code is echoed back to Event Grid, so only a plain token is echoed. */
export const VALIDATION_CODE: Expectation = { pattern: /^[A-Za-z0-9-]{1,128}$/, expected: "a validation code (GUID)" };
