output "replicator_azure_principal_id" {
  description = "Object id of the replicator-azure managed identity: the sub its api://AzureADTokenExchange tokens carry (../aws variable replicator_azure_principal_ids)."
  value       = azurerm_user_assigned_identity.replicator_azure.principal_id
}

output "replicator_azure_client_id" {
  description = "CREDMESH_AZURE_CLIENT_ID of the replicator-azure cells (user-assigned identity)."
  value       = azurerm_user_assigned_identity.replicator_azure.client_id
}

output "replicator_azure_identity_id" {
  description = "Resource id to assign the identity to the VM, VM scale set or container group that runs the cell."
  value       = azurerm_user_assigned_identity.replicator_azure.id
}

output "replicator_aws_client_id" {
  description = "CREDMESH_AZURE_CLIENT_ID of the replicator-aws cells."
  value       = azuread_application.replicator_aws.client_id
}

output "tenant_id" {
  description = "CREDMESH_AZURE_TENANT_ID, and CREDMESH_EVENTGRID_TENANT_ID of ingest."
  value       = data.azuread_client_config.current.tenant_id
}

output "ingest_eventgrid_audience" {
  description = "CREDMESH_EVENTGRID_AUDIENCES of ingest: the webhook application's client id."
  value       = azuread_application.ingest_webhook.client_id
}
