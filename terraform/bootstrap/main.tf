# What the build needs before it runs: the APIs, the Artifact Registry
# repository the images are pushed to, and the service account Cloud Build
# runs as, with the roles to push the images and, when cloudbuild.yaml's
# deploy step runs, to apply the main configuration.
#
# A dedicated account rather than Cloud Build's default: which account that
# is depends on when the project was created (the legacy
# <number>@cloudbuild.gserviceaccount.com or the Compute Engine default
# account), and neither should hold these roles for every build of the
# project.

locals {
  labels = merge({ app = "baton", managed-by = "terraform" }, var.labels)

  # Build: push the images, write the build's logs (a build that runs as a
  # chosen account logs to Cloud Logging only), read the uploaded source.
  # Deploy (cloudbuild.yaml's deploy step: terraform apply of ../): every
  # kind of resource the main configuration manages, and its state bucket.
  deployer_roles = [
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
    "roles/storage.admin",
    "roles/run.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/iam.roleAdmin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/pubsub.admin",
    "roles/datastore.owner",
    "roles/bigquery.admin",
    "roles/secretmanager.admin",
    "roles/cloudscheduler.admin",
    "roles/serviceusage.serviceUsageAdmin",
    # monitoring.tf: the log-based metric, the alert policies and the dashboard
    "roles/logging.configWriter",
    "roles/monitoring.editor",
  ]
}

# Service Usage itself is on in every project; Cloud Resource Manager (the
# project's IAM policy) and IAM are not always.
resource "google_project_service" "api" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Images are encrypted at rest with Google-managed keys; a customer-managed key needs a Cloud KMS key and grants this deployment does not create.
  project       = var.project_id
  location      = var.region
  repository_id = var.artifact_repository
  format        = "DOCKER"
  description   = "Baton function images (cloudbuild.yaml)"

  depends_on = [google_project_service.api["artifactregistry.googleapis.com"]]
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = var.deployer_account_id
  display_name = "Baton deployer"
  description  = "Cloud Build runs as this account: builds and pushes the Baton images, applies terraform/"

  depends_on = [google_project_service.api["iam.googleapis.com"]]
}

resource "google_project_iam_member" "deployer" {
  #checkov:skip=CKV_GCP_41:The deployer attaches the function service accounts it creates in the main configuration to their Cloud Run services (actAs); they do not exist yet when this is granted.
  #checkov:skip=CKV_GCP_49:The deployer creates and manages the functions' service accounts (main configuration, iam.tf); it runs only the builds of this repository.
  for_each = toset(local.deployer_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.deployer.member

  depends_on = [google_project_service.api["cloudresourcemanager.googleapis.com"]]
}
