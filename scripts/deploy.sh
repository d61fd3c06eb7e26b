#!/usr/bin/env bash
# Deploys Baton to a Google Cloud project, from zero or again: the stages of
# docs/src/gcp/deploy.md, in order, each safe to run again.
#
#   scripts/deploy.sh [--yes] [--skip-tests] [--tag TAG] PROJECT_ID [REGION]
#
#   1. state   the Terraform state bucket gs://PROJECT_ID-baton-tfstate
#              (created if missing: uniform access, no public access, versioned)
#   2. bootstrap  terraform/bootstrap: the APIs the build needs, the Artifact
#              Registry repository, the account Cloud Build runs as and its roles
#   3. build   gcloud builds submit (cloudbuild.yaml) as that account: the test
#              suite (unless --skip-tests), one image per function, pushed
#   4. deploy  terraform/ with the new tag: everything else (terraform/README.md)
#   5. verify  the services, the API's /health with your identity token (Cloud
#              Run's front end answers paths ending in z itself: not /healthz)
#
# Before: gcloud and terraform (>= 1.11) installed; `gcloud auth login` and
# `gcloud auth application-default login` done, as an owner of PROJECT_ID,
# whose billing is enabled; terraform/terraform.tfvars written (copy
# terraform/terraform.tfvars.example). Secret values, if var.secrets names
# any: TF_VAR_secret_values='{"NAME":"<base64 of the value>"}' in the
# environment (terraform/variables.tf, secret_values).
#
#   --yes          apply without asking (terraform -auto-approve)
#   --skip-tests   build without running the test suite in Cloud Build
#   --tag TAG      deploy images already pushed with TAG: no build
# Environment: BATON_STATE_BUCKET (default PROJECT_ID-baton-tfstate),
# BATON_REPO (default baton).
set -euo pipefail
cd "$(dirname "$0")/.."

auto=() run_tests=true tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --yes) auto=(-auto-approve); shift ;;
    --skip-tests) run_tests=false; shift ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (--help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
project="${1:?usage: scripts/deploy.sh [--yes] [--skip-tests] [--tag TAG] PROJECT_ID [REGION]}"
region="${2:-europe-west1}"
bucket="${BATON_STATE_BUCKET:-$project-baton-tfstate}"
repo="${BATON_REPO:-baton}"

step() { printf '\n== %s\n' "$*"; }
die() { echo "deploy: $*" >&2; exit 1; }

step "0/5 prerequisites"
command -v gcloud >/dev/null || die "gcloud is not installed (https://cloud.google.com/sdk/docs/install)"
command -v terraform >/dev/null || die "terraform is not installed (https://developer.hashicorp.com/terraform/install), 1.11 or newer"
tf_version="$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p')"
case "$tf_version" in
  1.1[1-9]* | 1.[2-9][0-9]* | [2-9]*) ;;
  *) die "terraform $tf_version is too old: 1.11 or newer is needed (write-only arguments)" ;;
esac
[ -n "$(gcloud config get-value account 2>/dev/null)" ] || die "not logged in: gcloud auth login"
gcloud auth application-default print-access-token >/dev/null 2>&1 \
  || die "no application default credentials for terraform: gcloud auth application-default login"
[ -f terraform/terraform.tfvars ] \
  || die "terraform/terraform.tfvars is missing: cp terraform/terraform.tfvars.example terraform/terraform.tfvars and edit it"
gcloud config set project "$project" >/dev/null
# terraform's calls with your user credentials are billed to this project's quota
gcloud auth application-default set-quota-project "$project" >/dev/null 2>&1 \
  || echo "warning: could not set the quota project of your application default credentials to $project" >&2
billing="$(gcloud billing projects describe "$project" --format='value(billingEnabled)' 2>/dev/null || true)"
case "$billing" in
  True) echo "billing enabled on $project" ;;
  False) die "billing is not enabled on $project (gcloud billing projects link $project --billing-account=ACCOUNT_ID)" ;;
  *) echo "warning: could not read the billing state of $project; continuing" >&2 ;;
esac

step "1/5 state bucket gs://$bucket"
if gcloud storage buckets describe "gs://$bucket" --project "$project" >/dev/null 2>&1; then
  echo "exists"
else
  gcloud storage buckets create "gs://$bucket" --project "$project" --location "$region" \
    --uniform-bucket-level-access --public-access-prevention
  gcloud storage buckets update "gs://$bucket" --versioning
fi

step "2/5 bootstrap (terraform/bootstrap): APIs, Artifact Registry repository, build account"
terraform -chdir=terraform/bootstrap init -input=false -reconfigure -backend-config="bucket=$bucket"
terraform -chdir=terraform/bootstrap apply -input=false ${auto[@]+"${auto[@]}"} \
  -var="project_id=$project" -var="region=$region" -var="artifact_repository=$repo"
build_sa="$(terraform -chdir=terraform/bootstrap output -raw build_service_account)"

if [ -z "$tag" ]; then
  tag="$(git rev-parse --short HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
  if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
    tag="$tag-dirty-$(date -u +%Y%m%d%H%M%S)"
  fi
  step "3/5 build (cloudbuild.yaml) as $build_sa: images tagged $tag"
  # a role granted a moment ago may take a minute to reach Cloud Build
  for attempt in 1 2; do
    if gcloud builds submit . --project "$project" --config cloudbuild.yaml \
      --service-account "$build_sa" --ignore-file terraform/build.gcloudignore \
      --substitutions "SHORT_SHA=$tag,_REGION=$region,_REPO=$repo,_RUN_TESTS=$run_tests"; then
      break
    fi
    [ "$attempt" = 2 ] && die "the build failed (gcloud builds list --project $project)"
    echo "the build failed; if the log shows a permission error on a fresh bootstrap, IAM was still propagating: retrying in 60 s" >&2
    sleep 60
  done
else
  step "3/5 build skipped: deploying images tagged $tag"
fi

step "4/5 deploy (terraform/) with image_tag=$tag"
terraform -chdir=terraform init -input=false -reconfigure -backend-config="bucket=$bucket"
deploy() {
  terraform -chdir=terraform apply -input=false ${auto[@]+"${auto[@]}"} \
    -var="project_id=$project" -var="region=$region" -var="artifact_repository=$repo" -var="image_tag=$tag"
}
if ! deploy; then
  # a service agent or account created a moment ago may not be visible to IAM yet
  echo "apply failed; if it names a service account that does not exist yet, IAM was still propagating: retrying once in 60 s" >&2
  sleep 60
  deploy
fi

step "5/5 verify"
gcloud run services list --project "$project" --region "$region" --filter="metadata.name ~ ^baton-" \
  --format="table(metadata.name, status.url, status.conditions[0].status)"
api="$(terraform -chdir=terraform output -raw api_url)"
if curl -fsS -H "Authorization: Bearer $(gcloud auth print-identity-token)" "$api/health" >/dev/null 2>&1; then
  echo "API $api answers /health"
else
  echo "API $api did not answer /health for $(gcloud config get-value account 2>/dev/null):" \
    "is user:<you> in api_invokers (terraform/terraform.tfvars)?" >&2
fi
echo "sweep job: $(gcloud scheduler jobs describe baton-sweep --project "$project" --location "$region" --format='value(state)' 2>/dev/null || echo '?')" \
  "(PAUSED while idle)"
echo "done: images $tag deployed to $project ($region)"
