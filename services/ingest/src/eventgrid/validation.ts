import { isJsonObject } from "../json/fields.ts";
import { VALIDATION_CODE } from "./azure-ids.ts";
import type { GridEvent } from "./envelope.ts";

/**
 * The subscription validation event (Event Grid schema only; CloudEvents subscriptions use the
 * OPTIONS handshake instead). Only the code is read: it is answered synchronously, so the
 * `validationUrl` (which carries a token of its own) is neither used nor logged.
 * @see ../../../../../shared/FORMATS.md section D
 */
export function readValidationCode(event: GridEvent, at: string, issues: string[]): string | undefined {
  if (!isJsonObject(event.data)) {
    issues.push(`${at}data: expected an object`);
    return undefined;
  }
  // Case-insensitive like the Key Vault data: the documentation and SDKs spell it validationCode.
  const key = Object.keys(event.data).find((candidate) => candidate.trim().toLowerCase() === "validationcode");
  const code = key === undefined ? undefined : event.data[key];
  if (code === undefined || code === null) {
    issues.push(`${at}data.validationCode: required`);
    return undefined;
  }
  if (typeof code !== "string" || !VALIDATION_CODE.pattern.test(code)) {
    issues.push(`${at}data.validationCode: expected ${VALIDATION_CODE.expected}`);
    return undefined;
  }
  return code;
}
