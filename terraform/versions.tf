# Baton on Google Cloud: Cloud Run services fed by Pub/Sub push, Firestore for
# state, GCS for internal storage, Cloud Scheduler for the flows' Schedule
# triggers. See README.md in this folder.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  # State in a GCS bucket created once by hand (README.md, "Deploy from zero"):
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
