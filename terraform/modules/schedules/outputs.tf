output "flows" {
  description = "Every flow of the folder, keyed \"namespace/id\": file, namespace, id, disabled, the object name it is uploaded under, and the prefix of its execution files in internal storage."
  value       = local.flows
}

output "jobs" {
  description = "One Cloud Scheduler job per enabled Schedule trigger, keyed \"namespace/flowId/triggerId\": name, schedule (five-field cron), time_zone, payload (the tick message, JSON), description."
  value       = local.jobs
}

output "skipped" {
  description = "Schedule triggers that get no Cloud Scheduler job, keyed \"namespace/flowId/triggerId\", with the reason (disabled, withSeconds, unsupported cron)."
  value       = local.skipped
}
