variable "project_id" {
  description = "The Google Cloud project Baton is deployed in."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run services, the Cloud Scheduler jobs and (by default) the buckets, the Firestore database and the BigQuery datasets."
  type        = string
  default     = "europe-west1"
}

variable "image_tag" {
  description = "Tag of the function images to deploy (cloudbuild.yaml pushes `$SHORT_SHA`)."
  type        = string
}

variable "registry" {
  description = "Where the function images are, without the image name. Default: `<region>-docker.pkg.dev/<project>/<artifact_repository>`."
  type        = string
  default     = null
}

variable "artifact_repository" {
  description = "Artifact Registry repository of the images (cloudbuild.yaml's `_REPO`), used when `registry` is not set."
  type        = string
  default     = "baton"
}

variable "flows_dir" {
  description = "Folder of the Kestra flows to deploy (*.yml, *.yaml, recursively), relative to where terraform runs. Each is uploaded to the internal bucket and each enabled Schedule trigger gets a Cloud Scheduler job."
  type        = string
  default     = "../examples"
}

variable "internal_bucket_name" {
  description = "Bucket of Baton's internal storage (kestra:/// files) and the deployed flows. Default: `<project>-baton-internal`."
  type        = string
  default     = null
}

variable "data_bucket_name" {
  description = "Bucket the flows' GCS tasks use for data. Default: `<project>-baton-data`."
  type        = string
  default     = null
}

variable "storage_location" {
  description = "Location of the buckets. Default: the region."
  type        = string
  default     = null
}

variable "internal_storage_retention_days" {
  description = "Delete the execution files of the deployed flows (`<namespace>/<flow>/executions/…` in the internal bucket) this many days after they were written. null keeps them. Flows and namespace files are never matched."
  type        = number
  default     = 30

  validation {
    condition     = var.internal_storage_retention_days == null || try(var.internal_storage_retention_days >= 1, false)
    error_message = "internal_storage_retention_days must be at least 1, or null."
  }
}

variable "bigquery_datasets" {
  description = "BigQuery datasets created for the flows (the gcp worker group can edit them)."
  type        = list(string)
  default     = ["baton"]

  validation {
    condition     = alltrue([for d in var.bigquery_datasets : can(regex("^[A-Za-z0-9_]+$", d)) && length(d) <= 1024])
    error_message = "A BigQuery dataset id has only letters, digits and underscores (at most 1024)."
  }
}

variable "bigquery_location" {
  description = "Location of the BigQuery datasets. Default: the region."
  type        = string
  default     = null
}

variable "firestore_database" {
  description = "Name of the Firestore (native mode) database that holds executions, task runs, logs, KV and trigger state."
  type        = string
  default     = "baton"
}

variable "firestore_location" {
  description = "Location of the Firestore database (a region, or nam5 / eur3). Default: the region."
  type        = string
  default     = null
}

variable "firestore_kv_collection" {
  description = "Collection group of the KV entries (`kv/{namespace}/keys/{key}`, shared/gcp/src/store/firestore_kv.rs); its TTL field expires them."
  type        = string
  default     = "keys"
}

variable "firestore_kv_ttl_field" {
  description = "Timestamp field of a KV entry after which Firestore's TTL deletes it."
  type        = string
  default     = "expires"
}

variable "worker_groups" {
  description = "Task groups, each with its own tasks topic (`baton-tasks-<group>`), push subscription, image (`worker-<group>`) and Cloud Run service."
  type        = list(string)
  default     = ["core", "scripts", "jdbc", "gcp", "dbt"]

  validation {
    condition     = alltrue([for g in var.worker_groups : can(regex("^[a-z][a-z0-9]{0,12}$", g))])
    error_message = "A worker group is 1-13 lower-case letters or digits, starting with a letter (it names a service account)."
  }
}

variable "gcp_worker_groups" {
  description = "Worker groups whose tasks use BigQuery and the data bucket (they get bigquery.jobUser, dataEditor on the datasets and objectAdmin on the data bucket)."
  type        = list(string)
  default     = ["gcp"]
}

variable "container_worker_groups" {
  description = "Worker groups whose Docker-runner script tasks (Kestra's default runner) run as Cloud Run Job executions (cloud_run_jobs.tf); in the other groups they fail without a container engine."
  type        = list(string)
  default     = ["scripts", "dbt"]
}

variable "worker_settings" {
  description = "Per worker group: cpu, memory, max_instances, concurrency (requests per instance). Unset fields use the defaults in locals.tf."
  type = map(object({
    cpu           = optional(string)
    memory        = optional(string)
    max_instances = optional(number)
    concurrency   = optional(number)
  }))
  default = {
    scripts = { cpu = "2", memory = "2Gi", concurrency = 1 }
    dbt     = { cpu = "2", memory = "2Gi", concurrency = 1 }
    jdbc    = { memory = "2Gi", concurrency = 2 }
  }
}

variable "max_instances" {
  description = "Maximum instances of the executor, scheduler and api services."
  type        = number
  default     = 10
}

variable "max_delivery_attempts" {
  description = "Deliveries of a push message before it goes to the dead-letter topic (5-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub allows 5 to 100 delivery attempts."
  }
}

variable "secrets" {
  description = "Names of the secrets flows read with `{{ secret('NAME') }}`. Each becomes a Secret Manager secret `baton-NAME`, exposed to the executor and the workers as `SECRET_NAME` (its latest version). The first version comes from `secret_values`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.secrets : can(regex("^[A-Za-z0-9_]{1,200}$", s))])
    error_message = "A secret name has only letters, digits and underscores."
  }
}

variable "secret_values" {
  description = "Value of each secret, by name: the secret's first version (SECRET_NAME holds it as is: Baton's convention, like Kestra OSS, is the base64 of the value, e.g. `base64encode(file(\"creds.json\"))` or `base64 -w0 creds.json`). Ephemeral and written through a write-only argument: never stored in the state or a plan. Needed by the apply that creates a secret; later applies may omit it (the version exists). A new value: bump `secret_values_version` and pass it again, or add a version by hand (`gcloud secrets versions add`)."
  type        = map(string)
  default     = {}
  sensitive   = true
  ephemeral   = true
}

variable "secret_values_version" {
  description = "Bump to write `secret_values` again as new secret versions (a write-only value is not stored, so Terraform cannot see that it changed)."
  type        = number
  default     = 1
}

variable "seal_key_version" {
  description = "The version of the secret baton-seal-key the services seal SECRET inputs under (BATON_SEAL_KEY). Null: the version Terraform created on the first apply. After a rotation (a version added with gcloud), its number, so that `terraform apply` keeps the new key."
  type        = string
  default     = null

  validation {
    condition     = var.seal_key_version == null || can(regex("^[1-9][0-9]*$", var.seal_key_version))
    error_message = "seal_key_version must be the number of a version of baton-seal-key (not `latest`: the services read a pinned key)."
  }
}

variable "seal_key_previous_version" {
  description = "The version of the secret baton-seal-key-previous the services read as BATON_SEAL_KEY_PREVIOUS: the keys values were sealed under before a rotation, a comma list, newest first. Null: no previous keys."
  type        = string
  default     = null

  validation {
    condition     = var.seal_key_previous_version == null || can(regex("^[1-9][0-9]*$", var.seal_key_previous_version))
    error_message = "seal_key_previous_version must be the number of a version of baton-seal-key-previous (not `latest`: the services read pinned keys)."
  }
}

variable "lease_seconds" {
  description = "How long a worker's claim on a task lasts without a heartbeat (BATON_LEASE_SECONDS of the workers and the scheduler; the heartbeat renews it every third of it). A task whose worker died is taken over once its lease ran out, by the redelivery of its job (Pub/Sub retries the push request the dead instance dropped) or by the next sweep: with 30, within about a minute."
  type        = number
  default     = 30

  validation {
    condition     = var.lease_seconds == floor(var.lease_seconds) && var.lease_seconds >= 10 && var.lease_seconds <= 3600
    error_message = "lease_seconds must be a whole number of seconds from 10 (the heartbeat renews it every third of it) to 3600 (Cloud Run's longest request)."
  }
}

variable "schedule_time_zone" {
  description = "Time zone of Schedule triggers that name none. Baton's scheduler reads such triggers in UTC, so change it only together with the scheduler."
  type        = string
  default     = "Etc/UTC"
}

variable "sweep_schedule" {
  description = "Cron of the sweep job (lost task attempts, due retry timers); a lost attempt is retried at most this late after its lease expires. Every minute, Cloud Scheduler's shortest interval; the job only runs while the engine has it resumed (work in flight)."
  type        = string
  default     = "* * * * *"
}

variable "api_invokers" {
  description = "Members allowed to call the API service (e.g. `user:me@example.com`, `group:data@example.com`). The API is never public."
  type        = list(string)
  default     = []
}

variable "webhook_key_secrets" {
  description = "Names in `secrets` that Webhook trigger keys read (`key: \"{{ secret('NAME') }}\"`): only these reach the API service (and the webhook service) as `SECRET_NAME`, so it can match the key in a webhook's URL. The API gets no other secret."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.webhook_key_secrets : contains(var.secrets, s)])
    error_message = "Every name in webhook_key_secrets must also be in secrets."
  }
}

variable "webhooks_public" {
  description = "Expose webhooks to callers without Google credentials: a second service, baton-webhooks, serves only the webhook routes (BATON_API_ROUTES=webhooks) and `allUsers` may invoke it. The key in each webhook's URL is then its only credential (as in Kestra): use a `{{ secret('NAME') }}` key. Off by default: the API, webhooks included, needs IAM (`api_invokers`)."
  type        = bool
  default     = false
}

variable "api_ingress" {
  description = "Ingress of the API service: INGRESS_TRAFFIC_ALL (authenticated callers from anywhere) or INGRESS_TRAFFIC_INTERNAL_ONLY."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.api_ingress)
    error_message = "api_ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "log_level" {
  description = "RUST_LOG of every function."
  type        = string
  default     = "info"
}

variable "labels" {
  description = "Extra labels on every resource."
  type        = map(string)
  default     = {}
}

variable "traces" {
  description = "Export OpenTelemetry traces of executions to Cloud Trace: each function gets an OpenTelemetry Collector sidecar (otel_collector_image) that Baton sends OTLP/HTTP to, and the Cloud Trace agent role."
  type        = bool
  default     = false
}

variable "metrics" {
  description = "Export the functions' Prometheus metrics (GET /prometheus) to Cloud Monitoring through Google Cloud Managed Service for Prometheus: each function gets the OpenTelemetry Collector sidecar (otel_collector_image), which scrapes it on localhost every 30 s, and the Monitoring metric writer role."
  type        = bool
  default     = false
}

variable "otel_collector_image" {
  description = "The image of the collector sidecar: an OpenTelemetry Collector with the googlecloud and googlemanagedprometheus exporters, the prometheus receiver and the env config provider (e.g. Google-Built OpenTelemetry Collector, pinned to a version). Required when traces or metrics is true."
  type        = string
  default     = ""

  validation {
    condition     = !(var.traces || var.metrics) || var.otel_collector_image != ""
    error_message = "traces = true or metrics = true needs otel_collector_image (an OpenTelemetry Collector image with the googlecloud and googlemanagedprometheus exporters)."
  }
}
