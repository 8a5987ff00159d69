import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTlsMaterial } from "../../../test/emulators/keyvault/tls.ts";
import { startBenchMesh, type BenchMesh, type MeshOptions } from "../mesh/mesh.ts";
import type { RunContext } from "../section.ts";
import { startQuotaProxy, type QuotaProxy } from "./quota-proxy.ts";

/** A quota to enforce in front of one emulator (`limit: Infinity` only counts). */
export interface ProxyQuota {
  counted: ReadonlySet<string>;
  limit: number;
  windowMs: number;
}

/**
 * The bench mesh with a quota proxy between the replicators and moto (`aws`) and/or the Key Vault
 * emulator (`azure`; TLS terminated with the proxy's own CA, which the replicators trust beside the
 * emulator's). The bench's own clients still talk to the emulators directly.
 */
export async function startProxiedMesh(
  context: RunContext,
  quotas: { aws?: ProxyQuota; azure?: ProxyQuota },
  options: Pick<MeshOptions, "destinations" | "replicatorEnv"> = {},
): Promise<{ mesh: BenchMesh; proxies: { aws?: QuotaProxy; azure?: QuotaProxy } }> {
  const proxies: { aws?: QuotaProxy; azure?: QuotaProxy } = {};
  context.defer(async () => Promise.all([proxies.aws?.stop(), proxies.azure?.stop()]));
  const mesh = await startBenchMesh({
    ...options,
    ...(quotas.aws === undefined
      ? {}
      : {
          awsEndpointForReplicators: async (moto: string) => {
            proxies.aws = await startQuotaProxy({ target: moto, flavor: "aws-json", ...(quotas.aws as ProxyQuota) });
            return proxies.aws.endpoint;
          },
        }),
    ...(quotas.azure === undefined
      ? {}
      : {
          keyVaultForReplicators: async (emulator: { vaultUrl: string; caCertPath: string }, dir: string) => {
            const tlsDir = join(dir, "quota-proxy-tls");
            await mkdir(tlsDir);
            const tls = await createTlsMaterial(tlsDir);
            const emulatorCa = readFileSync(emulator.caCertPath, "utf8");
            const caFile = join(dir, "ca-bundle.pem");
            await writeFile(caFile, `${emulatorCa}\n${readFileSync(tls.caCertPath, "utf8")}`);
            proxies.azure = await startQuotaProxy({
              target: emulator.vaultUrl,
              flavor: "keyvault",
              ...(quotas.azure as ProxyQuota),
              tls: { cert: tls.cert, key: tls.key, upstreamCa: emulatorCa },
            });
            return { vaultUrl: proxies.azure.endpoint, caFile };
          },
        }),
  });
  context.defer(() => mesh.stop());
  return { mesh, proxies };
}
