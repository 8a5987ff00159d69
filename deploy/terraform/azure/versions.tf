terraform {
  required_version = ">= 1.7"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.0, < 5.0"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = ">= 3.0, < 4.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5, < 4.0"
    }
  }
}

data "azuread_client_config" "current" {}

locals {
  token_exchange_audience = "api://AzureADTokenExchange"
  tags                    = merge({ "managed-by" = "terraform", "app" = "credmesh" }, var.tags)
}
