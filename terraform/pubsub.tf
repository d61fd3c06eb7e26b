# Topics and push delivery. Each topic feeds one Cloud Run service through a
# push subscription that carries a Google-signed OIDC token of the invoker
# service account; a message the service keeps failing on goes to the
# dead-letter topic after `max_delivery_attempts`.

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Messages are encrypted at rest with Google-managed keys; a customer-managed key needs a Cloud KMS key and grants this deployment does not create.
  for_each = local.topics

  name                       = each.value
  message_retention_duration = "604800s"

  depends_on = [google_project_service.api["pubsub.googleapis.com"]]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Messages are encrypted at rest with Google-managed keys; a customer-managed key needs a Cloud KMS key and grants this deployment does not create.
  name                       = local.dead_letter_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.api["pubsub.googleapis.com"]]
}

# Poison messages wait here for a person (`gcloud pubsub subscriptions pull
# baton-dead-letter`); without a subscription they would be dropped.
resource "google_pubsub_subscription" "dead_letter" {
  name                       = local.dead_letter_topic
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push_services

  name  = "baton-${each.key}"
  topic = google_pubsub_topic.topic[each.value.topic].id

  # A push request may take this long before Pub/Sub gives up on it and
  # redelivers; a longer task is already claimed, so the duplicate is acked.
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloud_run_v2_service.push[each.key].uri

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = local.push_audiences[each.key]
    }
  }

  # non-2xx answers (transient failures) are retried with backoff
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # never expire, however rarely a worker group is used
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_cloud_run_v2_service_iam_member.push_invoker,
  ]
}
