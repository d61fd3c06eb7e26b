# The functions, as Cloud Run services: the push services (executor,
# scheduler, one worker per group), reachable only from inside Google Cloud
# (Pub/Sub push is internal traffic) and only with the invoker's OIDC token;
# and the API, for authenticated callers.

resource "google_cloud_run_v2_service" "push" {
  for_each = local.push_services

  name                = "baton-${each.key}"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false
  custom_audiences    = [local.push_audiences[each.key]]

  template {
    service_account                  = google_service_account.function[each.key].email
    timeout                          = each.value.timeout
    max_instance_request_concurrency = each.value.concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"

    scaling {
      min_instance_count = 0
      max_instance_count = each.value.max_instances
    }

    # the collector sidecar (var.traces, var.metrics): an OpenTelemetry
    # Collector exporting traces to Cloud Trace and the scraped metrics to
    # Cloud Monitoring, configured by local.otel_collector_config
    dynamic "containers" {
      for_each = local.collector_sidecar ? ["otel-collector"] : []
      content {
        name  = containers.value
        image = var.otel_collector_image
        args  = ["--config=env:OTELCOL_CONFIG"]

        env {
          name  = "OTELCOL_CONFIG"
          value = local.otel_collector_config
        }

        resources {
          limits = {
            cpu    = "1"
            memory = "256Mi"
          }
        }

        startup_probe {
          period_seconds    = 2
          timeout_seconds   = 1
          failure_threshold = 30
          tcp_socket {
            port = 4318
          }
        }
      }
    }

    containers {
      name  = "baton"
      image = "${local.registry}/${each.value.image}:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = each.value.cpu
          memory = each.value.memory
        }
        # CPU only while a request is served: every task runs inside its push request.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = merge(local.common_env, each.value.env, {
          BATON_PUSH_AUDIENCE        = local.push_audiences[each.key]
          BATON_PUSH_SERVICE_ACCOUNT = google_service_account.invoker.email
        })
        content {
          name  = env.key
          value = env.value
        }
      }

      # `{{ secret('NAME') }}`: SECRET_NAME, base64 of the value (Kestra's convention),
      # and the seal keys (local.seal_key_env)
      dynamic "env" {
        for_each = merge(local.seal_key_env, {
          for s in(each.value.secrets ? var.secrets : []) : "SECRET_${upper(s)}" => { secret = google_secret_manager_secret.secret[s].secret_id, version = "latest" }
        })
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      startup_probe {
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
        http_get {
          path = "/healthz"
        }
      }
    }
  }

  # `latest` of each secret exists and may be read before a revision starts
  depends_on = [
    google_project_service.api["run.googleapis.com"],
    google_secret_manager_secret_version.secret,
    google_secret_manager_secret_iam_member.accessor,
    google_secret_manager_secret_iam_member.seal_key,
    google_secret_manager_secret_iam_member.seal_key_previous,
  ]
}

resource "google_cloud_run_v2_service" "api" {
  name                = "baton-api"
  location            = var.region
  ingress             = var.api_ingress
  deletion_protection = false

  template {
    service_account                  = google_service_account.function["api"].email
    timeout                          = "300s"
    max_instance_request_concurrency = 40

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    # the collector sidecar (var.traces, var.metrics): an OpenTelemetry
    # Collector exporting traces to Cloud Trace and the scraped metrics to
    # Cloud Monitoring, configured by local.otel_collector_config
    dynamic "containers" {
      for_each = local.collector_sidecar ? ["otel-collector"] : []
      content {
        name  = containers.value
        image = var.otel_collector_image
        args  = ["--config=env:OTELCOL_CONFIG"]

        env {
          name  = "OTELCOL_CONFIG"
          value = local.otel_collector_config
        }

        resources {
          limits = {
            cpu    = "1"
            memory = "256Mi"
          }
        }

        startup_probe {
          period_seconds    = 2
          timeout_seconds   = 1
          failure_threshold = 30
          tcp_socket {
            port = 4318
          }
        }
      }
    }

    containers {
      name  = "baton"
      image = "${local.registry}/api:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }

      # webhook keys written `{{ secret('NAME') }}` (var.webhook_key_secrets only),
      # and the seal keys (local.seal_key_env)
      dynamic "env" {
        for_each = merge(local.seal_key_env, {
          for s in var.webhook_key_secrets : "SECRET_${upper(s)}" => { secret = google_secret_manager_secret.secret[s].secret_id, version = "latest" }
        })
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      startup_probe {
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
        http_get {
          path = "/healthz"
        }
      }
    }
  }

  depends_on = [
    google_project_service.api["run.googleapis.com"],
    google_secret_manager_secret_version.secret,
    google_secret_manager_secret_iam_member.accessor,
    google_secret_manager_secret_iam_member.seal_key,
    google_secret_manager_secret_iam_member.seal_key_previous,
  ]
}

# Public webhooks (var.webhooks_public): the api image serving only the
# webhook routes and /healthz, so that opening it to anyone opens nothing
# else of the API. Same service account and secrets as the API.
resource "google_cloud_run_v2_service" "webhooks" {
  count = var.webhooks_public ? 1 : 0

  name                = "baton-webhooks"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  template {
    service_account                  = google_service_account.function["api"].email
    timeout                          = "300s"
    max_instance_request_concurrency = 40

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    # the collector sidecar (var.traces, var.metrics): an OpenTelemetry
    # Collector exporting traces to Cloud Trace and the scraped metrics to
    # Cloud Monitoring, configured by local.otel_collector_config
    dynamic "containers" {
      for_each = local.collector_sidecar ? ["otel-collector"] : []
      content {
        name  = containers.value
        image = var.otel_collector_image
        args  = ["--config=env:OTELCOL_CONFIG"]

        env {
          name  = "OTELCOL_CONFIG"
          value = local.otel_collector_config
        }

        resources {
          limits = {
            cpu    = "1"
            memory = "256Mi"
          }
        }

        startup_probe {
          period_seconds    = 2
          timeout_seconds   = 1
          failure_threshold = 30
          tcp_socket {
            port = 4318
          }
        }
      }
    }

    containers {
      name  = "baton"
      image = "${local.registry}/api:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = merge(local.common_env, { BATON_API_ROUTES = "webhooks" })
        content {
          name  = env.key
          value = env.value
        }
      }

      # webhook keys written `{{ secret('NAME') }}` (var.webhook_key_secrets only),
      # and the seal keys (local.seal_key_env)
      dynamic "env" {
        for_each = merge(local.seal_key_env, {
          for s in var.webhook_key_secrets : "SECRET_${upper(s)}" => { secret = google_secret_manager_secret.secret[s].secret_id, version = "latest" }
        })
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      startup_probe {
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
        http_get {
          path = "/healthz"
        }
      }
    }
  }

  depends_on = [
    google_project_service.api["run.googleapis.com"],
    google_secret_manager_secret_version.secret,
    google_secret_manager_secret_iam_member.accessor,
    google_secret_manager_secret_iam_member.seal_key,
    google_secret_manager_secret_iam_member.seal_key_previous,
  ]
}
