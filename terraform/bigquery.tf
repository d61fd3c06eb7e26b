# The datasets the flows' BigQuery tasks write to.
resource "google_bigquery_dataset" "dataset" {
  #checkov:skip=CKV_GCP_81:Encrypted at rest with Google-managed keys; a customer-managed key needs a Cloud KMS key and grants this deployment does not create.
  for_each = toset(var.bigquery_datasets)

  dataset_id                 = each.value
  location                   = local.bigquery_location
  description                = "Baton flows' data"
  delete_contents_on_destroy = false

  depends_on = [google_project_service.api["bigquery.googleapis.com"]]
}
