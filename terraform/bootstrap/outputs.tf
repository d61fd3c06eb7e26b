output "registry" {
  description = "Where the images go: the main configuration's default `registry`."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "deployer_email" {
  description = "Email of the account Cloud Build runs as."
  value       = google_service_account.deployer.email
}

output "build_service_account" {
  description = "The value of `gcloud builds submit --service-account`."
  value       = google_service_account.deployer.id
}
