# One Secret Manager secret per name in var.secrets. Terraform creates the
# secret, never its value (values stay out of the state): add a version with
#   printf %s "$VALUE" | base64 -w0 | gcloud secrets versions add baton-NAME --data-file=-
# The services read the latest version as SECRET_NAME (base64, as Kestra OSS).
resource "google_secret_manager_secret" "secret" {
  for_each = toset(var.secrets)

  secret_id = "baton-${each.value}"

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}
