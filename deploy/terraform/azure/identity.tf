# Who the replicator cells are in Entra ID. README "Identity".

# --- replicator-azure: runs in Azure with a user-assigned managed identity ------------------------
# Its token for https://vault.azure.net writes the destination vaults; its token for
# api://AzureADTokenExchange is what AWS STS exchanges (../aws trusts this principal id as sub).

resource "azurerm_user_assigned_identity" "replicator_azure" {
  name                = "${var.name_prefix}-replicator-azure"
  resource_group_name = var.resource_group_name
  location            = var.location
  tags                = local.tags
}

resource "azurerm_role_assignment" "replicator_azure_writes" {
  for_each             = var.destination_key_vault_ids
  scope                = each.value
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = azurerm_user_assigned_identity.replicator_azure.principal_id
  principal_type       = "ServicePrincipal"
  description          = "credmesh replicator-azure writes replicas into ${each.key}."
}

# Cells on AKS use the same identity through Azure Workload Identity: a federated identity
# credential for the cluster's issuer and the cell's service account (Helm:
# replicators.azure.azure.identity = [client-assertion], workloadIdentity = true).
resource "azurerm_federated_identity_credential" "replicator_azure_aks" {
  count               = var.aks_oidc_issuer_url == null ? 0 : 1
  name                = "${var.name_prefix}-replicator-azure-aks"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.replicator_azure.id
  audience            = [local.token_exchange_audience]
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.replicator_azure_namespace}:${var.replicator_azure_service_account}"
}

# --- replicator-aws: runs on EKS; an app registration with federated identity credentials ---------

resource "azuread_application" "replicator_aws" {
  display_name = "${var.name_prefix}-replicator-aws"
  owners       = [data.azuread_client_config.current.object_id]
  # Federated credentials only: this application has no password and no certificate.
}

resource "azuread_service_principal" "replicator_aws" {
  client_id = azuread_application.replicator_aws.client_id
  owners    = [data.azuread_client_config.current.object_id]
}

resource "azurerm_role_assignment" "replicator_aws_reads" {
  for_each             = var.source_key_vaults
  scope                = each.value.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azuread_service_principal.replicator_aws.object_id
  principal_type       = "ServicePrincipal"
  description          = "credmesh replicator-aws reads ${each.key}."
}

# CREDMESH_AZURE_IDENTITY=client-assertion: the pod's projected service-account token
# (audience api://AzureADTokenExchange) from the cluster's issuer, for this one service account.
resource "azuread_application_federated_identity_credential" "replicator_aws_eks" {
  count          = var.eks_oidc_issuer_url == null ? 0 : 1
  application_id = azuread_application.replicator_aws.id
  display_name   = "${var.name_prefix}-replicator-aws-eks"
  description    = "Projected service-account token of ${var.replicator_aws_namespace}/${var.replicator_aws_service_account}."
  audiences      = [local.token_exchange_audience]
  issuer         = var.eks_oidc_issuer_url
  subject        = "system:serviceaccount:${var.replicator_aws_namespace}:${var.replicator_aws_service_account}"
}

# CREDMESH_AZURE_IDENTITY=aws-web-identity-token: a JWT from STS GetWebIdentityToken (AWS outbound
# identity federation), issued by the account's STS issuer to the replicator-aws role.
resource "azuread_application_federated_identity_credential" "replicator_aws_sts" {
  count          = var.aws_outbound_federation_issuer == null ? 0 : 1
  application_id = azuread_application.replicator_aws.id
  display_name   = "${var.name_prefix}-replicator-aws-sts"
  description    = "STS GetWebIdentityToken of the replicator-aws IAM role."
  audiences      = [local.token_exchange_audience]
  issuer         = var.aws_outbound_federation_issuer
  subject        = var.aws_replicator_role_arn

  lifecycle {
    precondition {
      condition     = var.aws_replicator_role_arn != null
      error_message = "aws_replicator_role_arn is required with aws_outbound_federation_issuer: it is the sub of the role's tokens."
    }
  }
}
