/**
 * Small HTTP helpers shared by the emulator's handlers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** A handler's answer, rendered by {@link sendJson}. */
export interface JsonResponse {
  readonly status: number;
  /** Serialised as JSON; omitted for bodiless answers such as 204. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Reads a request body as UTF-8, or returns undefined when it exceeds `limitBytes`.
 *
 * The limit keeps a runaway client from filling memory; it is far above anything Key Vault accepts
 * (a 25,600-byte value with 15 tags), so it never changes an answer a real vault would give.
 */
export async function readBody(request: IncomingMessage, limitBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    // Keep draining so the connection stays usable, but stop buffering.
    if (size > limitBytes) tooLarge = true;
    else chunks.push(buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks).toString("utf8");
}

/** Writes `response` as JSON with `baseHeaders` under its own headers. */
export function sendJson(
  res: ServerResponse,
  response: JsonResponse,
  baseHeaders: Readonly<Record<string, string>>,
): void {
  const payload = response.body === undefined ? undefined : JSON.stringify(response.body);
  const headers: Record<string, string> = { ...baseHeaders, ...response.headers };
  if (payload !== undefined) {
    headers["content-type"] = "application/json; charset=utf-8";
    headers["content-length"] = String(Buffer.byteLength(payload));
  } else {
    headers["content-length"] = "0";
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}
