variable "project_id" {
  description = "The Google Cloud project Baton is deployed in (billing enabled)."
  type        = string
}

variable "region" {
  description = "Region of the Artifact Registry repository: the main configuration's `region` (cloudbuild.yaml's `_REGION`)."
  type        = string
  default     = "europe-west1"
}

variable "artifact_repository" {
  description = "Artifact Registry repository of the function images: the main configuration's `artifact_repository` (cloudbuild.yaml's `_REPO`)."
  type        = string
  default     = "baton"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.artifact_repository))
    error_message = "A repository id is lower-case letters, digits and hyphens, starting with a letter, at most 63."
  }
}

variable "deployer_account_id" {
  description = "Account id of the service account Cloud Build runs as (`gcloud builds submit --service-account`)."
  type        = string
  default     = "baton-deployer"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.deployer_account_id))
    error_message = "A service account id is 6-30 lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Extra labels on every resource."
  type        = map(string)
  default     = {}
}
