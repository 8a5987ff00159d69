import type { IncomingMessage } from "node:http";

/** Strict UTF-8 (invalid bytes are an error, not U+FFFD); stateless between calls, so one serves every request. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

export type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; status: 400 | 413 | 415; code: string; message: string };

/**
 * Reads a JSON body under a size cap. The cap is enforced while streaming (and up front from
 * Content-Length), so an oversized body is refused without being buffered.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number, mediaTypes: readonly string[]): Promise<BodyResult> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!mediaTypes.includes(type)) {
    req.resume();
    return { ok: false, status: 415, code: "unsupported_media_type", message: `content-type must be ${mediaTypes.join(" or ")}` };
  }
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
  if (encoding !== "identity") {
    req.resume();
    return { ok: false, status: 415, code: "unsupported_content_encoding", message: "content-encoding is not supported" };
  }
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limitBytes) {
    req.resume();
    return tooLarge(limitBytes);
  }
  const body = await collect(req, limitBytes);
  if (body === undefined) return tooLarge(limitBytes);
  try {
    return { ok: true, value: JSON.parse(UTF8.decode(body)) };
  } catch {
    return { ok: false, status: 400, code: "malformed_json", message: "the body is not UTF-8 JSON" };
  }
}

function tooLarge(limitBytes: number): BodyResult {
  return { ok: false, status: 413, code: "payload_too_large", message: `the body exceeds ${limitBytes} bytes` };
}

/**
 * Buffers the body, or resolves undefined as soon as it passes the cap. The rest is drained and
 * discarded rather than destroying the socket, so the client still receives our 413.
 */
function collect(req: IncomingMessage, limitBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      req.off("data", onData);
      req.resume();
      resolve(undefined);
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
