# Least privilege: one service account per function, each granted only what
# its code does; one invoker account whose OIDC token Pub/Sub puts on push
# requests.
#
# | function   | Firestore | publishes to                      | internal bucket | other                        |
# |------------|-----------|-----------------------------------|-----------------|------------------------------|
# | executor   | user      | baton-executions, baton-tasks-*   | objectAdmin     | secrets                      |
# | scheduler  | user      | baton-executions, baton-scheduler, baton-tasks-<container groups> | objectViewer | |
# | api        | user      | baton-executions, baton-scheduler | objectAdmin     |                              |
# | worker-<g> | user      | baton-executions                  | objectAdmin     | secrets; gcp groups: BigQuery jobs, dataEditor on the datasets, objectAdmin on the data bucket |
#
# Every function also reads the secret baton-seal-key (BATON_SEAL_KEY: the
# key SECRET inputs are sealed under, secrets.tf).
#
# The scheduler and the executor also pause and resume the sweep job
# (baton-sweep) through the Cloud Scheduler API: the custom role below.

resource "google_service_account" "function" {
  for_each = toset(local.functions)

  account_id   = "baton-${each.value}"
  display_name = "Baton ${each.value}"
  description  = "Runs the Baton ${each.value} Cloud Run service"

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

resource "google_service_account" "invoker" {
  account_id   = "baton-push-invoker"
  display_name = "Baton push invoker"
  description  = "Identity of Pub/Sub push requests to the Baton services (OIDC token)"

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

locals {
  # Firestore has no per-database IAM role: datastore.user on the project.
  project_roles = merge(
    { for f in local.functions : "${f}/datastore.user" => { function = f, role = "roles/datastore.user" } },
    {
      for g in var.gcp_worker_groups : "worker-${g}/bigquery.jobUser" => { function = "worker-${g}", role = "roles/bigquery.jobUser" }
      if contains(var.worker_groups, g)
    },
    # the trace sidecars write spans as the function's account (var.traces)
    { for f in local.functions : "${f}/cloudtrace.agent" => { function = f, role = "roles/cloudtrace.agent" } if var.traces },
    # the metrics sidecars write time series as the function's account (var.metrics)
    { for f in local.functions : "${f}/monitoring.metricWriter" => { function = f, role = "roles/monitoring.metricWriter" } if var.metrics },
  )

  publishes = merge(
    { executor = concat(["executions"], [for g in var.worker_groups : "tasks-${g}"]) },
    # the scheduler continues backfills on its own topic and reports the end
    # of Cloud Run Job executions (its sweep polls them) to their workers
    { scheduler = concat(["executions", "scheduler"], [for g in var.container_worker_groups : "tasks-${g}" if contains(var.worker_groups, g)]) },
    { api = ["executions", "scheduler"] },
    { for g in var.worker_groups : "worker-${g}" => ["executions"] },
  )
  publishers = merge([
    for f, topics in local.publishes : { for t in topics : "${f}/${t}" => { function = f, topic = t } }
  ]...)

  internal_bucket_roles = merge(
    { for f in local.functions : f => "roles/storage.objectAdmin" if f != "scheduler" },
    { scheduler = "roles/storage.objectViewer" },
  )

  gcp_workers = [for g in var.gcp_worker_groups : "worker-${g}" if contains(var.worker_groups, g)]
  dataset_editors = merge([
    for w in local.gcp_workers : { for d in var.bigquery_datasets : "${w}/${d}" => { function = w, dataset = d } }
  ]...)

  secret_consumers = [for k, s in local.push_services : k if s.secrets]
  # the API renders webhook keys: it reads those secrets and no other
  secret_grants = merge(concat(
    [for f in local.secret_consumers : { for s in var.secrets : "${f}/${s}" => { function = f, secret = s } }],
    [{ for s in var.webhook_key_secrets : "api/${s}" => { function = "api", secret = s } }],
  )...)
}

resource "google_project_iam_member" "function" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.function[each.value.function].member

  depends_on = [google_project_service.api["cloudresourcemanager.googleapis.com"]]
}

# Idle means no invocation: the sweep job (scheduler.tf) is paused while no
# work is in flight, and the engine resumes it when work starts and pauses it
# again when the last execution ends, through the Cloud Scheduler API. That
# takes exactly these permissions: jobs.get (read the job's state),
# jobs.pause and jobs.enable (what the API's jobs.resume method requires;
# there is no cloudscheduler.jobs.resume permission). The only predefined
# role with jobs.pause is roles/cloudscheduler.admin, which could also
# create, change, delete and run every job of the project — and a job can
# publish to any topic — so a custom role. Cloud Scheduler has no per-job IAM
# policy: the project is the narrowest place to grant it.
resource "google_project_iam_custom_role" "sweep_control" {
  project     = var.project_id
  role_id     = "batonSweepControl"
  title       = "Baton sweep control"
  description = "Read, pause and resume Cloud Scheduler jobs (Baton's sweep job)"
  permissions = local.sweep_control_permissions

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

resource "google_project_iam_member" "sweep_control" {
  for_each = toset(local.sweep_controllers)

  project = var.project_id
  role    = google_project_iam_custom_role.sweep_control.id
  member  = google_service_account.function[each.value].member

  depends_on = [google_project_service.api["cloudresourcemanager.googleapis.com"]]
}

# Every function reads the key SECRET inputs are sealed under (secrets.tf).
resource "google_secret_manager_secret_iam_member" "seal_key" {
  for_each = toset(local.functions)

  secret_id = google_secret_manager_secret.seal_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value].member
}

# ... and the keys it was sealed under before a rotation (secrets.tf).
resource "google_secret_manager_secret_iam_member" "seal_key_previous" {
  for_each = toset(local.functions)

  secret_id = google_secret_manager_secret.seal_key_previous.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value].member
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publishers

  topic  = google_pubsub_topic.topic[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

resource "google_storage_bucket_iam_member" "internal" {
  for_each = local.internal_bucket_roles

  bucket = google_storage_bucket.internal.name
  role   = each.value
  member = google_service_account.function[each.key].member
}

resource "google_storage_bucket_iam_member" "data" {
  for_each = toset(local.gcp_workers)

  bucket = google_storage_bucket.data.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.function[each.value].member
}

resource "google_bigquery_dataset_iam_member" "editor" {
  for_each = local.dataset_editors

  dataset_id = google_bigquery_dataset.dataset[each.value.dataset].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.function[each.value.function].member
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_grants

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

# Push: the invoker may call each push service, and nothing else.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.push_services

  name     = google_cloud_run_v2_service.push[each.key].name
  location = google_cloud_run_v2_service.push[each.key].location
  role     = "roles/run.invoker"
  member   = google_service_account.invoker.member
}

# Public webhooks (var.webhooks_public): anyone may call the webhook-only
# service; the key in the URL is the credential. The API itself never is public.
resource "google_cloud_run_v2_service_iam_member" "webhooks_public" {
  count = var.webhooks_public ? 1 : 0

  name     = google_cloud_run_v2_service.webhooks[0].name
  location = google_cloud_run_v2_service.webhooks[0].location
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "api_invoker" {
  for_each = toset(var.api_invokers)

  name     = google_cloud_run_v2_service.api.name
  location = google_cloud_run_v2_service.api.location
  role     = "roles/run.invoker"
  member   = each.value
}

# The Pub/Sub service agent mints the invoker's OIDC tokens, forwards poison
# messages to the dead-letter topic and acknowledges them on the source
# subscription. Google creates it on first use, not necessarily when the API
# is enabled, so it is created here before anything grants it a role
# (google_project_service_identity exists in google-beta only; the
# equivalent command is `gcloud beta services identity create
# --service=pubsub.googleapis.com`).
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.api["pubsub.googleapis.com"]]
}

resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.push_services

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
