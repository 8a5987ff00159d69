/**
 * CLI entry for the local mesh (`credmesh up`): a service-account token issuer that keeps a
 * projected token file fresh, as a cluster's API server and kubelet do for a pod.
 *
 *   node test/support/service-account-issuer-main.ts --token-file /tmp/credmesh/azure-identity-token \
 *     [--namespace credmesh] [--service-account replicator-aws] [--port 0] [--lifetime-seconds 3600]
 *
 * Prints one JSON line — issuer, jwksUri, discoveryUri, subject, audience, tokenFile, and the
 * `federatedCredential` to hand the Key Vault emulator (minus clientId) — once the file is written.
 * Stops on SIGTERM or SIGINT.
 */
import { parseArgs } from "node:util";
import { AZURE_TOKEN_EXCHANGE_AUDIENCE, startServiceAccountIssuer } from "./service-account-issuer.ts";

const { values } = parseArgs({
  options: {
    "token-file": { type: "string" },
    namespace: { type: "string", default: "credmesh" },
    "service-account": { type: "string", default: "replicator-aws" },
    port: { type: "string", default: "0" },
    "lifetime-seconds": { type: "string", default: "3600" },
  },
  strict: true,
});

const tokenFile = values["token-file"];
if (!tokenFile) {
  process.stderr.write("--token-file is required\n");
  process.exit(2);
}
const port = Number(values.port);
const lifetimeSeconds = Number(values["lifetime-seconds"]);
if (!Number.isInteger(port) || !Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 60) {
  process.stderr.write("--port must be an integer and --lifetime-seconds an integer of at least 60\n");
  process.exit(2);
}

const issuer = await startServiceAccountIssuer({ port });
const subject = issuer.subjectOf(values.namespace, values["service-account"]);
const stopProjection = await issuer.projectTokenFile(tokenFile, {
  namespace: values.namespace,
  serviceAccount: values["service-account"],
  lifetimeSeconds,
});
// The projection timer is unref'ed; this keeps the process alive until a signal arrives.
const keepAlive = setInterval(() => undefined, 1 << 30);
process.stdout.write(
  `${JSON.stringify({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    discoveryUri: issuer.discoveryUri,
    subject,
    audience: AZURE_TOKEN_EXCHANGE_AUDIENCE,
    tokenFile,
    federatedCredential: { issuer: issuer.issuer, subject, audience: AZURE_TOKEN_EXCHANGE_AUDIENCE, jwksUri: issuer.jwksUri },
  })}\n`,
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    clearInterval(keepAlive);
    stopProjection();
    issuer.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
