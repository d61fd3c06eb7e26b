# Stage 1 of a deploy from zero (README.md in the folder above): what must
# exist before Cloud Build can build and push the images. Run once, by a
# project owner, with your own credentials:
#   terraform init -backend-config="bucket=<project>-baton-tfstate"
#   terraform apply -var project_id=<project>
terraform {
  required_version = ">= 1.11"

  # the same pin as the main configuration (the checked schema)
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
  }

  # the main configuration's state bucket, under its own prefix
  backend "gcs" {
    prefix = "baton-bootstrap"
  }
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}
