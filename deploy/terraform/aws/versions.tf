terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.26 added aws_iam_outbound_web_identity_federation; OIDC thumbprints are optional since 5.x.
      version = ">= 6.26, < 7.0"
    }
  }
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region

  # The audience of every federated token credmesh presents to or requests from a token service.
  token_exchange_audience = "api://AzureADTokenExchange"

  tags = merge({ "managed-by" = "terraform", "app" = "credmesh" }, var.tags)
}
