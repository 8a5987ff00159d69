# Azure → AWS: the replicator-azure cell exchanges its managed identity's token (audience
# api://AzureADTokenExchange, issued by the Entra tenant) with STS AssumeRoleWithWebIdentity.
# README "Identity: Azure → AWS".

locals {
  entra_issuer      = coalesce(var.entra_issuer_url, "https://login.microsoftonline.com/${var.entra_tenant_id}/v2.0")
  entra_issuer_host = trimprefix(local.entra_issuer, "https://")
}

resource "aws_iam_openid_connect_provider" "entra" {
  url = local.entra_issuer
  # The audience of the tokens, i.e. the aud claim STS checks.
  client_id_list = [local.token_exchange_audience]
  tags           = local.tags
}

data "aws_iam_policy_document" "replicator_azure_trust" {
  statement {
    sid     = "EntraManagedIdentity"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    # No sts:TagSession: a token cannot bring session tags, so it can never set CellStatus itself.

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.entra.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.entra_issuer_host}:aud"
      values   = [local.token_exchange_audience]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.entra_issuer_host}:sub"
      values   = var.replicator_azure_principal_ids
    }

    # credmesh-<cell>: CloudTrail names the cell, and echo detection relies on the prefix.
    condition {
      test     = "StringLike"
      variable = "sts:RoleSessionName"
      values   = ["${var.role_session_prefix}*"]
    }
  }
}

resource "aws_iam_role" "replicator_azure" {
  name                 = "${var.name_prefix}-replicator-azure"
  description          = "credmesh replicator-azure cells: read the replicated Secrets Manager prefixes, federated from Entra managed identities."
  assume_role_policy   = data.aws_iam_policy_document.replicator_azure_trust.json
  max_session_duration = var.session_duration_seconds
  tags                 = merge(local.tags, { "CellStatus" = "Active" })

  lifecycle {
    # The identity-watcher sets CellStatus=Quarantined and back; Terraform must not undo it.
    ignore_changes = [tags["CellStatus"]]
  }
}

data "aws_iam_policy_document" "read_sources" {
  statement {
    sid       = "ReadReplicatedSources"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = local.source_secret_arns
  }

  # ListSecrets has no resource-level permissions; anti-entropy lists and filters by prefix itself.
  statement {
    sid       = "ListForReconciliation"
    effect    = "Allow"
    actions   = ["secretsmanager:ListSecrets"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(var.kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "DecryptThroughSecretsManager"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = var.kms_key_arns
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "replicator_azure_read" {
  name   = "read-replicated-sources"
  role   = aws_iam_role.replicator_azure.id
  policy = data.aws_iam_policy_document.read_sources.json
}

locals {
  # Secret ARNs end in -<6 random characters>: a prefix matches "<prefix>*".
  source_secret_arns      = [for prefix in var.source_name_prefixes : "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${prefix}*"]
  destination_secret_arns = [for prefix in var.destination_name_prefixes : "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${prefix}*"]
}
