import type { ServerResponse } from "node:http";
import { sendJson } from "@credmesh/runtime";

/**
 * The structured error every 4xx/5xx carries: a stable machine code, a human message, and the
 * paths of the problems found. Never an echo of the request body.
 */
interface ErrorBody {
  error: { code: string; message: string; issues?: readonly string[] };
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { issues?: readonly string[]; headers?: Record<string, string> } = {},
): void {
  const body: ErrorBody = { error: { code, message, ...(options.issues ? { issues: options.issues } : {}) } };
  sendJson(res, status, body, options.headers);
}
