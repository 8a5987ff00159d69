# The kill switch of a cell (SPEC section 2, identity-watcher): setting the principal tag
# CellStatus=Quarantined on a replicator role denies everything its sessions do, including sessions
# already issued — an explicit Deny wins over every Allow, and role tags are principal tags at
# request time. No session can bring its own CellStatus: the web identity trust policies grant no
# sts:TagSession, and the Roles Anywhere trust allows only the x509* session tags. The tag key and
# values are CELL_STATUS_TAG of @credmesh/identity, which the identity-watcher sets.

data "aws_iam_policy_document" "quarantine" {
  statement {
    sid       = "DenyAllWhileQuarantined"
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/CellStatus"
      values   = ["Quarantined"]
    }
  }
}

resource "aws_iam_policy" "quarantine" {
  name        = "${var.name_prefix}-cell-quarantine"
  description = "Denies every action to a credmesh cell whose role is tagged CellStatus=Quarantined."
  policy      = data.aws_iam_policy_document.quarantine.json
  tags        = local.tags
}

locals {
  # Every role a replicator cell runs as: each can be quarantined.
  cell_roles = merge(
    {
      replicator_azure = aws_iam_role.replicator_azure
      replicator_aws   = aws_iam_role.replicator_aws
    },
    local.roles_anywhere ? { replicator_azure_roles_anywhere = aws_iam_role.replicator_azure_roles_anywhere[0] } : {},
  )
}

resource "aws_iam_role_policy_attachment" "quarantine" {
  for_each   = local.cell_roles
  role       = each.value.name
  policy_arn = aws_iam_policy.quarantine.arn
}

# What the identity-watcher may do about it: set or clear CellStatus on these roles and revoke their
# older sessions, nothing else. The tag key and values are CELL_STATUS_TAG in
# services/identity-watcher/src/quarantine/aws-layer.ts.
data "aws_iam_policy_document" "quarantine_operator" {
  statement {
    sid       = "SetCellStatus"
    effect    = "Allow"
    actions   = ["iam:TagRole", "iam:UntagRole"]
    resources = [for role in local.cell_roles : role.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["CellStatus"]
    }
  }

  statement {
    sid       = "OnlyKnownStatuses"
    effect    = "Deny"
    actions   = ["iam:TagRole"]
    resources = [for role in local.cell_roles : role.arn]

    condition {
      test     = "StringNotEquals"
      variable = "aws:RequestTag/CellStatus"
      values   = ["Active", "Quarantined"]
    }
  }

  statement {
    sid       = "ReadCellStatus"
    effect    = "Allow"
    actions   = ["iam:ListRoleTags", "iam:GetRole", "iam:GetRolePolicy"]
    resources = [for role in local.cell_roles : role.arn]
  }

  # Role tags may not reach sessions issued before they changed: the watcher also puts the inline
  # deny "credmesh-quarantine-revoke-older-sessions" (DateLessThan aws:TokenIssueTime = the
  # quarantine time), AWS's documented way to revoke a role's active sessions. IAM cannot restrict
  # PutRolePolicy to one policy name, so this could also add an Allow to these roles: keep the
  # replicator roles under a permissions boundary (or an SCP) that caps what any inline policy grants.
  statement {
    sid       = "RevokeOlderSessions"
    effect    = "Allow"
    actions   = ["iam:PutRolePolicy"]
    resources = [for role in local.cell_roles : role.arn]
  }
}

resource "aws_iam_policy" "quarantine_operator" {
  name        = "${var.name_prefix}-quarantine-operator"
  description = "Lets the credmesh identity-watcher quarantine and release replicator cells (CellStatus tag)."
  policy      = data.aws_iam_policy_document.quarantine_operator.json
  tags        = local.tags
}

resource "aws_iam_role_policy_attachment" "quarantine_operator" {
  count      = var.identity_watcher_role_name == null ? 0 : 1
  role       = var.identity_watcher_role_name
  policy_arn = aws_iam_policy.quarantine_operator.arn
}
