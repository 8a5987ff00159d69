import { classify, parseRetryAfter, type CredmeshError } from "@credmesh/errors";

interface RestErrorShape {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  details?: { error?: { code?: unknown; innerError?: { code?: unknown } } };
  response?: { bodyAsText?: unknown; headers?: { get(name: string): string | undefined } };
}

/**
 * Maps an Azure SDK RestError (or transport failure) to the taxonomy. Key Vault puts the
 * distinguishing code in `error.innererror.code` (ObjectIsDeletedButRecoverable,
 * ObjectIsBeingDeleted) while the top-level code is only "Conflict". The Key Vault SDK keeps
 * it in `details.error.innerError.code`; other clients only in the response body, which is read
 * as a fallback (FORMATS.md E). Codes only — never the message text.
 */
export function mapKeyVaultError(operation: string, error: unknown): CredmeshError {
  const e = (typeof error === "object" && error !== null ? error : {}) as RestErrorShape;
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  const detailed = e.details?.error;
  const bodyCodes = status === undefined ? {} : errorCodesFromBody(e.response?.bodyAsText);
  const innerFromDetails = typeof detailed?.innerError?.code === "string" ? detailed.innerError.code : undefined;
  const topCode = typeof e.code === "string" ? e.code : undefined;
  const isNodeCode = topCode !== undefined && /^E[A-Z]+$|^UND_ERR/.test(topCode);
  const code = innerFromDetails ?? bodyCodes.inner ?? bodyCodes.outer ?? (isNodeCode ? undefined : topCode);
  return classify(
    `keyvault ${operation}`,
    {
      status,
      code,
      nodeCode: isNodeCode ? topCode : undefined,
      retryAfterMs: parseRetryAfter(e.response?.headers?.get("retry-after")),
      timedOut: e.name === "AbortError",
    },
    error,
  );
}

/** Reads `error.code` and `error.innererror.code` from a Key Vault error body; values only from known keys. */
export function errorCodesFromBody(body: unknown): { outer?: string; inner?: string } {
  if (typeof body !== "string" || body === "") return {};
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; innererror?: { code?: unknown } } };
    const outer = typeof parsed.error?.code === "string" ? parsed.error.code : undefined;
    const inner = typeof parsed.error?.innererror?.code === "string" ? parsed.error.innererror.code : undefined;
    return { ...(outer ? { outer } : {}), ...(inner ? { inner } : {}) };
  } catch {
    return {};
  }
}
