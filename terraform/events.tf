# GCS and Pub/Sub triggers as pushes (shared/src/functions/events.rs): Kestra
# polls them every `interval`; here each event is one push to the scheduler
# function and nothing runs while nothing arrives. modules/events reads the
# triggers from the flow files, as modules/schedules does for Schedules.
#
# - gcs.Trigger: the bucket's Pub/Sub notification (OBJECT_FINALIZE, and
#   OBJECT_METADATA_UPDATE unless `on: CREATE`; prefix from `from`) on its own
#   topic, with a push subscription named baton-gcs~{namespace}~{flow}~{trigger}
#   (the name tells the function which trigger it is). The scheduler's service
#   account may read, move and delete the bucket's objects (the `action`).
# - pubsub.Trigger / RealtimeTrigger: a push subscription named as its
#   `subscription`, on its `topic` (in its `projectId`, else this project).
#
# Every subscription pushes with the OIDC identity the other subscriptions
# use, retries with backoff and dead-letters like them.
module "events" {
  source = "./modules/events"

  flows_dir  = var.flows_dir
  project_id = var.project_id
}

# The GCS service agent, which publishes the notifications.
data "google_storage_project_service_account" "gcs" {
  project = var.project_id

  depends_on = [google_project_service.api["storage.googleapis.com"]]
}

resource "google_pubsub_topic" "gcs_event" {
  #checkov:skip=CKV_GCP_83:Messages are encrypted at rest with Google-managed keys; a customer-managed key needs a Cloud KMS key and grants this deployment does not create.
  for_each = module.events.gcs

  name = each.value.topic

  depends_on = [google_project_service.api["pubsub.googleapis.com"]]
}

resource "google_pubsub_topic_iam_member" "gcs_event_publisher" {
  for_each = module.events.gcs

  topic  = google_pubsub_topic.gcs_event[each.key].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"

  depends_on = [google_project_service.api["pubsub.googleapis.com"]]
}

resource "google_storage_notification" "gcs_event" {
  for_each = module.events.gcs

  bucket             = each.value.bucket
  payload_format     = "JSON_API_V1"
  topic              = google_pubsub_topic.gcs_event[each.key].id
  event_types        = each.value.event_types
  object_name_prefix = each.value.prefix

  depends_on = [
    google_pubsub_topic_iam_member.gcs_event_publisher,
    google_project_service.api["storage.googleapis.com"],
  ]
}

# The scheduler reads the objects (into internal storage) and does the action.
resource "google_storage_bucket_iam_member" "gcs_event" {
  for_each = toset(compact(flatten([for g in module.events.gcs : [g.bucket, g.move_bucket]])))

  bucket = each.value
  role   = "roles/storage.objectAdmin"
  member = google_service_account.function["scheduler"].member

  depends_on = [google_project_service.api["storage.googleapis.com"]]
}

resource "google_pubsub_subscription" "event" {
  for_each = merge(
    { for k, g in module.events.gcs : "gcs/${k}" => { name = g.subscription, topic = google_pubsub_topic.gcs_event[k].id } },
    { for k, p in module.events.pubsub : "pubsub/${k}" => { name = p.subscription, topic = p.topic } },
  )

  name                       = each.value.name
  topic                      = each.value.topic
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloud_run_v2_service.push["scheduler"].uri

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = local.push_audiences["scheduler"]
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_cloud_run_v2_service_iam_member.push_invoker,
  ]
}

resource "google_pubsub_subscription_iam_member" "event_dead_letter_subscriber" {
  for_each = google_pubsub_subscription.event

  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
