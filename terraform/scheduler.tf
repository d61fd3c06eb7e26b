# One Cloud Scheduler job per enabled Schedule trigger and http.Trigger of the deployed
# flows, and per ScheduleOnDates date to come (modules/schedules reads the flow files). Each tick publishes
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

  depends_on = [google_project_service.api["cloudscheduler.googleapis.com"]]
}

# The sweep: what no message will ever trigger — attempts whose worker died
# (expired lease) and retry timers of executor instances Cloud Run stopped
# (shared/src/functions/sweep.rs). Idle must mean no invocation, so the job is
# created paused and the engine itself resumes it when work starts and pauses
# it when none is left (BATON_SWEEP_JOB, the custom role in iam.tf); Terraform
# ignores the state the engine left it in.
resource "google_cloud_scheduler_job" "sweep" {
  name        = local.sweep_job_id
  region      = var.region
  description = "Baton: lost task attempts and due retry timers (paused while idle)"
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"
  paused      = true

  pubsub_target {
    topic_name = google_pubsub_topic.topic["scheduler"].id
    data       = base64encode(jsonencode({ type = "sweep" }))
    attributes = {
      type = "sweep"
    }
  }

  lifecycle {
    ignore_changes = [paused]
  }

  depends_on = [google_project_service.api["cloudscheduler.googleapis.com"]]
}
