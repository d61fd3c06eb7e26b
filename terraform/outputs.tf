output "topics" {
  description = "Topic names: executions, scheduler (ticks and backfill requests), tasks-<group>, dead_letter."
  value       = merge({ for k, t in google_pubsub_topic.topic : k => t.name }, { dead_letter = google_pubsub_topic.dead_letter.name })
}

output "api_url" {
  description = "URL of the API service (call it with `Authorization: Bearer $(gcloud auth print-identity-token)`)."
  value       = google_cloud_run_v2_service.api.uri
}

output "webhooks_url" {
  description = "URL of the public webhook-only service (var.webhooks_public), null when off: webhooks are then at api_url, behind IAM. A webhook is POST/GET/PUT {url}/api/v1/executions/webhook/{namespace}/{flowId}/{key}."
  value       = var.webhooks_public ? google_cloud_run_v2_service.webhooks[0].uri : null
}

output "service_urls" {
  description = "URL of each push service."
  value       = { for k, s in google_cloud_run_v2_service.push : k => s.uri }
}

output "internal_bucket" {
  description = "Bucket of internal storage and deployed flows."
  value       = google_storage_bucket.internal.name
}

output "data_bucket" {
  description = "Bucket for the flows' data."
  value       = google_storage_bucket.data.name
}

output "bigquery_datasets" {
  description = "BigQuery dataset ids."
  value       = [for d in google_bigquery_dataset.dataset : d.dataset_id]
}

output "firestore_database" {
  description = "Firestore database name."
  value       = google_firestore_database.baton.name
}

output "flows" {
  description = "The deployed flows and their objects in the internal bucket."
  value       = { for k, o in google_storage_bucket_object.flow : k => "gs://${o.bucket}/${o.name}" }
}

output "scheduler_jobs" {
  description = "Cloud Scheduler job of each Schedule trigger (namespace/flowId/triggerId => job name, cron, time zone)."
  value = {
    for k, j in google_cloud_scheduler_job.schedule : k => {
      name      = j.name
      schedule  = j.schedule
      time_zone = j.time_zone
    }
  }
}

output "sweep_job" {
  description = "Cloud Scheduler job of the sweep."
  value       = google_cloud_scheduler_job.sweep.name
}

output "skipped_schedules" {
  description = "Schedule triggers that get no Cloud Scheduler job, with the reason (disabled, withSeconds, L/W/#)."
  value       = module.schedules.skipped
}

output "dead_letter_subscription" {
  description = "Pull subscription holding the messages no service could handle."
  value       = google_pubsub_subscription.dead_letter.name
}

output "service_accounts" {
  description = "Service account of each function, and the push invoker."
  value       = merge({ for k, a in google_service_account.function : k => a.email }, { push-invoker = google_service_account.invoker.email })
}
