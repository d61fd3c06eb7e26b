# The Google APIs the resources of this configuration call, each enabled
# before anything that calls it: every resource depends (directly, or through
# a resource it refers to) on the google_project_service of its API, e.g.
#   depends_on = [google_project_service.api["run.googleapis.com"]]
# (tests/check_schema.py checks this for every resource). terraform/bootstrap
# enables the ones the build needs (Artifact Registry, Cloud Build, Logging)
# and some of these too; enabling an enabled API changes nothing. Left
# enabled on destroy: other things in the project may use them.
resource "google_project_service" "api" {
  for_each = toset([
    "bigquery.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    # where the trace sidecars export (var.traces); free while unused
    "cloudtrace.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
