import type { AuditRecord, QuarantineAuditRecord } from "@credmesh/events";
import { clean, table } from "../output.ts";

/** What the status screen of `credmesh up` shows; built from the running mesh (command/up.ts). */
export interface UpScreen {
  parts: { name: string; what: string; address: string; pid: number | undefined }[];
  natsUrl: string;
  /** The seed files of the auditor's and the operator's bus identities (this run's). */
  auditorSeedFile: string;
  operatorSeedFile: string;
  natsMonitorUrl: string;
  awsEndpoint: string;
  awsRegion: string;
  vaultUrl: string;
  imdsEndpoint: string;
  azureCaFile: string;
  prometheusUrl: string | undefined;
  reconcileIntervalSeconds: number;
  rules: { id: string; from: string; to: string }[];
  keysFile: string;
  logDir: string;
}

/**
 * The screen printed once everything runs: what runs where, the rules, how to tap the audit trail
 * and how to try it. Pure (unit-tested); nothing in it is secret — the local keys stay in a file.
 */
export function renderUpScreen(screen: UpScreen): string {
  const operator = (command: string) => `CREDMESH_NATS_PLAINTEXT=true scripts/credmesh ${command} --server ${screen.natsUrl} --nkey ${screen.operatorSeedFile}`;
  const rows = screen.parts.map((part) => [part.name, part.address, part.pid ?? "-", part.what]);
  return [
    `credmesh local mesh is up: both directions, anti-entropy every ${screen.reconcileIntervalSeconds} s as the change feed (Ctrl-C stops everything)`,
    "",
    table(["part", "address", "pid", "what"], rows),
    "",
    ...screen.rules.map((rule) => `rule        ${rule.id}: ${rule.from} → ${rule.to}`),
    `audit tap   nats --server ${screen.natsUrl} --nkey ${screen.auditorSeedFile} --inbox-prefix _INBOX.auditor sub 'credmesh.audit.>'`,
    `status      ${operator("status")}`,
    `quarantine  ${operator("quarantine local-azure-1 --reason test")}`,
    "            (the bus admits one identity per role; this run's seeds are beside these two; plaintext: local only)",
    `NATS        monitoring ${screen.natsMonitorUrl}`,
    screen.prometheusUrl === undefined ? "Prometheus  not running" : `Prometheus  ${screen.prometheusUrl} (every service, credmesh's alert rules; dashboard queries: deploy/grafana/dashboards)`,
    `keys        ${screen.keysFile} (this run's EventBridge API key and Event Grid shared key, for posting events by hand)`,
    `logs        ${screen.logDir}/<part>.log`,
    "",
    "Try it (no event to write: the replicators' anti-entropy picks changes up):",
    `  AWS:   AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url ${screen.awsEndpoint} --region ${screen.awsRegion} \\`,
    `           secretsmanager create-secret --name prod/demo/db-password --secret-string "$(openssl rand -hex 16)"`,
    "         → Key Vault secret prod-demo-db-password-h<hash>",
    `  Azure: any Azure SDK, vault URL ${screen.vaultUrl}, trusting ${screen.azureCaFile},`,
    `         token from the managed-identity endpoint ${screen.imdsEndpoint}: a secret named prod-… → AWS secret of the same name`,
    "",
    "Replications (live, as the audit trail records them):",
  ].join("\n");
}

/** One live line per replicator decision: time, decision, direction, source → replica, rule. */
export function formatAuditLine(record: AuditRecord): string {
  const time = clean(record.at.slice(11, 19));
  const source = record.origin.cloud === "aws" ? (record.origin.secretName ?? record.origin.secretId) : `${record.origin.vaultName}/${record.origin.secretName}`;
  const target = record.destination.name === "" ? "(dead-lettered)" : record.destination.name;
  const why = record.reason === undefined ? "" : `, ${clean(record.reason)}`;
  return `  ${time}  ${clean(record.decision).padEnd(17)} ${record.origin.cloud} → ${record.destination.cloud}  ${clean(source)} → ${clean(target)}  (${clean(record.rule)}${why})`;
}

/** One live line per quarantine or release of a cell. */
export function formatQuarantineLine(record: QuarantineAuditRecord): string {
  return `  ${clean(record.at.slice(11, 19))}  ${clean(record.decision).padEnd(17)} cell ${clean(record.cell)} by ${clean(record.by)}: ${clean(record.reason)}`;
}
