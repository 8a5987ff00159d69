/**
 * The tenant's service principals as far as quarantine needs them: which exist, and which are
 * disabled (`accountEnabled: false`). Entra refuses a disabled principal every new token — at the
 * client-credentials endpoint (federated assertions) and, for a managed identity, at IMDS — with
 * AADSTS7000112, as the real service does; tokens it issued before stay valid until they expire.
 */
export interface ServicePrincipal {
  /** The service principal's object id (the `oid` of its tokens). */
  readonly objectId: string;
  /** Its application (client) id. */
  readonly appId: string;
  readonly displayName: string;
  accountEnabled: boolean;
}

/** Microsoft Graph application permissions, as `roles` claims of app-only tokens. */
export const GRAPH_RESOURCE = "https://graph.microsoft.com";

export class ServicePrincipals {
  readonly #byObjectId = new Map<string, ServicePrincipal>();
  readonly #graphRoles = new Map<string, Set<string>>();

  /** Registers a principal (idempotent); returns it. */
  register(principal: { objectId: string; appId: string; displayName?: string }): ServicePrincipal {
    const known = this.#byObjectId.get(principal.objectId.toLowerCase());
    if (known) return known;
    const created: ServicePrincipal = { objectId: principal.objectId.toLowerCase(), appId: principal.appId.toLowerCase(), displayName: principal.displayName ?? principal.appId, accountEnabled: true };
    this.#byObjectId.set(created.objectId, created);
    return created;
  }

  byObjectId(objectId: string): ServicePrincipal | undefined {
    return this.#byObjectId.get(objectId.toLowerCase());
  }

  byAppId(appId: string): ServicePrincipal | undefined {
    const wanted = appId.toLowerCase();
    return [...this.#byObjectId.values()].find((principal) => principal.appId === wanted);
  }

  /** Whether tokens may be issued to the application `appId` (unknown principals are enabled). */
  enabled(appId: string): boolean {
    return this.byAppId(appId)?.accountEnabled ?? true;
  }

  /** Grants a Graph application permission (e.g. `Application.ReadWrite.All`) to an application. */
  grantGraphRole(appId: string, role: string): void {
    const roles = this.#graphRoles.get(appId.toLowerCase()) ?? new Set<string>();
    roles.add(role);
    this.#graphRoles.set(appId.toLowerCase(), roles);
  }

  /** The `roles` claim of a token for `resource` issued to `appId`. */
  rolesFor(appId: string, resource: string): string[] {
    if (resource.replace(/\/$/, "") !== GRAPH_RESOURCE) return [];
    return [...(this.#graphRoles.get(appId.toLowerCase()) ?? [])];
  }

  list(): readonly ServicePrincipal[] {
    return [...this.#byObjectId.values()].map((principal) => ({ ...principal }));
  }
}

/** Entra's refusal of a disabled application (text as quoted in public reports). */
export function disabledApplication(principal: ServicePrincipal): { status: number; error: string; code: number; description: string } {
  return { status: 400, error: "unauthorized_client", code: 7000112, description: `AADSTS7000112: Application '${principal.appId}'(${principal.displayName}) is disabled.` };
}
