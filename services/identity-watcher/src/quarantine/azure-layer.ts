import { readFileSync } from "node:fs";
import { request } from "node:https";
import type { TokenCredential } from "@azure/core-auth";
import { CredmeshError } from "@credmesh/errors";
import type { QuarantineRecord } from "@credmesh/events";

export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
export const DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com";

/** The cell's Entra principal: a service principal object id, or the appId of its application. */
export type AzurePrincipal = { servicePrincipalId: string } | { appId: string };

/**
 * The Azure layer of a cell's quarantine: its service principal is disabled through Microsoft Graph
 * (`PATCH /v1.0/servicePrincipals/{id}` with `accountEnabled: false`; released: `true`), so Entra
 * refuses it new tokens (AADSTS7000112). Access tokens Entra already issued stay valid until they
 * expire (60–90 minutes) — Entra cannot revoke them — which is why the in-mesh layer, not this one,
 * is what stops the cell's Key Vault calls at once. The watcher's identity needs the Graph
 * application permission `Application.ReadWrite.OwnedBy` (owner of the cell's app) or `.All`.
 */
export class AzureQuarantineLayer {
  readonly #endpoint: string;
  readonly #credential: TokenCredential;
  readonly #ca: string | undefined;

  constructor(options: { credential: TokenCredential; endpoint?: string; caFile?: string }) {
    this.#endpoint = (options.endpoint ?? DEFAULT_GRAPH_ENDPOINT).replace(/\/$/, "");
    this.#credential = options.credential;
    this.#ca = options.caFile ? readFileSync(options.caFile, "utf8") : undefined;
  }

  async apply(principal: AzurePrincipal, record: QuarantineRecord, signal: AbortSignal): Promise<void> {
    await this.#call("PATCH", principalPath(principal), { accountEnabled: record.state !== "quarantined" }, signal);
  }

  /** Whether the principal is enabled, as Graph has it. */
  async enabled(principal: AzurePrincipal, signal: AbortSignal): Promise<boolean> {
    const body = (await this.#call("GET", `${principalPath(principal)}?$select=accountEnabled`, undefined, signal)) as { accountEnabled?: unknown };
    return body.accountEnabled === true;
  }

  async #call(method: "GET" | "PATCH", path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const token = await this.#credential.getToken(GRAPH_SCOPE, { abortSignal: signal });
    if (!token) throw new CredmeshError("identity_unavailable", "no Microsoft Graph token");
    const url = new URL(`${this.#endpoint}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          signal,
          ...(this.#ca ? { ca: this.#ca } : {}),
          headers: {
            authorization: `Bearer ${token.token}`,
            accept: "application/json",
            ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString("utf8");
            if (status >= 200 && status < 300) {
              resolve(text === "" ? {} : (JSON.parse(text) as unknown));
              return;
            }
            // Graph's error code only (Authorization_RequestDenied, Request_ResourceNotFound, ...): its message text stays out.
            let code: string | undefined;
            try {
              code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
            } catch {
              code = undefined;
            }
            const reason = status === 401 ? "unauthenticated" : status === 403 ? "access_denied" : status === 404 ? "not_found" : status === 429 ? "throttled" : status >= 500 ? "unavailable" : "validation";
            reject(new CredmeshError(reason, `Microsoft Graph ${method} ${url.pathname} answered ${status}${code ? ` ${code}` : ""}`, { status, ...(code ? { code } : {}) }));
          });
          res.on("error", reject);
        },
      );
      req.on("error", (error) => reject(new CredmeshError(signal.aborted ? "timeout" : "network", `Microsoft Graph ${method} ${url.pathname} failed`, { cause: error })));
      req.end(payload);
    });
  }
}

function principalPath(principal: AzurePrincipal): string {
  return "servicePrincipalId" in principal
    ? `/v1.0/servicePrincipals/${encodeURIComponent(principal.servicePrincipalId)}`
    : `/v1.0/servicePrincipals(appId='${encodeURIComponent(principal.appId)}')`;
}
