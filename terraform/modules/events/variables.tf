variable "flows_dir" {
  description = "Folder of Kestra flow files (*.yml, *.yaml, searched recursively)."
  type        = string
}

variable "project_id" {
  description = "The project of a Pub/Sub trigger's topic when the trigger names no projectId."
  type        = string
}
