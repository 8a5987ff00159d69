# AWS side of the replicator-aws cell on EKS (IRSA): the projected service-account token, audience
# sts.amazonaws.com, exchanged with STS AssumeRoleWithWebIdentity. The same credentials sign STS
# GetWebIdentityToken when the cell reaches Key Vault by AWS outbound identity federation.
# README "Identity: AWS → Azure".

locals {
  eks_issuer_host = trimprefix(var.eks_oidc_issuer_url, "https://")
}

data "aws_iam_policy_document" "replicator_aws_trust" {
  statement {
    sid     = "EksServiceAccount"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.eks_issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.eks_issuer_host}:sub"
      values   = ["system:serviceaccount:${var.replicator_aws_namespace}:${var.replicator_aws_service_account}"]
    }

    condition {
      test     = "StringLike"
      variable = "sts:RoleSessionName"
      values   = ["${var.role_session_prefix}*"]
    }
  }
}

resource "aws_iam_role" "replicator_aws" {
  name                 = "${var.name_prefix}-replicator-aws"
  description          = "credmesh replicator-aws cells (EKS IRSA): write the replicated Secrets Manager prefixes."
  assume_role_policy   = data.aws_iam_policy_document.replicator_aws_trust.json
  max_session_duration = var.session_duration_seconds
  tags                 = merge(local.tags, { "CellStatus" = "Active" })

  lifecycle {
    ignore_changes = [tags["CellStatus"]]
  }
}

data "aws_iam_policy_document" "write_destinations" {
  # ListSecrets has no resource-level permissions; anti-entropy lists and filters by prefix itself.
  statement {
    sid       = "ListForReconciliation"
    effect    = "Allow"
    actions   = ["secretsmanager:ListSecrets"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(local.destination_secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadDestinations"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
      resources = local.destination_secret_arns
    }
  }

  # Create only with the ownership tag (the adapter sends the provenance tags with CreateSecret).
  dynamic "statement" {
    for_each = length(local.destination_secret_arns) > 0 ? [1] : []
    content {
      sid       = "CreateManaged"
      effect    = "Allow"
      actions   = ["secretsmanager:CreateSecret"]
      resources = local.destination_secret_arns

      dynamic "condition" {
        for_each = var.require_managed_by_tag ? [1] : []
        content {
          test     = "StringEquals"
          variable = "aws:RequestTag/managed-by"
          values   = ["credmesh"]
        }
      }
    }
  }

  # Change, tag, soft-delete and restore only what credmesh owns.
  dynamic "statement" {
    for_each = length(local.destination_secret_arns) > 0 ? [1] : []
    content {
      sid    = "ConvergeManaged"
      effect = "Allow"
      actions = [
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
        "secretsmanager:DeleteSecret",
        "secretsmanager:RestoreSecret",
      ]
      resources = local.destination_secret_arns

      dynamic "condition" {
        for_each = var.require_managed_by_tag ? [1] : []
        content {
          test     = "StringEquals"
          variable = "secretsmanager:ResourceTag/managed-by"
          values   = ["credmesh"]
        }
      }
    }
  }

  # Deletes are soft (recovery window); purging needs a rule that says so, and this switch.
  dynamic "statement" {
    for_each = var.allow_force_delete ? [] : [1]
    content {
      sid       = "NeverPurge"
      effect    = "Deny"
      actions   = ["secretsmanager:DeleteSecret"]
      resources = ["*"]
      condition {
        test     = "Bool"
        variable = "secretsmanager:ForceDeleteWithoutRecovery"
        values   = ["true"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "EncryptThroughSecretsManager"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = var.kms_key_arns
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  # AWS outbound identity federation: a JWT for the Entra federated credential, for that audience
  # only and no longer-lived than needed.
  dynamic "statement" {
    for_each = var.enable_outbound_web_identity_federation ? [1] : []
    content {
      sid       = "MintKeyVaultAssertion"
      effect    = "Allow"
      actions   = ["sts:GetWebIdentityToken"]
      resources = ["*"]
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "sts:IdentityTokenAudience"
        values   = [local.token_exchange_audience]
      }
      condition {
        test     = "NumericLessThanEquals"
        variable = "sts:DurationSeconds"
        values   = [tostring(var.web_identity_token_max_duration_seconds)]
      }
    }
  }
}

resource "aws_iam_role_policy" "replicator_aws_write" {
  name   = "write-replicated-destinations"
  role   = aws_iam_role.replicator_aws.id
  policy = data.aws_iam_policy_document.write_destinations.json
}

# Account-wide: gives the account an STS token issuer (https://<id>.tokens.sts.global.api.aws) whose
# tokens the Entra federated credential in ../azure trusts. Import it if already enabled:
#   terraform import 'aws_iam_outbound_web_identity_federation.this[0]' <account id>
resource "aws_iam_outbound_web_identity_federation" "this" {
  count = var.enable_outbound_web_identity_federation ? 1 : 0
}
