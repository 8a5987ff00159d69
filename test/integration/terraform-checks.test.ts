import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { CELL_STATUS_TAG } from "@credmesh/identity";
import { beforeAll, describe, expect, it } from "vitest";
import { EVENT_NAME_DECISIONS } from "../../services/ingest/src/eventbridge/event-names.ts";
import { DETAIL_TYPES, SECRETS_MANAGER_SOURCE } from "../../services/ingest/src/eventbridge/envelope.ts";
import { REPO_ROOT } from "../support/services.ts";
import { requireTool } from "../support/tools.ts";
import { block, evaluate, readTerraformModule, statementsOf, type PolicyStatement, type TerraformModule } from "./support/terraform.ts";

const run = promisify(execFile);
const TERRAFORM_DIR = resolve(REPO_ROOT, "deploy", "terraform");
const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** What EventBridge delivers for one rule: its event pattern, read from the HCL. */
interface EventPattern {
  source?: string[];
  "detail-type"?: string[];
  detail?: { eventSource?: string[]; eventName?: string[]; errorCode?: unknown; labelUpdated?: string[] };
}

/**
 * deploy/terraform parsed with an HCL parser and checked against the product: the EventBridge
 * rules deliver exactly what ingest replicates, every trust relationship pins who may assume it,
 * the quarantine deny matches the tag the identity-watcher sets, and no static credential exists.
 */
describe("deploy/terraform", () => {
  let aws: TerraformModule;
  let azure: TerraformModule;

  beforeAll(async () => {
    aws = await readTerraformModule(resolve(TERRAFORM_DIR, "aws"));
    azure = await readTerraformModule(resolve(TERRAFORM_DIR, "azure"));
  });

  describe("EventBridge → ingest", () => {
    const rules = () =>
      Object.entries(aws.resource.aws_cloudwatch_event_rule ?? {}).map(([name, blocks]) => ({
        name,
        pattern: JSON.parse(JSON.stringify(evaluate(aws, blocks[0]?.event_pattern))) as EventPattern,
      }));

    it("the CloudTrail rule names exactly the Secrets Manager calls ingest replicates, and only successful ones", () => {
      const replicated = Object.entries(EVENT_NAME_DECISIONS)
        .filter(([, decision]) => "publish" in decision)
        .map(([name]) => name)
        .sort();
      const cloudTrail = rules().filter((rule) => rule.pattern["detail-type"]?.some((type) => type === DETAIL_TYPES.apiCall || type === DETAIL_TYPES.serviceEvent));
      expect(cloudTrail).toHaveLength(1);
      const [rule] = cloudTrail;
      expect(rule?.pattern.source).toEqual([SECRETS_MANAGER_SOURCE]);
      expect([...(rule?.pattern["detail-type"] ?? [])].sort()).toEqual([DETAIL_TYPES.apiCall, DETAIL_TYPES.serviceEvent].sort());
      expect([...(rule?.pattern.detail?.eventName ?? [])].sort()).toEqual(replicated);
      expect(rule?.pattern.detail?.errorCode).toEqual([{ exists: false }]);
    });

    it("a rule delivers every detail-type ingest accepts, Secret Label Updated for AWSCURRENT included", () => {
      const delivered = new Set(rules().flatMap((rule) => rule.pattern["detail-type"] ?? []));
      expect([...delivered].sort()).toEqual(Object.values(DETAIL_TYPES).sort());
      const label = rules().find((rule) => rule.pattern["detail-type"]?.includes(DETAIL_TYPES.labelUpdated));
      expect(label?.pattern.source).toEqual([SECRETS_MANAGER_SOURCE]);
      expect(label?.pattern.detail?.labelUpdated).toEqual(["AWSCURRENT"]);
    });

    it("every rule targets the ingest API destination with retries and the dead-letter queue, which accepts it", () => {
      const target = block(aws.resource, "aws_cloudwatch_event_target", "ingest");
      expect(target.for_each).toBe("${local.ingest_rules}");
      expect(target.arn).toBe("${aws_cloudwatch_event_api_destination.ingest.arn}");
      expect(target.retry_policy).toBeDefined();
      expect(target.dead_letter_config).toEqual([{ arn: "${aws_sqs_queue.ingest_dead_letters.arn}" }]);
      const targeted = Object.values(aws.locals.ingest_rules as Record<string, string>).sort();
      expect(targeted).toEqual(rules().map((rule) => `\${aws_cloudwatch_event_rule.${rule.name}}`).sort());
      const queue = statementsOf(aws, "ingest_dead_letters");
      expect(queue.flatMap((statement) => statement.condition ?? []).find((condition) => condition.variable === "aws:SourceArn")?.values).toEqual(
        "${[for rule in local.ingest_rules : rule.arn]}",
      );
    });
  });

  describe("trust relationships", () => {
    const trustDocuments = () => {
      const documents = new Map<string, PolicyStatement[]>();
      for (const [name, blocks] of Object.entries(aws.resource.aws_iam_role ?? {})) {
        const reference = /^\$\{data\.aws_iam_policy_document\.([a-z0-9_]+)\.json\}$/.exec(String(blocks[0]?.assume_role_policy));
        if (!reference?.[1]) throw new Error(`role ${name}: assume_role_policy is not a policy document the checks can read`);
        documents.set(name, statementsOf(aws, reference[1]));
      }
      return documents;
    };
    const conditionOn = (statement: PolicyStatement, suffix: string) => (statement.condition ?? []).filter((condition) => condition.variable.endsWith(suffix));

    it("every web identity trust pins the token's audience and subject exactly, and grants no session tags", () => {
      const federated = [...trustDocuments()].flatMap(([role, statements]) =>
        statements.filter((statement) => statement.principals?.some((principal) => principal.type === "Federated")).map((statement) => ({ role, statement })),
      );
      expect(federated.map(({ role }) => role).sort()).toEqual(["replicator_aws", "replicator_azure"]);
      for (const { role, statement } of federated) {
        expect(statement.actions, role).toEqual(["sts:AssumeRoleWithWebIdentity"]);
        for (const claim of [":aud", ":sub"]) {
          const [condition, ...more] = conditionOn(statement, claim);
          expect(more, `${role} ${claim}`).toEqual([]);
          expect(condition?.test, `${role} ${claim}`).toBe("StringEquals");
          expect(JSON.stringify(condition?.values ?? ""), `${role} ${claim}`).not.toMatch(/[*?]/);
        }
      }
      const audiences = federated.map(({ statement }) => conditionOn(statement, ":aud")[0]?.values);
      expect(audiences).toContainEqual(["sts.amazonaws.com"]);
      expect(audiences).toContainEqual(["${local.token_exchange_audience}"]);
      expect(evaluate(aws, "${local.token_exchange_audience}")).toBe(TOKEN_EXCHANGE_AUDIENCE);
    });

    it("the Roles Anywhere trust pins the trust anchor and the cells' CNs, and keeps CellStatus out of session tags", () => {
      const statements = trustDocuments().get("replicator_azure_roles_anywhere") ?? [];
      expect(statements).toHaveLength(1);
      const [statement] = statements;
      if (!statement) return;
      expect(statement.principals).toEqual([{ type: "Service", identifiers: ["rolesanywhere.amazonaws.com"] }]);
      expect(conditionOn(statement, "aws:SourceArn")[0]).toMatchObject({ test: "ArnEquals", values: ["${aws_rolesanywhere_trust_anchor.cells[0].arn}"] });
      expect(conditionOn(statement, "aws:PrincipalTag/x509Subject/CN")[0]).toMatchObject({ test: "StringEquals", values: "${var.roles_anywhere_cell_common_names}" });
      const tagKeys = conditionOn(statement, "aws:TagKeys")[0];
      expect(tagKeys?.test).toBe("ForAllValues:StringLike");
      for (const pattern of tagKeys?.values ?? []) expect(globMatches(pattern, CELL_STATUS_TAG.key), pattern).toBe(false);
      const profile = block(aws.resource, "aws_rolesanywhere_profile", "cells");
      expect(profile.accept_role_session_name).toBe(true);
    });

    it("every other trust is an AWS service limited to this account or resource", () => {
      for (const [role, statements] of trustDocuments()) {
        for (const statement of statements) {
          const services = (statement.principals ?? []).filter((principal) => principal.type === "Service").flatMap((principal) => principal.identifiers);
          if (services.length === 0 || services.includes("rolesanywhere.amazonaws.com")) continue;
          expect(conditionOn(statement, "aws:SourceAccount").length + conditionOn(statement, "aws:SourceArn").length, role).toBeGreaterThan(0);
        }
        expect(statements.flatMap((statement) => statement.principals ?? []).filter((principal) => principal.type === "AWS" || principal.identifiers.includes("*")), role).toEqual([]);
      }
    });

    it("every Entra federated identity credential pins issuer, subject and the token exchange audience", () => {
      // App registrations name the field `audiences`, managed identities `audience`.
      const credentials = [
        ...Object.entries(azure.resource.azuread_application_federated_identity_credential ?? {}),
        ...Object.entries(azure.resource.azurerm_federated_identity_credential ?? {}),
      ];
      expect(credentials.map(([name]) => name).sort()).toEqual(["replicator_aws_eks", "replicator_aws_sts", "replicator_azure_aks"]);
      for (const [name, blocks] of credentials) {
        const credential = blocks[0] ?? {};
        const audiences = (credential.audiences ?? credential.audience) as string[];
        expect(evaluate(azure, audiences[0]), name).toBe(TOKEN_EXCHANGE_AUDIENCE);
        expect(audiences.length, name).toBe(1);
        expect(String(credential.subject), name).not.toBe("");
        expect(String(credential.issuer), name).not.toBe("");
        expect(String(credential.subject), name).not.toMatch(/\*/);
      }
      expect(block(azure.resource, "azuread_application_federated_identity_credential", "replicator_aws_eks").subject).toBe(
        "system:serviceaccount:${var.replicator_aws_namespace}:${var.replicator_aws_service_account}",
      );
      expect(block(azure.resource, "azurerm_federated_identity_credential", "replicator_azure_aks").subject).toBe(
        "system:serviceaccount:${var.replicator_azure_namespace}:${var.replicator_azure_service_account}",
      );
    });
  });

  describe("quarantine", () => {
    it("denies everything to a role tagged with the identity-watcher's CellStatus=Quarantined", () => {
      const [deny, ...more] = statementsOf(aws, "quarantine");
      expect(more).toEqual([]);
      expect(deny).toMatchObject({ effect: "Deny", actions: ["*"], resources: ["*"] });
      expect(deny?.condition).toEqual([{ test: "StringEquals", variable: `aws:PrincipalTag/${CELL_STATUS_TAG.key}`, values: [CELL_STATUS_TAG.quarantined] }]);
    });

    it("every cell role starts Active, keeps the watcher's tag, and carries the deny", () => {
      const cellRoles = Object.entries(aws.resource.aws_iam_role ?? {}).filter(([name]) => name.startsWith("replicator_"));
      expect(cellRoles.map(([name]) => name).sort()).toEqual(["replicator_aws", "replicator_azure", "replicator_azure_roles_anywhere"]);
      for (const [name, blocks] of cellRoles) {
        const role = blocks[0] ?? {};
        expect(String(role.tags), name).toContain(`"${CELL_STATUS_TAG.key}" = "${CELL_STATUS_TAG.active}"`);
        expect(JSON.stringify(role.lifecycle), name).toContain(`tags[\\"${CELL_STATUS_TAG.key}\\"]`);
        expect(aws.files["quarantine.tf"], name).toContain(`aws_iam_role.${name}`);
      }
      const attachment = block(aws.resource, "aws_iam_role_policy_attachment", "quarantine");
      expect(attachment).toMatchObject({ for_each: "${local.cell_roles}", policy_arn: "${aws_iam_policy.quarantine.arn}" });
    });

    it("lets the identity-watcher set only CellStatus, to Active or Quarantined", () => {
      const statements = statementsOf(aws, "quarantine_operator");
      const tagging = statements.find((statement) => statement.sid === "SetCellStatus");
      expect(tagging?.condition).toEqual([{ test: "ForAllValues:StringEquals", variable: "aws:TagKeys", values: [CELL_STATUS_TAG.key] }]);
      const known = statements.find((statement) => statement.sid === "OnlyKnownStatuses");
      expect(known?.condition).toEqual([
        { test: "StringNotEquals", variable: `aws:RequestTag/${CELL_STATUS_TAG.key}`, values: [CELL_STATUS_TAG.active, CELL_STATUS_TAG.quarantined] },
      ]);
    });
  });

  describe("no static credential anywhere", () => {
    const STATIC_CREDENTIAL_RESOURCES = [
      "aws_iam_access_key",
      "aws_iam_user",
      "aws_iam_user_login_profile",
      "aws_iam_service_specific_credential",
      "azuread_application_password",
      "azuread_service_principal_password",
      "azuread_application_certificate",
      "azuread_service_principal_certificate",
    ];

    it.each(["aws", "azure"])("%s declares no user, access key, password or client secret", (which) => {
      const module = which === "aws" ? aws : azure;
      const types = [...Object.keys(module.resource), ...Object.keys(module.data)];
      expect(types.filter((type) => STATIC_CREDENTIAL_RESOURCES.includes(type))).toEqual([]);
      for (const [name, text] of Object.entries(module.files)) {
        expect(text, name).not.toMatch(/\b(AKIA|ASIA)[0-9A-Z]{16}\b/);
        expect(text, name).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
        expect(text, name).not.toMatch(/^\s*(access_key|secret_key|client_secret|client_certificate_password|password)\s*=/m);
        expect(text, name).not.toMatch(/^\s*provider\s+"/m);
      }
    });

    it.each(["aws", "azure"])("%s takes a secret only as a sensitive variable without a default", (which) => {
      const module = which === "aws" ? aws : azure;
      const secretLike = Object.entries(module.variable).filter(([name]) => /(secret|password|private_key|api_key$|token$)/.test(name));
      for (const [name, blocks] of secretLike) {
        expect(blocks[0]?.sensitive, name).toBe(true);
        expect(blocks[0], name).not.toHaveProperty("default");
      }
      expect(secretLike.map(([name]) => name)).toEqual(which === "aws" ? ["eventbridge_api_key"] : []);
    });
  });

  it("is formatted as `tofu fmt` writes it", async () => {
    // No CLI configuration: fmt needs none, and the caller's may point at a file that is not there.
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", TF_CLI_CONFIG_FILE: "/dev/null" };
    const result = await run(requireTool("tofu"), ["fmt", "-check", "-diff", "-recursive", TERRAFORM_DIR], { env }).catch((error: { stdout?: string; code?: number }) => error);
    expect("code" in result ? result.stdout : "", "tofu fmt -check -diff").toBe("");
  });
});

/** Whether an IAM StringLike pattern (`*` any run, `?` one character) matches a value. */
function globMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return regex.test(value);
}
