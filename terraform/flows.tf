# The flows: parsed once by the provider-free module (which also derives the
# Scheduler jobs) and uploaded to the internal bucket as
# flows/<namespace>/<id>.yml, the file as written.
module "schedules" {
  source = "./modules/schedules"

  flows_dir         = var.flows_dir
  default_time_zone = var.schedule_time_zone
}

resource "google_storage_bucket_object" "flow" {
  for_each = module.schedules.flows

  bucket       = google_storage_bucket.internal.name
  name         = each.value.object
  content      = file("${var.flows_dir}/${each.value.file}")
  content_type = "application/yaml"

  lifecycle {
    # a trigger this deployment cannot run is an error, not nothing
    precondition {
      condition     = length([for k, why in module.schedules.unsupported : why if startswith(k, "${each.key}/")]) == 0
      error_message = join("\n", [for k, why in module.schedules.unsupported : why if startswith(k, "${each.key}/")])
    }
  }
}
