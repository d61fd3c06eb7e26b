# One Cloud Scheduler job per enabled Schedule trigger of the deployed flows
# (modules/schedules reads them from the flow files). Each tick publishes
# {"type":"tick","namespace":…,"flowId":…,"triggerId":…} on baton-scheduler;
# the scheduler function creates the tick's execution once (the tick's
# date is its idempotency key), so a duplicate delivery changes nothing.
#
# Triggers with `withSeconds: true`, or a cron using L, W or #, get no job
# (Cloud Scheduler takes five-field unix-cron): see the skipped_schedules output.
resource "google_cloud_scheduler_job" "schedule" {
  for_each = module.schedules.jobs

  name        = each.value.name
  region      = var.region
  description = each.value.description
  schedule    = each.value.schedule
  time_zone   = each.value.time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topic["scheduler"].id
    data       = base64encode(each.value.payload)
    attributes = {
      type = "tick"
    }
  }

  depends_on = [google_project_service.api]
}

# The sweep: what no message will ever trigger — attempts whose worker died
# (expired lease) and retry timers of executor instances Cloud Run stopped
# (shared/src/functions/sweep.rs).
resource "google_cloud_scheduler_job" "sweep" {
  name        = "baton-sweep"
  region      = var.region
  description = "Baton: lost task attempts and due retry timers"
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic["scheduler"].id
    data       = base64encode(jsonencode({ type = "sweep" }))
    attributes = {
      type = "sweep"
    }
  }

  depends_on = [google_project_service.api]
}
