# Every environment-specific value is a variable. No client secret or certificate exists anywhere:
# the replicator cells authenticate with a managed identity or a federated identity credential.

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "credmesh"
}

variable "resource_group_name" {
  description = "Resource group of the managed identity and the Event Grid system topics."
  type        = string
}

variable "location" {
  description = "Azure region of the replicator-azure managed identity."
  type        = string
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "destination_key_vault_ids" {
  description = "Key Vaults replicated into (AWS → Azure), by a short name: the replicator-azure identity gets Key Vault Secrets Officer on each. The vaults must use Azure RBAC authorization."
  type        = map(string)
}

variable "source_key_vaults" {
  description = "Key Vaults replicated from (Azure → AWS), by a short name: replicator-aws gets Key Vault Secrets User on each, and Event Grid delivers their events to ingest. location: the vault's region, where its system topic must live."
  type        = map(object({ id = string, location = string }))
  default     = {}
}

variable "lifecycle_key_vaults" {
  description = "Further vaults whose expiry and access-policy events ingest should receive for the identity-watcher (no replication), as source_key_vaults."
  type        = map(object({ id = string, location = string }))
  default     = {}
}

# --- replicator-azure on AKS (Azure Workload Identity) ---------------------------------------------

variable "aks_oidc_issuer_url" {
  description = "OIDC issuer of the AKS cluster running replicator-azure (az aks show --query oidcIssuerProfile.issuerUrl). Null: the cells run with the managed identity itself (VM, container instance), no federated credential."
  type        = string
  default     = null
}

variable "replicator_azure_namespace" {
  description = "Kubernetes namespace of the replicator-azure service account."
  type        = string
  default     = "credmesh"
}

variable "replicator_azure_service_account" {
  description = "Kubernetes service account of replicator-azure."
  type        = string
  default     = "replicator-azure"
}

# --- replicator-aws: federated identity credentials ----------------------------------------------

variable "eks_oidc_issuer_url" {
  description = "OIDC issuer of the EKS cluster running replicator-aws, exactly as in its tokens' iss. Null: no projected-token credential."
  type        = string
  default     = null
}

variable "replicator_aws_namespace" {
  description = "Kubernetes namespace of the replicator-aws service account."
  type        = string
  default     = "credmesh"
}

variable "replicator_aws_service_account" {
  description = "Kubernetes service account of replicator-aws."
  type        = string
  default     = "replicator-aws"
}

variable "aws_outbound_federation_issuer" {
  description = "The AWS account's STS token issuer (output outbound_federation_issuer of ../aws), for CREDMESH_AZURE_IDENTITY=aws-web-identity-token. Null: no STS credential."
  type        = string
  default     = null
}

variable "aws_replicator_role_arn" {
  description = "The replicator-aws role ARN (output replicator_aws_role_arn of ../aws): the sub of its STS web identity tokens."
  type        = string
  default     = null
}

# --- Event Grid → ingest ---------------------------------------------------------------------------

variable "ingest_url" {
  description = "Public HTTPS base URL of ingest (Event Grid posts to <ingest_url>/webhooks/eventgrid)."
  type        = string

  validation {
    condition     = startswith(var.ingest_url, "https://")
    error_message = "ingest_url must be an https URL."
  }
}

variable "event_grid_first_party_app_id" {
  description = "Application id of Microsoft.EventGrid in this cloud (Azure Public; 54316b56-3481-47f9-8f30-0300f5542a7b in Azure Government). Also CREDMESH_EVENTGRID_APP_IDS."
  type        = string
  default     = "4962773b-9cdb-44cf-a8bf-237846a00ab7"
}

variable "dead_letter_storage_account_id" {
  description = "Storage account for deliveries Event Grid could not make."
  type        = string
}

variable "dead_letter_container_name" {
  description = "Blob container in that account."
  type        = string
  default     = "credmesh-eventgrid-dead-letters"
}

variable "max_delivery_attempts" {
  description = "Event Grid delivery attempts (1–30)."
  type        = number
  default     = 30
}

variable "event_time_to_live_minutes" {
  description = "How long Event Grid keeps retrying an event (1–1440)."
  type        = number
  default     = 1440
}
