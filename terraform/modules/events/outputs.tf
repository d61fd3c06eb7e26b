output "gcs" {
  description = "Each enabled gcs.Trigger: bucket, prefix, event types, its topic and push subscription names."
  value       = local.gcs
}

output "pubsub" {
  description = "Each enabled pubsub.Trigger / RealtimeTrigger: its topic path and push subscription name."
  value       = local.pubsub
}
