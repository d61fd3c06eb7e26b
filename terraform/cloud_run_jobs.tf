# Script tasks on the Docker runner (Kestra's default) run as Cloud Run Job
# executions (shared/src/plugins/scripts/cloudrun_runner.rs): a worker of a
# container group creates one Job per container shape, runs it once per
# task attempt and acknowledges; the scheduler's sweep reads each execution
# (functions/cloud_run_jobs.rs) and cancels it when its task was killed or
# timed out. The containers run as their own service account, which may
# only use the internal bucket: their working folders, mounted through
# Cloud Run's GCS volume.
#
# | who                  | may                                                                  |
# |----------------------|----------------------------------------------------------------------|
# | worker-<container g> | custom role batonCloudRunJobs; actAs baton-tasks (serviceAccountUser) |
# | scheduler            | custom role batonCloudRunWatch (read and cancel executions)          |
# | baton-tasks          | objectAdmin on the internal bucket                                   |

resource "google_service_account" "cloud_run_task" {
  account_id   = local.cloud_run_task_account_id
  display_name = "Baton container tasks"
  description  = "Runs the containers of Baton's script tasks as Cloud Run Job executions"

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

# Exactly the calls the runner makes. roles/run.developer would also let a
# worker change or delete every Cloud Run service of the project (Baton's
# own functions included); Cloud Run has no narrower predefined role with
# jobs.create, and Jobs created at run time have no IAM policy yet, so the
# project is the narrowest place to grant it.
resource "google_project_iam_custom_role" "cloud_run_jobs" {
  project     = var.project_id
  role_id     = "batonCloudRunJobs"
  title       = "Baton Cloud Run Jobs"
  description = "Create, update and run Cloud Run Jobs, read and cancel their executions (Baton's container tasks)"
  permissions = local.cloud_run_job_permissions

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

resource "google_project_iam_custom_role" "cloud_run_watch" {
  project     = var.project_id
  role_id     = "batonCloudRunWatch"
  title       = "Baton Cloud Run executions watch"
  description = "Read and cancel Cloud Run Job executions (Baton's sweep)"
  permissions = local.cloud_run_watch_permissions

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

resource "google_project_iam_member" "cloud_run_jobs" {
  for_each = toset(local.container_workers)

  project = var.project_id
  role    = google_project_iam_custom_role.cloud_run_jobs.id
  member  = google_service_account.function[each.value].member

  depends_on = [google_project_service.api["cloudresourcemanager.googleapis.com"]]
}

resource "google_project_iam_member" "cloud_run_watch" {
  project = var.project_id
  role    = google_project_iam_custom_role.cloud_run_watch.id
  member  = google_service_account.function["scheduler"].member

  depends_on = [google_project_service.api["cloudresourcemanager.googleapis.com"]]
}

# A Job that runs as baton-tasks may be created and run only by whoever may
# act as that account.
resource "google_service_account_iam_member" "cloud_run_task_user" {
  for_each = toset(local.container_workers)

  service_account_id = google_service_account.cloud_run_task.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function[each.value].member
}

resource "google_storage_bucket_iam_member" "cloud_run_task" {
  bucket = google_storage_bucket.internal.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.cloud_run_task.member
}
