# Every environment-specific value is a variable; nothing here is a credential except the
# EventBridge connection's API key, which is a sensitive variable (never a literal) and which
# EventBridge itself stores in Secrets Manager.

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "credmesh"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# --- replicator-azure: a cell in Azure, federated into AWS with its managed identity -------------

variable "entra_tenant_id" {
  description = "Microsoft Entra tenant (directory) id whose managed identities may assume the replicator-azure role."
  type        = string
}

variable "entra_issuer_url" {
  description = "Issuer of the managed identity tokens for api://AzureADTokenExchange, exactly as in their iss claim. Default: the tenant's v2 issuer, https://login.microsoftonline.com/<tenant>/v2.0."
  type        = string
  default     = null
}

variable "replicator_azure_principal_ids" {
  description = "Object (principal) ids of the managed identities of the replicator-azure cells: the sub claim the role trusts (output replicator_azure_principal_id of ../azure)."
  type        = list(string)
}

variable "source_name_prefixes" {
  description = "Secrets Manager name prefixes replicated AWS → Azure (e.g. [\"prod/\"]); replicator-azure may read only these."
  type        = list(string)

  validation {
    condition     = length(var.source_name_prefixes) > 0 && alltrue([for p in var.source_name_prefixes : length(p) > 0 && !strcontains(p, "*")])
    error_message = "source_name_prefixes needs at least one non-empty prefix without wildcards."
  }
}

# --- replicator-aws: a cell on EKS (IRSA), writing into Secrets Manager ---------------------------

variable "eks_oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider of the EKS cluster that runs replicator-aws (created with the cluster)."
  type        = string
}

variable "eks_oidc_issuer_url" {
  description = "The cluster's OIDC issuer URL (aws eks describe-cluster --query cluster.identity.oidc.issuer)."
  type        = string
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

variable "destination_name_prefixes" {
  description = "Secrets Manager name prefixes replicated Azure → AWS; replicator-aws may write only these."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.destination_name_prefixes : length(p) > 0 && !strcontains(p, "*")])
    error_message = "destination_name_prefixes must be non-empty prefixes without wildcards."
  }
}

variable "require_managed_by_tag" {
  description = "Allow replicator-aws to change or delete only secrets tagged managed-by=credmesh, and to create them only with that tag (credmesh never touches what it does not own). Turn off only if a rule takes over unmanaged secrets."
  type        = bool
  default     = true
}

variable "allow_force_delete" {
  description = "Allow replicator-aws to delete without a recovery window (only for rules that ask for it); by default deletes are always recoverable."
  type        = bool
  default     = false
}

variable "enable_outbound_web_identity_federation" {
  description = "Enable IAM outbound identity federation for the whole account (STS GetWebIdentityToken), so replicator-aws can reach Key Vault without a projected Azure token (CREDMESH_AZURE_IDENTITY=aws-web-identity-token). Account-wide setting: destroying it turns the feature off for the account."
  type        = bool
  default     = false
}

variable "web_identity_token_max_duration_seconds" {
  description = "Longest GetWebIdentityToken lifetime replicator-aws may request (CREDMESH_AWS_WEB_IDENTITY_TOKEN_DURATION_SECONDS, default 300)."
  type        = number
  default     = 300
}

variable "session_duration_seconds" {
  description = "Maximum session duration of both replicator roles (CREDMESH_AWS_SESSION_DURATION_SECONDS must not exceed it)."
  type        = number
  default     = 3600
}

variable "role_session_prefix" {
  description = "Role session names must start with this (CREDMESH_OWN_SESSION_PREFIX): CloudTrail events from these sessions are credmesh's own writes."
  type        = string
  default     = "credmesh-"
}

variable "kms_key_arns" {
  description = "Customer managed KMS keys of the replicated secrets, if any (the AWS managed key needs nothing)."
  type        = list(string)
  default     = []
}

# --- quarantine -------------------------------------------------------------------------------------

variable "identity_watcher_role_name" {
  description = "Name of the IAM role the identity-watcher runs as; it gets permission to set and clear the CellStatus tag of the replicator roles. Null: attach output quarantine_operator_policy_arn yourself."
  type        = string
  default     = null
}

# --- EventBridge → ingest -----------------------------------------------------------------------

variable "ingest_url" {
  description = "Public HTTPS base URL of ingest (the API destination posts to <ingest_url>/webhooks/eventbridge)."
  type        = string

  validation {
    condition     = startswith(var.ingest_url, "https://")
    error_message = "ingest_url must be an https URL."
  }
}

variable "eventbridge_api_key_header" {
  description = "Header carrying the API key (CREDMESH_EVENTBRIDGE_API_KEY_HEADER)."
  type        = string
  default     = "x-api-key"
}

variable "eventbridge_api_key" {
  description = "API key EventBridge sends to ingest: one of CREDMESH_EVENTBRIDGE_API_KEYS. Pass it from a secret store (TF_VAR_eventbridge_api_key), never in a file; Terraform state holds it, so keep state encrypted."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.eventbridge_api_key) >= 32
    error_message = "eventbridge_api_key must be at least 32 characters."
  }
}

variable "api_destination_rate_limit_per_second" {
  description = "Invocation rate limit of the API destination."
  type        = number
  default     = 300
}

variable "event_retry_maximum_age_seconds" {
  description = "How long EventBridge retries a delivery ingest did not accept (ingest answers 503 while JetStream cannot store the event)."
  type        = number
  default     = 86400
}

variable "event_retry_maximum_attempts" {
  description = "Retry attempts of a delivery before it goes to the dead-letter queue."
  type        = number
  default     = 185
}

# --- IAM Roles Anywhere (optional) ---------------------------------------------------------------

variable "roles_anywhere_ca_certificate_pem" {
  description = "PEM of the CA that issues the cells' certificates (the Roles Anywhere trust anchor). Null: no Roles Anywhere resources."
  type        = string
  default     = null
}

variable "roles_anywhere_cell_common_names" {
  description = "Subject CNs of the cell certificates that may assume the Roles Anywhere role (CREDMESH_AWS_ROLES_ANYWHERE_EXPECTED_CN of each cell)."
  type        = list(string)
  default     = []

  validation {
    condition     = var.roles_anywhere_ca_certificate_pem == null || length(var.roles_anywhere_cell_common_names) > 0
    error_message = "roles_anywhere_cell_common_names needs at least one CN when roles_anywhere_ca_certificate_pem is set."
  }
}
