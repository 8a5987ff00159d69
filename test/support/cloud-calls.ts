import type { Mesh } from "./mesh.ts";

/**
 * Cloud calls counted outside the code under test: Secrets Manager calls as the recording proxy in
 * front of moto saw them (STS and other services excluded), Key Vault calls as the emulator's own
 * request statistics tell them (its token endpoints excluded; a 401 challenge is a vault call and
 * counts). Take a {@link CloudCallWindow} around work that nothing else runs beside.
 */
export interface CloudCalls {
  aws: Record<string, number>;
  azure: Record<string, number>;
}

/** The emulator's counters that are identity traffic, not vault calls. */
const IDENTITY_COUNTERS: ReadonlySet<string> = new Set(["GetToken", "OpenIdConfiguration", "Jwks", "EntraToken", "EntraTokenRejected", "BearerRejected"]);

export interface CloudCallWindow {
  /** Calls since the window opened, per cloud and operation. */
  calls(): CloudCalls;
  /** Their totals per cloud. */
  totals(): { aws: number; azure: number; all: number };
}

/** Opens a window: calls made from now on are counted. */
export function cloudCallWindow(mesh: Pick<Mesh, "awsProxy" | "keyVault">): CloudCallWindow {
  const awsStart = mesh.awsProxy.requests.length;
  const azureStart = mesh.keyVault.stats();
  const calls = (): CloudCalls => {
    const aws: Record<string, number> = {};
    for (const request of mesh.awsProxy.requests.slice(awsStart)) {
      if (!request.action.startsWith("secretsmanager.")) continue;
      const operation = request.action.slice("secretsmanager.".length);
      aws[operation] = (aws[operation] ?? 0) + 1;
    }
    const azure: Record<string, number> = {};
    for (const [operation, count] of Object.entries(mesh.keyVault.stats())) {
      if (IDENTITY_COUNTERS.has(operation)) continue;
      const delta = count - (azureStart[operation] ?? 0);
      if (delta > 0) azure[operation] = delta;
    }
    return { aws, azure };
  };
  return {
    calls,
    totals() {
      const { aws, azure } = calls();
      const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((total, count) => total + count, 0);
      return { aws: sum(aws), azure: sum(azure), all: sum(aws) + sum(azure) };
    },
  };
}
