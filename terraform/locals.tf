# Names and the shape of the deployment, derived once from the variables.

locals {
  labels = merge({ app = "baton", managed-by = "terraform" }, var.labels)

  registry         = coalesce(var.registry, "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_repository}")
  storage_location = upper(coalesce(var.storage_location, var.region))
  internal_bucket  = coalesce(var.internal_bucket_name, "${var.project_id}-baton-internal")
  data_bucket      = coalesce(var.data_bucket_name, "${var.project_id}-baton-data")

  # Topic names are fixed by the code (shared/backend/src/lib.rs `Topic::name`).
  topics = merge(
    {
      executions = "baton-executions"
      scheduler  = "baton-scheduler"
    },
    { for g in var.worker_groups : "tasks-${g}" => "baton-tasks-${g}" },
  )
  dead_letter_topic = "baton-dead-letter"

  worker_defaults = { cpu = "1", memory = "512Mi", max_instances = 20, concurrency = 8 }
  workers = {
    for g in var.worker_groups : g => merge(
      local.worker_defaults,
      { for k, v in try(var.worker_settings[g], {}) : k => v if v != null },
    )
  }

  # The services Pub/Sub pushes to, each fed by one topic. Workers may run a
  # task for up to an hour (Cloud Run's request limit); a redelivery after the
  # 600 s ack deadline finds the task claimed and is acknowledged.
  push_services = merge(
    {
      executor = {
        image         = "executor"
        topic         = "executions"
        timeout       = "300s"
        cpu           = "1"
        memory        = "512Mi"
        max_instances = var.max_instances
        concurrency   = 16
        secrets       = true
        # resumes the paused sweep job when work starts
        env = { BATON_SWEEP_JOB = local.sweep_job }
      }
      # a backfill request may keep its push request open while it runs
      scheduler = {
        image         = "scheduler"
        topic         = "scheduler"
        timeout       = "3600s"
        cpu           = "1"
        memory        = "512Mi"
        max_instances = var.max_instances
        concurrency   = 8
        secrets       = false
        # runs the sweep (expired leases, Cloud Run Job executions), and
        # pauses the sweep job when idle
        env = merge({
          BATON_SWEEP_JOB     = local.sweep_job
          BATON_LEASE_SECONDS = tostring(var.lease_seconds)
        }, local.cloud_run_env)
      }
    },
    {
      for g, s in local.workers : "worker-${g}" => {
        image         = "worker-${g}"
        topic         = "tasks-${g}"
        timeout       = "3600s"
        cpu           = s.cpu
        memory        = s.memory
        max_instances = s.max_instances
        concurrency   = s.concurrency
        secrets       = true
        env = merge(
          { BATON_WORKER_GROUP = g, BATON_LEASE_SECONDS = tostring(var.lease_seconds) },
          # Docker-runner script tasks run as Cloud Run Jobs (cloud_run_jobs.tf)
          contains(var.container_worker_groups, g) ? local.cloud_run_env : {},
          # `{{ envs.gcp_project_id }}`, `{{ envs.gcp_bucket_name }}`... in flows
          contains(var.gcp_worker_groups, g) ? {
            ENV_GCP_PROJECT_ID  = var.project_id
            ENV_GCP_LOCATION    = local.bigquery_location
            ENV_GCP_BUCKET_NAME = local.data_bucket
            ENV_GCP_DATASET     = try(var.bigquery_datasets[0], "")
          } : {},
        )
      }
    },
  )

  # Every function's service account: the push services plus the API.
  functions = concat(keys(local.push_services), ["api"])

  # The audience each push subscription puts in its OIDC token; the service
  # accepts it (Cloud Run `custom_audiences`) and checks it again
  # (`BATON_PUSH_AUDIENCE`).
  push_audiences = { for k, _ in local.push_services : k => "https://${var.project_id}.baton/${k}" }

  common_env = merge({
    GOOGLE_CLOUD_PROJECT     = var.project_id
    BATON_INTERNAL_BUCKET    = local.internal_bucket
    BATON_FIRESTORE_DATABASE = var.firestore_database
    RUST_LOG                 = var.log_level
    },
    # traces go to the collector sidecar beside each function (var.traces)
    var.traces ? { OTEL_EXPORTER_OTLP_ENDPOINT = "http://localhost:4318" } : {},
  )

  # A collector sidecar beside each function (var.traces, var.metrics).
  collector_sidecar = var.traces || var.metrics

  # The sidecar's configuration, given in its environment
  # (`--config=env:OTELCOL_CONFIG`). Traces: its exporter has no sending
  # queue, the collector answers Baton's flush only once the spans are in
  # Cloud Trace, and Baton flushes before it answers each push request, so
  # nothing waits in a sidecar whose CPU Cloud Run freezes between
  # requests. Metrics (var.metrics): the prometheus receiver scrapes the
  # function's GET /prometheus on localhost every 30 s and the
  # googlemanagedprometheus exporter writes them to Cloud Monitoring
  # (Managed Service for Prometheus, one target per instance, PromQL in
  # Cloud Monitoring); counters are cumulative, so a scrape missed while
  # Cloud Run throttles an idle instance's CPU is caught up by the next one.
  otel_collector_config = yamlencode({
    receivers = merge(
      { otlp = { protocols = { http = { endpoint = "localhost:4318" } } } },
      { for k, v in {
        prometheus = { config = { scrape_configs = [{
          job_name        = "baton"
          scrape_interval = "30s"
          metrics_path    = "/prometheus"
          static_configs  = [{ targets = ["localhost:8080"] }]
        }] } }
      } : k => v if var.metrics },
    )
    processors = { resourcedetection = { detectors = ["env", "gcp"] }, batch = {} }
    exporters = merge(
      { googlecloud = { sending_queue = { enabled = false } } },
      { for k, v in { googlemanagedprometheus = {} } : k => v if var.metrics },
    )
    service = {
      pipelines = merge(
        { traces = { receivers = ["otlp"], processors = ["resourcedetection"], exporters = ["googlecloud"] } },
        { for k, v in {
          metrics = { receivers = ["prometheus"], processors = ["resourcedetection", "batch"], exporters = ["googlemanagedprometheus"] }
        } : k => v if var.metrics },
      )
    }
  })

  bigquery_location  = coalesce(var.bigquery_location, var.region)
  firestore_location = coalesce(var.firestore_location, var.region)

  # The Pub/Sub service agent (service-<number>@gcp-sa-pubsub…), created
  # before its grants (iam.tf).
  pubsub_agent = google_project_service_identity.pubsub.member

  # Every service reads these from Secret Manager (run.tf): the key SECRET
  # inputs are sealed under in Firestore and in worker jobs (secrets.tf),
  # at the version Terraform created or the one a rotation added
  # (var.seal_key_version), never `latest`; and after a rotation, the keys
  # values were sealed under before it (var.seal_key_previous_version of
  # baton-seal-key-previous).
  seal_key_env = merge(
    {
      BATON_SEAL_KEY = {
        secret  = google_secret_manager_secret.seal_key.secret_id
        version = coalesce(var.seal_key_version, google_secret_manager_secret_version.seal_key.version)
      }
    },
    var.seal_key_previous_version == null ? {} : {
      BATON_SEAL_KEY_PREVIOUS = {
        secret  = google_secret_manager_secret.seal_key_previous.secret_id
        version = var.seal_key_previous_version
      }
    },
  )

  # The sweep job's full name (scheduler.tf): the engine pauses it when idle
  # and resumes it when work starts, with the permissions of the custom role
  # granted to these functions (iam.tf).
  sweep_job_id              = "baton-sweep"
  sweep_job                 = "projects/${var.project_id}/locations/${var.region}/jobs/${local.sweep_job_id}"
  sweep_controllers         = ["scheduler", "executor"]
  sweep_control_permissions = ["cloudscheduler.jobs.get", "cloudscheduler.jobs.pause", "cloudscheduler.jobs.enable"]

  # Container tasks as Cloud Run Jobs (cloud_run_jobs.tf): the workers that
  # start them, the account they run as, and exactly what the runner calls
  # (jobs.get/create/patch, jobs.run with overrides, executions.get/cancel,
  # operations.get) and what the sweep calls (executions.get/cancel).
  container_workers           = [for g in var.container_worker_groups : "worker-${g}" if contains(var.worker_groups, g)]
  cloud_run_task_account_id   = "baton-tasks"
  cloud_run_task_account      = "${local.cloud_run_task_account_id}@${var.project_id}.iam.gserviceaccount.com"
  cloud_run_env               = { BATON_CLOUD_RUN_REGION = var.region, BATON_CLOUD_RUN_SERVICE_ACCOUNT = local.cloud_run_task_account }
  cloud_run_watch_permissions = ["run.executions.get", "run.executions.cancel"]
  cloud_run_job_permissions = concat(
    ["run.jobs.get", "run.jobs.create", "run.jobs.update", "run.jobs.run", "run.jobs.runWithOverrides", "run.operations.get"],
    local.cloud_run_watch_permissions,
  )
}
