# Internal storage (kestra:/// files of executions, namespace files, the
# deployed flows under flows/) and the data bucket the flows' GCS tasks use.

resource "google_storage_bucket" "internal" {
  #checkov:skip=CKV_GCP_62:Object access is recorded by Cloud Audit Logs (Data Access logs for storage.googleapis.com); legacy usage-log buckets are not used.
  name                        = local.internal_bucket
  location                    = local.storage_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Versions guard the deployed flows against a bad overwrite; old versions go after a week.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # Execution files of the deployed flows expire; flows/ and the namespace
  # files (<namespace>/_files/) are never matched. No rule at all without a
  # prefix: a rule without one would match every object.
  dynamic "lifecycle_rule" {
    for_each = var.internal_storage_retention_days != null && length(local.execution_prefixes) > 0 ? [var.internal_storage_retention_days] : []
    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = local.execution_prefixes
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.api["storage.googleapis.com"]]
}

resource "google_storage_bucket" "data" {
  #checkov:skip=CKV_GCP_62:Object access is recorded by Cloud Audit Logs (Data Access logs for storage.googleapis.com); legacy usage-log buckets are not used.
  name                        = local.data_bucket
  location                    = local.storage_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.api["storage.googleapis.com"]]
}

locals {
  execution_prefixes = sort(distinct([for f in module.schedules.flows : f.executions_prefix]))
}
