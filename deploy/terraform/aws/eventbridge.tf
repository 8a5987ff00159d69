# Secrets Manager change events → ingest (README "Pointing AWS EventBridge at ingest"): rules on the
# default bus for the CloudTrail records of the mutating calls that succeeded and for Secrets
# Manager's own "Secret Label Updated" event, an API destination with an API-key connection, and a
# target per rule with a retry policy and an SQS dead-letter queue. The whole event is sent (no
# input transformer). CloudTrail must record management events in this account and region.
# test/integration/terraform-aws.test.ts checks these patterns against what ingest replicates
# (services/ingest/src/eventbridge/event-names.ts and envelope.ts).

locals {
  # The Secrets Manager calls ingest turns into mutations; every other call it would only ignore.
  replicated_event_names = [
    "CreateSecret",
    "PutSecretValue",
    "UpdateSecret",
    "DeleteSecret",
    "RestoreSecret",
    "RotationSucceeded",
    "UpdateSecretVersionStage",
  ]

  cloudtrail_event_pattern = {
    source        = ["aws.secretsmanager"]
    "detail-type" = ["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"]
    detail = {
      eventSource = ["secretsmanager.amazonaws.com"]
      eventName   = local.replicated_event_names
      # A record with an errorCode is a call that failed: it changed nothing.
      errorCode = [{ exists = false }]
    }
  }

  # Sent by Secrets Manager itself when a staging label moves; the only event that carries the
  # version id that became AWSCURRENT (ingest ignores the other labels).
  label_event_pattern = {
    source        = ["aws.secretsmanager"]
    "detail-type" = ["Secret Label Updated"]
    detail = {
      labelUpdated = ["AWSCURRENT"]
    }
  }
}

resource "aws_cloudwatch_event_rule" "secret_changes" {
  name          = "${var.name_prefix}-secret-changes"
  description   = "Successful Secrets Manager mutations, for credmesh ingest."
  event_pattern = jsonencode(local.cloudtrail_event_pattern)
  tags          = local.tags
}

resource "aws_cloudwatch_event_rule" "secret_label_updated" {
  name          = "${var.name_prefix}-secret-label-updated"
  description   = "AWSCURRENT moved to another Secrets Manager version, for credmesh ingest."
  event_pattern = jsonencode(local.label_event_pattern)
  tags          = local.tags
}

locals {
  ingest_rules = {
    secret_changes       = aws_cloudwatch_event_rule.secret_changes
    secret_label_updated = aws_cloudwatch_event_rule.secret_label_updated
  }
}

resource "aws_cloudwatch_event_connection" "ingest" {
  name               = "${var.name_prefix}-ingest"
  description        = "API key credmesh ingest accepts (CREDMESH_EVENTBRIDGE_API_KEYS)."
  authorization_type = "API_KEY"

  auth_parameters {
    api_key {
      key   = var.eventbridge_api_key_header
      value = var.eventbridge_api_key
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "ingest" {
  name                             = "${var.name_prefix}-ingest"
  description                      = "credmesh ingest EventBridge webhook."
  invocation_endpoint              = "${trimsuffix(var.ingest_url, "/")}/webhooks/eventbridge"
  http_method                      = "POST"
  invocation_rate_limit_per_second = var.api_destination_rate_limit_per_second
  connection_arn                   = aws_cloudwatch_event_connection.ingest.arn
}

data "aws_iam_policy_document" "events_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "eventbridge_ingest" {
  name               = "${var.name_prefix}-eventbridge-ingest"
  description        = "Lets EventBridge invoke the credmesh ingest API destination."
  assume_role_policy = data.aws_iam_policy_document.events_trust.json
  tags               = local.tags
}

data "aws_iam_policy_document" "invoke_ingest" {
  statement {
    effect    = "Allow"
    actions   = ["events:InvokeApiDestination"]
    resources = [aws_cloudwatch_event_api_destination.ingest.arn]
  }
}

resource "aws_iam_role_policy" "eventbridge_ingest" {
  name   = "invoke-ingest"
  role   = aws_iam_role.eventbridge_ingest.id
  policy = data.aws_iam_policy_document.invoke_ingest.json
}

resource "aws_sqs_queue" "ingest_dead_letters" {
  name                      = "${var.name_prefix}-ingest-dead-letters"
  message_retention_seconds = 1209600 # 14 days, the maximum: someone must look before they go.
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

data "aws_iam_policy_document" "ingest_dead_letters" {
  statement {
    sid       = "EventBridgeDeadLetters"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest_dead_letters.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in local.ingest_rules : rule.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "ingest_dead_letters" {
  queue_url = aws_sqs_queue.ingest_dead_letters.id
  policy    = data.aws_iam_policy_document.ingest_dead_letters.json
}

resource "aws_cloudwatch_event_target" "ingest" {
  for_each  = local.ingest_rules
  rule      = each.value.name
  target_id = "credmesh-ingest"
  arn       = aws_cloudwatch_event_api_destination.ingest.arn
  role_arn  = aws_iam_role.eventbridge_ingest.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_retry_maximum_age_seconds
    maximum_retry_attempts       = var.event_retry_maximum_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.ingest_dead_letters.arn
  }
}

# The CloudTrail rule's target was a single resource before the label rule existed.
moved {
  from = aws_cloudwatch_event_target.ingest
  to   = aws_cloudwatch_event_target.ingest["secret_changes"]
}
