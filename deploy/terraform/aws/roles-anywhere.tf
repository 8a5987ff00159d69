# Azure → AWS without a cloud-issued token: the replicator-azure cell proves who it is with its own
# X.509 certificate through IAM Roles Anywhere CreateSession (README "Identity: Azure → AWS by IAM
# Roles Anywhere"; Helm: replicators.azure.aws.identity = [roles-anywhere]). Created only when
# roles_anywhere_ca_certificate_pem is set.

locals {
  roles_anywhere = var.roles_anywhere_ca_certificate_pem != null
}

resource "aws_rolesanywhere_trust_anchor" "cells" {
  count   = local.roles_anywhere ? 1 : 0
  name    = "${var.name_prefix}-cells"
  enabled = true

  source {
    source_type = "CERTIFICATE_BUNDLE"
    source_data {
      x509_certificate_data = var.roles_anywhere_ca_certificate_pem
    }
  }

  tags = local.tags
}

data "aws_iam_policy_document" "replicator_azure_roles_anywhere_trust" {
  statement {
    sid    = "RolesAnywhereCells"
    effect = "Allow"
    # Roles Anywhere needs TagSession (it tags the session with the certificate's subject, issuer
    # and SANs) and SetSourceIdentity; the condition on aws:TagKeys below keeps every other tag,
    # CellStatus included, out of the session.
    actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]

    principals {
      type        = "Service"
      identifiers = ["rolesanywhere.amazonaws.com"]
    }

    # Only certificates of this trust anchor …
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_rolesanywhere_trust_anchor.cells[0].arn]
    }

    # … issued to one of the cells.
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/x509Subject/CN"
      values   = var.roles_anywhere_cell_common_names
    }

    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["x509Subject/*", "x509Issuer/*", "x509SAN/*"]
    }
  }
}

resource "aws_iam_role" "replicator_azure_roles_anywhere" {
  count                = local.roles_anywhere ? 1 : 0
  name                 = "${var.name_prefix}-replicator-azure-ra"
  description          = "credmesh replicator-azure cells authenticated by IAM Roles Anywhere: read the replicated Secrets Manager prefixes."
  assume_role_policy   = data.aws_iam_policy_document.replicator_azure_roles_anywhere_trust.json
  max_session_duration = var.session_duration_seconds
  tags                 = merge(local.tags, { "CellStatus" = "Active" })

  lifecycle {
    ignore_changes = [tags["CellStatus"]]
  }
}

resource "aws_iam_role_policy" "replicator_azure_roles_anywhere_read" {
  count  = local.roles_anywhere ? 1 : 0
  name   = "read-replicated-sources"
  role   = aws_iam_role.replicator_azure_roles_anywhere[0].id
  policy = data.aws_iam_policy_document.read_sources.json
}

resource "aws_rolesanywhere_profile" "cells" {
  count     = local.roles_anywhere ? 1 : 0
  name      = "${var.name_prefix}-cells"
  enabled   = true
  role_arns = [aws_iam_role.replicator_azure_roles_anywhere[0].arn]
  # The cell names its session credmesh-<cell>: CloudTrail shows the cell, and echo detection
  # relies on the prefix.
  accept_role_session_name = true
  duration_seconds         = var.session_duration_seconds
  tags                     = local.tags
}
