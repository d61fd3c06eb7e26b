# Provider-free on purpose: this module only reads files and computes values,
# so `terraform init` needs nothing from the network and the tests evaluate it
# offline (tests/tests/terraform.rs).
terraform {
  required_version = ">= 1.5"
}
