/**
 * `credmesh up`: the whole mesh on this machine with emulated clouds — nats-server (JetStream),
 * moto (AWS Secrets Manager + STS), the Key Vault emulator (Azure Key Vault + managed identity),
 * ingest and a replicator for destination Azure, all as local processes on 127.0.0.1. Then it
 * shows one secret replicating: created in "AWS", announced by its EventBridge event, read back
 * from "Azure". With --once it exits after the demonstration (used by the test suite).
 */
import { randomBytes } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { BusTap } from "../test/support/bus-tap.ts";
import { cloudTrailEvent } from "../test/support/eventbridge.ts";
import { AWS_ACCOUNT, AWS_REGION, startMesh } from "../test/support/mesh.ts";

const once = process.argv.includes("--once");
const out = (line = ""): void => void process.stdout.write(`${line}\n`);

const mesh = await startMesh();
const tap = new BusTap(mesh.bus, "credmesh.>");
let stopping = false;
const stop = async (code: number): Promise<never> => {
  if (!stopping) {
    stopping = true;
    tap.stop();
    await mesh.stop();
  }
  process.exit(code);
};
process.once("SIGINT", () => void stop(0));
process.once("SIGTERM", () => void stop(0));

try {
  out("credmesh local mesh is up (Ctrl-C stops everything)");
  out(`  NATS JetStream   ${mesh.nats.url}   (TLS, CA: ${mesh.nats.security?.caFile ?? "-"}; one identity per role)`);
  out(`  AWS (moto)       ${mesh.moto.endpoint}   account ${AWS_ACCOUNT}, region ${AWS_REGION}`);
  out(`  Azure Key Vault  ${mesh.keyVault.vaultUrl}   (CA: ${mesh.keyVault.caCertPath})`);
  out(`  ingest           ${mesh.ingestUrl}/webhooks/eventbridge   (header ${mesh.apiKeyHeader}: ${mesh.apiKey})`);
  out(`  ingest ops       ${mesh.ingestUrl}/healthz  /readyz  /metrics`);
  out(`  replicator ops   ${mesh.replicatorOpsUrl}/healthz  /readyz  /metrics`);
  out(`  rules            ${mesh.rulesFile}`);
  out(`  audit tap        nats ${mesh.nats.natsArgs({ kind: "auditor" }).join(" ")} sub 'credmesh.audit.>'`);
  out(`  operator CLI     scripts/credmesh status ${mesh.nats.credmeshArgs().join(" ")}`);
  out();

  const name = `prod/demo/db-password-${randomBytes(3).toString("hex")}`;
  const value = randomBytes(24).toString("base64url");
  const created = await mesh.secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  out(`1. created AWS secret ${name} (version ${created.VersionId})`);
  const event = cloudTrailEvent(
    "aws-cloudtrail-createsecret.json",
    { arn: created.ARN ?? "", name, account: AWS_ACCOUNT, region: AWS_REGION },
    { versionId: created.VersionId ?? "" },
  );
  const response = await fetch(`${mesh.ingestUrl}/webhooks/eventbridge`, {
    method: "POST",
    headers: { "content-type": "application/json", [mesh.apiKeyHeader]: mesh.apiKey },
    body: JSON.stringify(event),
  });
  out(`2. posted its EventBridge CreateSecret event ${String(event.id)} → HTTP ${response.status}`);
  const audit = await tap.auditFor(event.id as string);
  const destination = audit.destination as { name: string; versionId?: string };
  out(`3. replicator decision: ${audit.decision} → Key Vault secret ${destination.name} (version ${destination.versionId})`);
  const replica = await mesh.keyVaultClient.getSecret(destination.name);
  const tags = Object.entries(replica.properties.tags ?? {})
    .filter(([key]) => key !== "credmesh-content-hash")
    .map(([key, tag]) => `${key}=${tag}`);
  out(`4. read back from Azure: value ${replica.value === value ? "matches the AWS value" : "DOES NOT MATCH"} (not shown)`);
  out(`   provenance tags: ${tags.join(", ")}`);
  if (replica.value !== value) await stop(1);
  if (once) await stop(0);
  out();
  out("Try it: create or change a secret with any AWS SDK against the moto endpoint, post its");
  out("EventBridge event to ingest (see ../shared/fixtures for shapes), and watch the audit tap.");
} catch (error) {
  process.stderr.write(`credmesh up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.stderr.write(`--- ingest ---\n${mesh.ingest.tail(10)}\n--- replicator ---\n${mesh.replicator.tail(10)}\n`);
  await stop(1);
}
