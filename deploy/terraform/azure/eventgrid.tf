# Key Vault events → ingest (README "Pointing Azure Event Grid at ingest"): one system topic per
# vault, and a webhook subscription authenticated with Microsoft Entra ID (ingest validates the
# bearer JWT: issuer, keys, audience = the webhook app, appid = Event Grid, the subscriber role).

locals {
  event_vaults = merge(var.lifecycle_key_vaults, var.source_key_vaults)

  key_vault_event_types = [
    "Microsoft.KeyVault.SecretNewVersionCreated",
    "Microsoft.KeyVault.SecretNearExpiry",
    "Microsoft.KeyVault.SecretExpired",
    "Microsoft.KeyVault.KeyNewVersionCreated",
    "Microsoft.KeyVault.KeyNearExpiry",
    "Microsoft.KeyVault.KeyExpired",
    "Microsoft.KeyVault.CertificateNewVersionCreated",
    "Microsoft.KeyVault.CertificateNearExpiry",
    "Microsoft.KeyVault.CertificateExpired",
    "Microsoft.KeyVault.VaultAccessPolicyChanged",
  ]
}

# The webhook's Entra application: its client id is the audience of Event Grid's tokens
# (CREDMESH_EVENTGRID_AUDIENCES), and Event Grid holds its subscriber role.
resource "random_uuid" "webhook_subscriber_role" {}

resource "azuread_application" "ingest_webhook" {
  display_name = "${var.name_prefix}-ingest-webhook"
  owners       = [data.azuread_client_config.current.object_id]

  app_role {
    allowed_member_types = ["Application"]
    description          = "Event Grid delivers events to credmesh ingest."
    display_name         = "AzureEventGridSecureWebhookSubscriber"
    enabled              = true
    id                   = random_uuid.webhook_subscriber_role.result
    value                = "AzureEventGridSecureWebhookSubscriber"
  }
}

resource "azuread_service_principal" "ingest_webhook" {
  client_id                    = azuread_application.ingest_webhook.client_id
  app_role_assignment_required = true
  owners                       = [data.azuread_client_config.current.object_id]
}

data "azuread_service_principal" "event_grid" {
  client_id = var.event_grid_first_party_app_id
}

resource "azuread_app_role_assignment" "event_grid_subscriber" {
  app_role_id         = azuread_application.ingest_webhook.app_role_ids["AzureEventGridSecureWebhookSubscriber"]
  principal_object_id = data.azuread_service_principal.event_grid.object_id
  resource_object_id  = azuread_service_principal.ingest_webhook.object_id
}

resource "azurerm_eventgrid_system_topic" "key_vault" {
  for_each            = local.event_vaults
  name                = "${var.name_prefix}-${each.key}"
  resource_group_name = var.resource_group_name
  location            = each.value.location
  source_resource_id  = each.value.id
  topic_type          = "Microsoft.KeyVault.vaults"
  tags                = local.tags
}

resource "azurerm_eventgrid_system_topic_event_subscription" "ingest" {
  for_each              = local.event_vaults
  name                  = "${var.name_prefix}-ingest"
  system_topic          = azurerm_eventgrid_system_topic.key_vault[each.key].name
  resource_group_name   = var.resource_group_name
  event_delivery_schema = "EventGridSchema"
  included_event_types  = local.key_vault_event_types

  webhook_endpoint {
    url                            = "${trimsuffix(var.ingest_url, "/")}/webhooks/eventgrid"
    active_directory_tenant_id     = data.azuread_client_config.current.tenant_id
    active_directory_app_id_or_uri = azuread_application.ingest_webhook.client_id
  }

  retry_policy {
    max_delivery_attempts = var.max_delivery_attempts
    event_time_to_live    = var.event_time_to_live_minutes
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = var.dead_letter_storage_account_id
    storage_blob_container_name = var.dead_letter_container_name
  }

  depends_on = [azuread_app_role_assignment.event_grid_subscriber]
}
