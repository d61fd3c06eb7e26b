variable "flows_dir" {
  description = "Folder of Kestra flow files (*.yml, *.yaml, searched recursively)."
  type        = string
}

variable "default_time_zone" {
  description = "Time zone of Schedule triggers that name none (Baton's scheduler uses UTC)."
  type        = string
  default     = "Etc/UTC"
}

variable "name_prefix" {
  description = "Prefix of the Cloud Scheduler job names."
  type        = string
  default     = "baton"
}
