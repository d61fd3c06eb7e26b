# One Secret Manager secret per name in var.secrets, and its first version
# from var.secret_values, so that `latest` (what the services read, as
# SECRET_NAME) exists before any service starts. The value goes through a
# write-only argument from an ephemeral variable: it is sent to Secret
# Manager and never written to the state or a plan. Later applies may omit
# it (nothing to change); a version added by hand
#   printf %s "$VALUE" | base64 -w0 | gcloud secrets versions add baton-NAME --data-file=-
# becomes `latest` and Terraform leaves it alone.
resource "google_secret_manager_secret" "secret" {
  for_each = toset(var.secrets)

  secret_id = "baton-${each.value}"

  replication {
    auto {}
  }

  depends_on = [google_project_service.api["secretmanager.googleapis.com"]]
}

resource "google_secret_manager_secret_version" "secret" {
  for_each = toset(var.secrets)

  secret                 = google_secret_manager_secret.secret[each.value].id
  secret_data_wo         = try(var.secret_values[each.value], null)
  secret_data_wo_version = var.secret_values_version
  # a value replaced by a newer version stays readable until deleted by hand
  deletion_policy = "DISABLE"
}

# The key SECRET inputs are sealed under (AES-256-GCM) in Firestore and in
# the worker jobs on Pub/Sub: every service reads it as BATON_SEAL_KEY
# (run.tf) and no one else may (iam.tf). Drawn here on the first apply
# from three random UUIDs (366 random bits, hashed to the 32 bytes of the
# key: base64sha256), and sent through a write-only argument, so it never
# reaches the state or a plan; later applies leave it alone (the
# version's number does not change). The services read this version, not
# `latest`: a value sealed under it stays readable, so never destroy or
# replace it while executions are kept. A rotation adds a version by hand
# and names it in var.seal_key_version, so that later applies keep it.
resource "google_secret_manager_secret" "seal_key" {
  secret_id = "baton-seal-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.api["secretmanager.googleapis.com"]]
}

resource "google_secret_manager_secret_version" "seal_key" {
  secret                 = google_secret_manager_secret.seal_key.id
  secret_data_wo         = base64sha256(join("", [uuid(), uuid(), uuid()]))
  secret_data_wo_version = 1
  deletion_policy        = "DISABLE"

  lifecycle {
    prevent_destroy = true
  }
}

# The keys values were sealed under before a rotation: one version holds
# them as a comma list, newest first (at most 8), read as
# BATON_SEAL_KEY_PREVIOUS by every service once var.seal_key_previous_version
# names it. Terraform creates the secret only: its versions are added by
# hand from the old keys (docs: Operate, "Rotate the seal key"), so no key
# reaches the state or a plan.
resource "google_secret_manager_secret" "seal_key_previous" {
  secret_id = "baton-seal-key-previous"

  replication {
    auto {}
  }

  depends_on = [google_project_service.api["secretmanager.googleapis.com"]]
}
