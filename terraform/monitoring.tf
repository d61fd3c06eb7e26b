# Alerts and a dashboard in Cloud Monitoring (issue 50): failed executions
# (a log-based metric on the executor's "execution ended" line), messages
# waiting on the dead-letter topic, the oldest unacked message of each push
# subscription (a function falling behind), and the functions' 5xx share.
# Notifications go to `alert_notification_channels` (ids of channels made in
# the console or elsewhere: email, Slack, PagerDuty…); with none the policies
# still open incidents on the console's Alerting page.

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/…/notificationChannels/…) the alert policies notify."
  type        = list(string)
  default     = []
}

variable "alert_unacked_age_seconds" {
  description = "Alert when a push subscription's oldest unacked message is older than this (a function falling behind)."
  type        = number
  default     = 900
}

variable "alert_function_error_ratio" {
  description = "Alert when more than this share of a function's requests answer 5xx over 10 minutes."
  type        = number
  default     = 0.05
}

locals {
  push_subscription_ids = join(", ", [for k in sort(keys(local.push_services)) : "\"baton-${k}\""])
  function_services     = join(", ", [for f in sort(local.functions) : "\"baton-${f}\""])
}

# One point per ended execution, labelled with its state and flow (the
# executor's structured log line; Cloud Logging keeps its fields in jsonPayload).
resource "google_logging_metric" "executions_ended" {
  name   = "baton/executions_ended"
  filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"baton-executor\" AND jsonPayload.message=\"execution ended\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Baton executions ended"

    labels {
      key        = "state"
      value_type = "STRING"
    }
    labels {
      key        = "flow_id"
      value_type = "STRING"
    }
  }

  label_extractors = {
    state   = "EXTRACT(jsonPayload.state)"
    flow_id = "EXTRACT(jsonPayload.flow_id)"
  }

  depends_on = [google_project_service.api["logging.googleapis.com"]]
}

resource "google_monitoring_alert_policy" "failed_executions" {
  display_name = "Baton: executions failing"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "FAILED executions in 10 minutes, by flow"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.executions_ended.name}\" AND resource.type=\"cloud_run_revision\" AND metric.labels.state=\"FAILED\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.flow_id"]
      }
    }
  }

  notification_channels = var.alert_notification_channels
  user_labels           = var.labels
  documentation {
    content   = "Executions ended FAILED. Find them with the API (`/api/v1/executions/search?state=FAILED`) or in Cloud Logging: jsonPayload.message=\"execution ended\" jsonPayload.state=\"FAILED\"."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.api["monitoring.googleapis.com"]]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name = "Baton: messages on the dead-letter topic"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "undelivered messages on ${local.dead_letter_topic}"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.dead_letter.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  notification_channels = var.alert_notification_channels
  user_labels           = var.labels
  documentation {
    content   = "A function failed on a message max_delivery_attempts times. Read them: `gcloud pubsub subscriptions pull ${local.dead_letter_topic} --limit 10`."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.api["monitoring.googleapis.com"]]
}

resource "google_monitoring_alert_policy" "unacked_age" {
  display_name = "Baton: a function falls behind its messages"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "oldest unacked message of a push subscription"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=one_of(${local.push_subscription_ids})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_unacked_age_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  depends_on = [google_project_service.api["monitoring.googleapis.com"], google_pubsub_subscription.push]
}

resource "google_monitoring_alert_policy" "function_errors" {
  display_name = "Baton: functions answering 5xx"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "5xx share of a function's requests over 10 minutes"
    condition_prometheus_query_language {
      query               = "sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",response_code_class=\"5xx\"}[10m])) / sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\"}[10m])) > ${var.alert_function_error_ratio}"
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  notification_channels = var.alert_notification_channels
  user_labels           = var.labels
  documentation {
    content   = "A push function answers 503 when it cannot process a message (Pub/Sub redelivers it, then dead-letters it); read its logs: `gcloud logging read 'resource.labels.service_name=\"baton-executor\" severity>=ERROR'`."
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.api["monitoring.googleapis.com"]]
}

# The same signals on one page (Monitoring → Dashboards → Baton).
resource "google_monitoring_dashboard" "baton" {
  dashboard_json = jsonencode({
    displayName = "Baton"
    mosaicLayout = {
      columns = 12
      tiles = [for i, t in [
        {
          title  = "Executions ended, by state"
          filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.executions_ended.name}\" AND resource.type=\"cloud_run_revision\""
          agg    = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_SUM", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.state"] }
        },
        {
          title  = "Function requests, by service and response class"
          filter = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=one_of(${local.function_services})"
          agg    = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.service_name", "metric.label.response_code_class"] }
        },
        {
          title  = "Oldest unacked message age, by subscription"
          filter = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\""
          agg    = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_MAX", groupByFields = ["resource.label.subscription_id"] }
        },
        {
          title  = "Undelivered messages, by subscription (dead letters included)"
          filter = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\""
          agg    = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.subscription_id"] }
        },
        {
          title  = "Function request latency p95"
          filter = "metric.type=\"run.googleapis.com/request_latencies\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=one_of(${local.function_services})"
          agg    = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_PERCENTILE_95", crossSeriesReducer = "REDUCE_MAX", groupByFields = ["resource.label.service_name"] }
        },
        {
          title  = "Function instances"
          filter = "metric.type=\"run.googleapis.com/container/instance_count\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=one_of(${local.function_services})"
          agg    = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.service_name"] }
        },
        ] : {
        xPos   = (i % 2) * 6
        yPos   = floor(i / 2) * 4
        width  = 6
        height = 4
        widget = {
          title = t.title
          xyChart = {
            dataSets = [{
              plotType        = "LINE"
              timeSeriesQuery = { timeSeriesFilter = { filter = t.filter, aggregation = t.agg } }
            }]
          }
        }
      }]
    }
  })

  depends_on = [google_project_service.api["monitoring.googleapis.com"]]
}
