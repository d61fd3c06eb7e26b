# Baton on Google Cloud: Cloud Run services fed by Pub/Sub push, Firestore for
# state, GCS for internal storage, Cloud Scheduler for the flows' Schedule
# triggers. See README.md in this folder.

terraform {
  # 1.11: write-only arguments and ephemeral variables (secret values that
  # never reach the state, secrets.tf)
  required_version = ">= 1.11"

  # 6.50.x: the schema tests/check_schema.py checks this configuration
  # against (the provider cannot be downloaded where it is tested). 7.0
  # changed arguments; move the pin and the schema together.
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    # google_project_service_identity (the Pub/Sub service agent, iam.tf)
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.50"
    }
  }

  # State in the bucket created before the bootstrap stage (README.md,
  # "Deploy from zero"); terraform/bootstrap keeps its state there too:
  #   terraform init -backend-config="bucket=<project>-baton-tfstate"
  backend "gcs" {
    prefix = "baton"
  }
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}

provider "google-beta" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}
