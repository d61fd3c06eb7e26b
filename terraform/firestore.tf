# State: executions, task runs (one document each), logs, claims, KV, flows,
# trigger and backfill state (shared/gcp/src/store/).

resource "google_firestore_database" "baton" {
  name                              = var.firestore_database
  location_id                       = local.firestore_location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.api["firestore.googleapis.com"]]
}

# KV entries expire: Baton ignores an expired key at once, and Firestore's
# TTL deletes it in the background (typically within a day). The field is
# exempt from single-field indexing (a monotonic timestamp index would be a
# write hotspot, and no query filters on it).
resource "google_firestore_field" "kv_ttl" {
  project    = var.project_id
  database   = google_firestore_database.baton.name
  collection = var.firestore_kv_collection
  field      = var.firestore_kv_ttl_field

  ttl_config {}
  index_config {}
}

# Fields no query filters or sorts on, holding JSON or flow sources that may
# pass the 1,500-byte limit of an indexed value (UNINDEXED_FIELDS in
# shared/gcp/src/store/mod.rs): exempt from single-field indexing (an empty
# index_config), so writes are cheaper and a large value is never refused.
# (Concurrent field changes on one database may get a 409 from Firestore; the
# provider retries them.)
locals {
  firestore_unindexed_fields = {
    for f in [
      ["executions", "body"],
      ["executions", "step"],
      ["taskRuns", "body"],
      ["taskRunChunks", "runs"],
      ["taskRunChunks", "seqs"],
      ["logs", "body"],
      ["flows", "source"],
      ["revisions", "source"],
      [var.firestore_kv_collection, "value"],
      ["triggers", "body"],
      ["backfills", "spec"],
      ["backfills", "progress"],
      ["metrics", "tags"],
      ["concurrency", "body"],
      ["leases", "body"],
      ["sweep", "body"],
    ] : "${f[0]}.${f[1]}" => { collection = f[0], field = f[1] }
  }
}

resource "google_firestore_field" "unindexed" {
  for_each = local.firestore_unindexed_fields

  project    = var.project_id
  database   = google_firestore_database.baton.name
  collection = each.value.collection
  field      = each.value.field

  index_config {}
}

# Single-field indexes a collection-group query needs (COLLECTION_GROUP_FIELDS
# in shared/gcp/src/store/mod.rs): the purge of log lines across
# executions (PurgeLogs) reads the `logs` collection group by `timestamp`.
resource "google_firestore_field" "logs_timestamp" {
  project    = var.project_id
  database   = google_firestore_database.baton.name
  collection = "logs"
  field      = "timestamp"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
  }
}

# The composite indexes the execution listings need (REQUIRED_INDEXES in
# shared/gcp/src/store/firestore.rs): equality on namespace, flowId or
# state, newest first; array-contains on labels (one label per query),
# newest first. Firestore merges equality filters, so these also serve
# a filter on several of them; the last index serves the state query of one
# flow directly.
locals {
  firestore_indexes = {
    executions-namespace = {
      collection = "executions"
      fields     = [["namespace", "ASCENDING"], ["startDate", "DESCENDING"]]
    }
    executions-flow = {
      collection = "executions"
      fields     = [["flowId", "ASCENDING"], ["startDate", "DESCENDING"]]
    }
    executions-state = {
      collection = "executions"
      fields     = [["state", "ASCENDING"], ["startDate", "DESCENDING"]]
    }
    executions-labels = {
      collection = "executions"
      fields     = [["labels", "CONTAINS"], ["startDate", "DESCENDING"]]
    }
    executions-namespace-flow-state = {
      collection = "executions"
      fields     = [["namespace", "ASCENDING"], ["flowId", "ASCENDING"], ["state", "ASCENDING"], ["startDate", "DESCENDING"]]
    }
    # a flow's metrics over a time range, newest first (firestore_metrics.rs)
    metrics-flow-time = {
      collection = "metrics"
      fields     = [["namespace", "ASCENDING"], ["flowId", "ASCENDING"], ["timestamp", "DESCENDING"]]
    }
  }
}

resource "google_firestore_index" "index" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = google_firestore_database.baton.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value[0]
      order        = fields.value[1] == "CONTAINS" ? null : fields.value[1]
      array_config = fields.value[1] == "CONTAINS" ? "CONTAINS" : null
    }
  }
}
