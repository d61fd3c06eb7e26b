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
