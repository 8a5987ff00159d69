output "replicator_azure_role_arn" {
  description = "CREDMESH_AWS_ROLE_ARN of the replicator-azure cells."
  value       = aws_iam_role.replicator_azure.arn
}

output "replicator_aws_role_arn" {
  description = "CREDMESH_AWS_ROLE_ARN of the replicator-aws cells, and the eks.amazonaws.com/role-arn annotation of their service account. Also the sub of their STS web identity tokens (../azure variable aws_replicator_role_arn)."
  value       = aws_iam_role.replicator_aws.arn
}

output "entra_oidc_provider_arn" {
  description = "The IAM OIDC provider trusting the Entra tenant's issuer."
  value       = aws_iam_openid_connect_provider.entra.arn
}

output "outbound_federation_issuer" {
  description = "The account's STS token issuer (iss of GetWebIdentityToken tokens): ../azure variable aws_outbound_federation_issuer. Null when outbound federation is not enabled here."
  value       = var.enable_outbound_web_identity_federation ? aws_iam_outbound_web_identity_federation.this[0].issuer_identifier : null
}

output "quarantine_policy_arn" {
  description = "The deny policy that acts on CellStatus=Quarantined."
  value       = aws_iam_policy.quarantine.arn
}

output "quarantine_operator_policy_arn" {
  description = "Attach to the identity-watcher's role if identity_watcher_role_name was not set."
  value       = aws_iam_policy.quarantine_operator.arn
}

output "eventbridge_rule_arns" {
  description = "The EventBridge rules that deliver Secrets Manager events to ingest, by name."
  value       = { for key, rule in local.ingest_rules : key => rule.arn }
}

output "ingest_dead_letter_queue_url" {
  description = "Deliveries ingest never accepted, after the retry policy gave up."
  value       = aws_sqs_queue.ingest_dead_letters.id
}

output "roles_anywhere_trust_anchor_arn" {
  description = "CREDMESH_AWS_ROLES_ANYWHERE_TRUST_ANCHOR_ARN. Null without Roles Anywhere."
  value       = local.roles_anywhere ? aws_rolesanywhere_trust_anchor.cells[0].arn : null
}

output "roles_anywhere_profile_arn" {
  description = "CREDMESH_AWS_ROLES_ANYWHERE_PROFILE_ARN. Null without Roles Anywhere."
  value       = local.roles_anywhere ? aws_rolesanywhere_profile.cells[0].arn : null
}

output "roles_anywhere_role_arn" {
  description = "CREDMESH_AWS_ROLE_ARN of replicator-azure cells that authenticate with Roles Anywhere. Null without Roles Anywhere."
  value       = local.roles_anywhere ? aws_iam_role.replicator_azure_roles_anywhere[0].arn : null
}
