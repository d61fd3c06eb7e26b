output "flows" {
  description = "Every flow of the folder, keyed \"namespace/id\": file, namespace, id, disabled, the object name it is uploaded under, and the prefix of its execution files in internal storage."
  value       = local.flows
}

output "jobs" {
  description = "One Cloud Scheduler job per enabled Schedule trigger and http.Trigger (keyed \"namespace/flowId/triggerId\") and per ScheduleOnDates date to come (keyed \"namespace/flowId/triggerId#index\"): name, schedule (five-field cron), time_zone, payload (the tick message, JSON), description."
  value       = local.jobs
}

output "skipped" {
  description = "Triggers (and ScheduleOnDates dates) that get no Cloud Scheduler job, with the reason (disabled, withSeconds, unsupported cron, a date passed, a bad interval)."
  value       = local.skipped
}

output "unsupported" {
  description = "Enabled triggers no deployment runs (a Redis list RealtimeTrigger), keyed \"namespace/flowId/triggerId\", with the reason; a flow holding one is refused at plan time."
  value       = local.unsupported
}
