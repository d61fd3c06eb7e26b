//! The deploy from zero, checked offline: every resource, data source and
//! nested block of `terraform/` (root, `modules/schedules`, `bootstrap/`)
//! against the google and google-beta 6.50.0 schemas
//! (`terraform/tests/check_schema.py`, schemas built by
//! `scripts/setup/terraform.sh` from the PyPI CDK for Terraform bindings),
//! every resource after the API it calls, the bootstrap stage (APIs, the
//! Artifact Registry repository, the build's account and its roles),
//! `scripts/deploy.sh` running the stages in order, the paused sweep job and
//! the secrets' first versions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::terraform::{SETUP_HINT, TempDir, both, copy_config, hcl_json, hcl2_python, repo, run, tf_files, tool};

fn schemas_dir() -> PathBuf {
    let dir = tool("BATON_PROVIDER_SCHEMAS", ".cache/pytools/provider-schema", "");
    assert!(
        dir.join("google-6.50.0.json").exists() && dir.join("google-beta-6.50.0.json").exists(),
        "no provider schema in {}: {SETUP_HINT}",
        dir.display()
    );
    dir
}

fn check_schema(dir: &Path) -> Output {
    run(
        Command::new(hcl2_python())
            .arg(repo().join("terraform/tests/check_schema.py"))
            .arg("--schemas")
            .arg(schemas_dir())
            .arg(dir),
        "check_schema.py",
    )
}

/// A copy of terraform/ with `extra` written to broken.tf and `edit` applied
/// to its files' text; the schema check's output (which must fail).
fn broken_copy(extra: &str, edit: impl Fn(&str, String) -> String) -> String {
    let tmp = TempDir::new("tf-schema-bad");
    let dir = tmp.0.join("terraform");
    copy_config(&repo().join("terraform"), &dir);
    for file in tf_files(&dir) {
        let name = file.strip_prefix(&dir).expect("relative").display().to_string();
        let src = std::fs::read_to_string(&file).expect("read .tf");
        std::fs::write(&file, edit(&name, src)).expect("write .tf");
    }
    if !extra.is_empty() {
        std::fs::write(dir.join("broken.tf"), extra).expect("write broken.tf");
    }
    let out = check_schema(&dir);
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "check_schema.py must fail:\n{text}");
    text
}

fn assert_problems(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "missing '{e}' in:\n{text}");
    }
    // and nothing else: the real configuration contributes no problem
    assert!(text.contains(&format!("\n{} problem(s)", expected.len())), "{text}");
}

// ---------------------------------------------------------------------------
// The provider schema
// ---------------------------------------------------------------------------

#[test]
fn terraform_matches_the_google_provider_schema() {
    let out = check_schema(&repo().join("terraform"));
    let text = both(&out);
    assert!(out.status.success(), "terraform/ does not match the google provider 6.50.0:\n{text}");
    // root, modules/schedules, modules/events and bootstrap, with a real amount checked
    assert!(text.contains("ok: 4 module(s)"), "{text}");
    let number = |word: &str| -> usize {
        let words: Vec<&str> = text.split_whitespace().collect();
        words.windows(2).find(|w| w[1].starts_with(word)).and_then(|w| w[0].parse().ok()).unwrap_or(0)
    };
    assert!(number("resource(s)") >= 35, "{text}");
    assert!(number("nested") >= 40, "{text}");
    assert!(number("provider") >= 3, "{text}");
    assert!(number("depend") >= 35, "{text}");
}

/// The schema is the provider Terraform will install: versions.tf pins
/// 6.50.x of both providers, in the main configuration and the bootstrap.
#[test]
fn terraform_provider_pin_is_the_checked_schema() {
    for dir in ["terraform", "terraform/bootstrap"] {
        let path = repo().join(dir).join("versions.tf");
        let parsed = hcl_json(std::slice::from_ref(&path));
        let file = parsed.values().next().expect("versions.tf");
        let terraform = &file["terraform"][0];
        assert_eq!(terraform["required_version"], json!(">= 1.11"), "{dir}: write-only arguments need 1.11");
        let providers = &terraform["required_providers"][0];
        let names: Vec<&String> = providers.as_object().expect("required_providers").keys().collect();
        assert!(!names.is_empty());
        for (name, p) in providers.as_object().expect("required_providers") {
            assert_eq!(p["version"], json!("~> 6.50"), "{dir}: {name}");
            assert_eq!(p["source"], json!(format!("hashicorp/{name}")), "{dir}: {name}");
        }
    }
    for name in ["google", "google-beta"] {
        let path = schemas_dir().join(format!("{name}-6.50.0.json"));
        let schema: Value = serde_json::from_slice(&std::fs::read(&path).expect("schema")).expect("schema JSON");
        assert_eq!(schema["provider"], json!(name));
        assert_eq!(schema["version"], json!("6.50.0"));
        assert!(schema["resources"].as_object().is_some_and(|r| r.len() > 1000), "{name}: too few resources");
    }
}

#[test]
fn terraform_schema_check_fails_on_an_unknown_argument() {
    // an argument no google_pubsub_topic has, in a real resource of the copy
    let text = broken_copy("", |name, src| {
        if name == "pubsub.tf" {
            src.replacen("message_retention_duration = \"604800s\"", "message_retention_durations = \"604800s\"", 1)
        } else {
            src
        }
    });
    assert_problems(
        &text,
        &["pubsub.tf:11: google_pubsub_topic.topic: unknown argument 'message_retention_durations'"],
    );
}

#[test]
fn terraform_schema_check_fails_on_a_missing_required_argument() {
    let text = broken_copy(
        r#"resource "google_pubsub_topic" "broken" {
  message_retention_duration = "600s"

  depends_on = [google_project_service.api["pubsub.googleapis.com"]]
}
"#,
        |_, src| src,
    );
    assert_problems(&text, &["broken.tf:1: google_pubsub_topic.broken: missing required argument 'name'"]);
}

#[test]
fn terraform_schema_check_fails_on_wrong_nesting() {
    let text = broken_copy(
        r#"resource "google_pubsub_subscription" "broken" {
  name  = "x"
  topic = google_pubsub_topic.dead_letter.id

  labels {
    a = "b"
  }
  push_config = {
    push_endpoint = "https://example.com"
  }
  oidc_token {
    service_account_email = "a@example.com"
  }
  retry_policy {
    minimum_backoff = "10s"
  }
  retry_policy {
    minimum_backoff = "20s"
  }
  lifecycle {
    ignore_changes = [no_such_argument]
  }
}

resource "google_cloud_run_v2_service" "broken" {
  name     = "x"
  location = "europe-west1"

  template {
    containers {
      image = "x"
      env {
        name = "A"
        value_source {
          secret_key_ref {
            secret  = "s"
            version = "latest"
          }
          version = "latest"
        }
      }
    }
  }

  depends_on = [google_project_service.api["run.googleapis.com"]]
}

resource "google_pubsub_lite_topic_typo" "broken" {
  provider = google-beta
}

output "broken" {
  value = google_cloud_run_v2_service.broken.url
}
"#,
        |_, src| src,
    );
    assert_problems(
        &text,
        &[
            "broken.tf:5: google_pubsub_subscription.broken: 'labels' is an argument, not a block: write `labels = …`",
            "broken.tf:8: google_pubsub_subscription.broken: 'push_config' is a block, not an argument",
            "broken.tf:11: google_pubsub_subscription.broken: unknown block 'oidc_token' (it belongs in push_config)",
            "broken.tf:17: google_pubsub_subscription.broken: block 'retry_policy' may appear at most once",
            "broken.tf:21: google_pubsub_subscription.broken: lifecycle.ignore_changes names 'no_such_argument'",
            "broken.tf:39: google_cloud_run_v2_service.broken.template.containers.env.value_source: unknown argument 'version' (it belongs in template.containers.env.value_source.secret_key_ref",
            "broken.tf:48: resource type google_pubsub_lite_topic_typo does not exist in google-beta 6.50.0",
            "broken.tf:48: google_pubsub_lite_topic_typo.broken calls pubsub.googleapis.com but depends on no google_project_service",
            "broken.tf:53: google_cloud_run_v2_service.broken has no attribute 'url'",
        ],
    );
}

/// A beta-only resource without `provider = google-beta` is not in google.
#[test]
fn terraform_schema_check_names_the_provider_of_a_beta_resource() {
    let text = broken_copy(
        "",
        |name, src| {
            if name == "iam.tf" { src.replacen("  provider = google-beta\n", "", 1) } else { src }
        },
    );
    assert_problems(
        &text,
        &[
            "resource type google_project_service_identity does not exist in google 6.50.0; google-beta has it: set provider = google-beta",
        ],
    );
}

// ---------------------------------------------------------------------------
// Every resource after the API it calls
// ---------------------------------------------------------------------------

#[test]
fn terraform_api_check_fails_on_a_resource_without_its_api() {
    // the Scheduler jobs of the copy lose their dependency on the API
    let text = broken_copy("", |name, src| {
        if name == "scheduler.tf" {
            src.replace("  depends_on = [google_project_service.api[\"cloudscheduler.googleapis.com\"]]\n", "")
        } else {
            src
        }
    });
    let fix = r#"add depends_on = [google_project_service.api["cloudscheduler.googleapis.com"]]"#;
    assert_problems(
        &text,
        &[
            &format!(
                "scheduler.tf:9: google_cloud_scheduler_job.schedule calls cloudscheduler.googleapis.com but depends on no google_project_service enabling it: {fix}"
            ),
            &format!(
                "scheduler.tf:34: google_cloud_scheduler_job.sweep calls cloudscheduler.googleapis.com but depends on no google_project_service enabling it: {fix}"
            ),
        ],
    );

    // an API dependency through another resource counts; a new resource with none does not
    let text = broken_copy(
        r#"resource "google_pubsub_topic" "orphan" {
  name = "orphan"
}

resource "google_pubsub_subscription" "follows_its_topic" {
  name  = "follower"
  topic = google_pubsub_topic.topic["executions"].id
}

data "google_project" "this" {
  project_id = var.project_id
}
"#,
        |_, src| src,
    );
    assert_problems(
        &text,
        &[
            "broken.tf:1: google_pubsub_topic.orphan calls pubsub.googleapis.com but depends on no google_project_service enabling it",
            "broken.tf:10: data.google_project.this calls cloudresourcemanager.googleapis.com but depends on no google_project_service",
        ],
    );
}

/// The API list is what the check reads: an unknown key does not count.
#[test]
fn terraform_api_check_reads_the_enabled_apis() {
    let text = broken_copy(
        "",
        |name, src| {
            if name == "apis.tf" { src.replace("    \"run.googleapis.com\",\n", "") } else { src }
        },
    );
    for resource in ["google_cloud_run_v2_service.push", "google_cloud_run_v2_service.api"] {
        assert!(
            text.contains(&format!(
                "{resource} calls run.googleapis.com but depends on no google_project_service enabling it"
            )),
            "{resource}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------
// The bootstrap stage
// ---------------------------------------------------------------------------

fn parsed(path: &str) -> Value {
    let p = repo().join(path);
    hcl_json(std::slice::from_ref(&p)).into_values().next().expect("parsed file")
}

fn resource<'a>(file: &'a Value, kind: &str, name: &str) -> &'a Value {
    file["resource"]
        .as_array()
        .and_then(|rs| rs.iter().find_map(|r| r.get(kind).and_then(|k| k.get(name))))
        .unwrap_or_else(|| panic!("no resource {kind}.{name}"))
}

/// The role that lets the build's account manage each kind of resource the
/// main configuration declares (a new kind fails here until it is added).
fn role_for(resource_type: &str) -> &'static str {
    match resource_type {
        "google_project_service" | "google_project_service_identity" => "roles/serviceusage.serviceUsageAdmin",
        "google_service_account" | "google_service_account_iam_member" => "roles/iam.serviceAccountAdmin",
        "google_project_iam_member" => "roles/resourcemanager.projectIamAdmin",
        "google_project_iam_custom_role" => "roles/iam.roleAdmin",
        "google_cloud_run_v2_service" | "google_cloud_run_v2_service_iam_member" => "roles/run.admin",
        "google_cloud_scheduler_job" => "roles/cloudscheduler.admin",
        t if t.starts_with("google_pubsub_") => "roles/pubsub.admin",
        t if t.starts_with("google_storage_") => "roles/storage.admin",
        t if t.starts_with("google_bigquery_") => "roles/bigquery.admin",
        t if t.starts_with("google_firestore_") => "roles/datastore.owner",
        t if t.starts_with("google_secret_manager_") => "roles/secretmanager.admin",
        "google_logging_metric" => "roles/logging.configWriter",
        t if t.starts_with("google_monitoring_") => "roles/monitoring.editor",
        other => panic!("no deploy role known for {other}: add it here and to terraform/bootstrap/main.tf"),
    }
}

#[test]
fn terraform_bootstrap_creates_what_the_build_and_deploy_need() {
    let main = parsed("terraform/bootstrap/main.tf");
    let apis: BTreeSet<&str> = resource(&main, "google_project_service", "api")["for_each"]
        .as_str()
        .map(|s| s.split('"').filter(|p| p.ends_with(".googleapis.com")).collect())
        .unwrap_or_default();
    for api in
        ["artifactregistry.googleapis.com", "cloudbuild.googleapis.com", "iam.googleapis.com", "logging.googleapis.com"]
    {
        assert!(apis.contains(api), "bootstrap does not enable {api}: {apis:?}");
    }
    let repo_res = resource(&main, "google_artifact_registry_repository", "images");
    assert_eq!(repo_res["format"], json!("DOCKER"));
    assert_eq!(repo_res["repository_id"], json!("${var.artifact_repository}"));
    assert_eq!(repo_res["location"], json!("${var.region}"));
    let grant = resource(&main, "google_project_iam_member", "deployer");
    assert_eq!(grant["member"], json!("${google_service_account.deployer.member}"));

    let roles: BTreeSet<String> = main["locals"]
        .as_array()
        .and_then(|l| l.iter().find_map(|b| b.get("deployer_roles")))
        .and_then(Value::as_array)
        .expect("local.deployer_roles")
        .iter()
        .map(|r| r.as_str().expect("role").to_string())
        .collect();
    // build: push the images, write the build's logs
    for role in ["roles/artifactregistry.writer", "roles/logging.logWriter", "roles/iam.serviceAccountUser"] {
        assert!(roles.contains(role), "the build's account lacks {role}");
    }
    // deploy: every kind of resource of the main configuration
    let mut types = BTreeSet::new();
    for file in tf_files(&repo().join("terraform")) {
        if file.starts_with(repo().join("terraform/bootstrap")) {
            continue;
        }
        let f = hcl_json(std::slice::from_ref(&file)).into_values().next().expect("parsed");
        for r in f["resource"].as_array().into_iter().flatten() {
            types.extend(r.as_object().expect("resource").keys().cloned());
        }
    }
    assert!(types.len() >= 15, "{types:?}");
    for t in &types {
        let role = role_for(t);
        assert!(roles.contains(role), "the build's account cannot deploy {t}: it lacks {role}");
    }

    // and the references of the bootstrap resolve
    let out = run(
        Command::new(hcl2_python())
            .arg(repo().join("terraform/tests/check_refs.py"))
            .arg(repo().join("terraform/bootstrap")),
        "check_refs.py",
    );
    assert!(out.status.success(), "terraform/bootstrap has unresolved references:\n{}", both(&out));
}

#[test]
fn terraform_cloudbuild_relies_on_the_bootstrap() {
    let src = std::fs::read_to_string(repo().join("cloudbuild.yaml")).expect("cloudbuild.yaml");
    let (doc, _) = shared::yaml::parse(&src).expect("cloudbuild.yaml is YAML");
    // a build that runs as a chosen account must log to Cloud Logging (or a bucket)
    assert_eq!(doc["options"]["logging"], json!("CLOUD_LOGGING_ONLY"));
    // the repository and its API are the bootstrap's: the build creates neither
    assert!(
        !src.contains("repositories create") && !src.contains("services enable"),
        "cloudbuild.yaml creates what the bootstrap does"
    );
    let steps = doc["steps"].as_array().expect("steps");
    let registry = steps.iter().find(|s| s["id"] == json!("registry")).expect("registry step");
    let script = registry["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect::<String>();
    assert!(script.contains("repositories describe") && script.contains("exit 1"), "{script}");
    let build = steps.iter().find(|s| s["id"] == json!("build")).expect("build step");
    assert!(
        build["waitFor"].as_array().is_some_and(|w| w.contains(&json!("registry"))),
        "nothing is built before the check"
    );
}

// ---------------------------------------------------------------------------
// scripts/deploy.sh
// ---------------------------------------------------------------------------

/// A fake command that logs its arguments and answers the few questions the
/// script asks.
fn fake_tool(bin: &Path, name: &str, log: &Path, answers: &str) {
    let script = format!(
        "#!/usr/bin/env bash\nprintf '%s\\n' \"{name} $*\" >> '{}'\ncase \"{name} $*\" in\n{answers}\nesac\nexit 0\n",
        log.display()
    );
    let path = bin.join(name);
    std::fs::write(&path, script).expect("write fake tool");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[test]
fn terraform_deploy_script_runs_the_stages_in_order() {
    let tmp = TempDir::new("deploy-sh");
    let root = &tmp.0;
    std::fs::create_dir_all(root.join("scripts")).expect("mkdir");
    std::fs::create_dir_all(root.join("terraform")).expect("mkdir");
    std::fs::copy(repo().join("scripts/deploy.sh"), root.join("scripts/deploy.sh")).expect("copy deploy.sh");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let log = root.join("log");
    fake_tool(
        &bin,
        "gcloud",
        &log,
        r#"  "gcloud config get-value account") echo me@example.com ;;
  "gcloud billing projects describe"*) echo True ;;
  "gcloud storage buckets describe"*) exit 1 ;;"#,
    );
    fake_tool(
        &bin,
        "terraform",
        &log,
        r#"  "terraform version -json") echo '{"terraform_version": "1.11.4"}' ;;
  "terraform -chdir=terraform/bootstrap output -raw build_service_account") echo projects/demo/serviceAccounts/baton-deployer@demo.iam.gserviceaccount.com ;;
  "terraform -chdir=terraform output -raw api_url") echo https://baton-api.example.run.app ;;"#,
    );
    fake_tool(&bin, "git", &log, r#"  "git rev-parse --short HEAD") echo abc1234 ;;"#);
    fake_tool(&bin, "curl", &log, "");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let script = root.join("scripts/deploy.sh");

    // without terraform.tfvars it stops before changing anything
    let out = run(Command::new("bash").arg(&script).args(["--yes", "demo"]).env("PATH", &path), "bash");
    assert!(!out.status.success(), "{}", both(&out));
    assert!(both(&out).contains("terraform/terraform.tfvars is missing"), "{}", both(&out));
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!logged.contains("apply") && !logged.contains("create"), "{logged}");
    std::fs::remove_file(&log).expect("reset log");

    std::fs::write(root.join("terraform/terraform.tfvars"), "api_invokers = []\n").expect("tfvars");
    let out = run(
        Command::new("bash").arg(&script).args(["--yes", "--skip-tests", "demo", "europe-west4"]).env("PATH", &path),
        "bash",
    );
    assert!(out.status.success(), "deploy.sh failed:\n{}", both(&out));
    let logged = std::fs::read_to_string(&log).expect("log");
    let calls: Vec<&str> = logged.lines().collect();
    let at = |needle: &str| -> usize {
        calls.iter().position(|c| c.contains(needle)).unwrap_or_else(|| panic!("no call with '{needle}' in:\n{logged}"))
    };
    let order = [
        "gcloud storage buckets create gs://demo-baton-tfstate --project demo --location europe-west4 --uniform-bucket-level-access --public-access-prevention",
        "gcloud storage buckets update gs://demo-baton-tfstate --versioning",
        "terraform -chdir=terraform/bootstrap init -input=false -reconfigure -backend-config=bucket=demo-baton-tfstate",
        "terraform -chdir=terraform/bootstrap apply -input=false -auto-approve -var=project_id=demo -var=region=europe-west4 -var=artifact_repository=baton",
        "gcloud builds submit . --project demo --config cloudbuild.yaml --service-account projects/demo/serviceAccounts/baton-deployer@demo.iam.gserviceaccount.com --ignore-file terraform/build.gcloudignore --substitutions SHORT_SHA=abc1234,_REGION=europe-west4,_REPO=baton,_RUN_TESTS=false",
        "terraform -chdir=terraform init -input=false -reconfigure -backend-config=bucket=demo-baton-tfstate",
        "terraform -chdir=terraform apply -input=false -auto-approve -var=project_id=demo -var=region=europe-west4 -var=artifact_repository=baton -var=image_tag=abc1234",
        "curl -fsS -H Authorization: Bearer  https://baton-api.example.run.app/health",
    ];
    let positions: Vec<usize> = order.iter().map(|c| at(c)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "stages out of order: {positions:?}\n{logged}");
    // the build runs as the bootstrap's account, logs nothing but what was asked, deploys nothing itself
    assert!(!logged.contains("_TF_STATE_BUCKET"), "{logged}");

    // --tag deploys existing images: no build
    std::fs::remove_file(&log).expect("reset log");
    let out = run(Command::new("bash").arg(&script).args(["--yes", "--tag", "v1", "demo"]).env("PATH", &path), "bash");
    assert!(out.status.success(), "{}", both(&out));
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(!logged.contains("builds submit"), "{logged}");
    assert!(logged.contains("-var=region=europe-west1 -var=artifact_repository=baton -var=image_tag=v1"), "{logged}");
}

/// Everything the script names exists: the ignore file, the bootstrap
/// output, cloudbuild.yaml's substitutions.
#[test]
fn terraform_deploy_script_names_what_exists() {
    let script = std::fs::read_to_string(repo().join("scripts/deploy.sh")).expect("deploy.sh");
    assert!(repo().join("terraform/build.gcloudignore").exists());
    let ignore = std::fs::read_to_string(repo().join("terraform/build.gcloudignore")).expect("ignore file");
    assert!(ignore.contains("**/.terraform/"), "the providers terraform init downloads must not be uploaded");
    let outputs = parsed("terraform/bootstrap/outputs.tf");
    let names: BTreeSet<String> = outputs["output"]
        .as_array()
        .expect("outputs")
        .iter()
        .flat_map(|o| o.as_object().expect("output").keys().cloned())
        .collect();
    assert!(names.contains("build_service_account") && script.contains("output -raw build_service_account"));
    let build = std::fs::read_to_string(repo().join("cloudbuild.yaml")).expect("cloudbuild.yaml");
    for sub in ["_REGION", "_REPO", "_RUN_TESTS"] {
        assert!(script.contains(&format!("{sub}=")) && build.contains(&format!("{sub}:")), "{sub}");
    }
    let main_outputs = parsed("terraform/outputs.tf");
    assert!(main_outputs["output"].as_array().expect("outputs").iter().any(|o| o.get("api_url").is_some()));
    // the docs' deploy page runs the same stages
    let readme = std::fs::read_to_string(repo().join("docs/src/gcp/deploy.md")).expect("docs/src/gcp/deploy.md");
    for needle in [
        "terraform -chdir=terraform/bootstrap apply",
        "--service-account",
        "--ignore-file terraform/build.gcloudignore",
        "terraform -chdir=terraform apply",
        "scripts/deploy.sh",
    ] {
        assert!(readme.contains(needle), "docs/src/gcp/deploy.md lacks `{needle}`");
    }
}

// ---------------------------------------------------------------------------
// The sweep job, secrets, the Pub/Sub service agent
// ---------------------------------------------------------------------------

#[test]
fn terraform_sweep_job_starts_paused_and_is_left_to_the_engine() {
    let scheduler = parsed("terraform/scheduler.tf");
    let sweep = resource(&scheduler, "google_cloud_scheduler_job", "sweep");
    assert_eq!(sweep["paused"], json!(true));
    assert_eq!(sweep["name"], json!("${local.sweep_job_id}"));
    assert_eq!(sweep["schedule"], json!("${var.sweep_schedule}"));
    assert_eq!(sweep["lifecycle"][0]["ignore_changes"], json!(["paused"]));
    assert_eq!(crate::terraform::variable_default("sweep_schedule"), json!("* * * * *"));
    assert_eq!(crate::terraform::variable_default("lease_seconds"), json!(30));
    // tick jobs are never paused
    assert!(resource(&scheduler, "google_cloud_scheduler_job", "schedule").get("paused").is_none());

    // the custom role is granted to the functions that pause and resume it
    let iam = parsed("terraform/iam.tf");
    let role = resource(&iam, "google_project_iam_custom_role", "sweep_control");
    assert_eq!(role["permissions"], json!("${local.sweep_control_permissions}"));
    let grant = resource(&iam, "google_project_iam_member", "sweep_control");
    assert_eq!(grant["role"], json!("${google_project_iam_custom_role.sweep_control.id}"));
    assert_eq!(grant["for_each"], json!("${toset(local.sweep_controllers)}"));
    // no function gets the predefined admin role
    let text: String = tf_files(&repo().join("terraform"))
        .iter()
        .filter(|f| !f.starts_with(repo().join("terraform/bootstrap")))
        .map(|f| std::fs::read_to_string(f).expect("read"))
        .collect();
    assert!(!text.contains("\"roles/cloudscheduler.admin\""), "a function is granted roles/cloudscheduler.admin");
}

#[test]
fn terraform_secrets_get_a_first_version_that_never_reaches_the_state() {
    let secrets = parsed("terraform/secrets.tf");
    let version = resource(&secrets, "google_secret_manager_secret_version", "secret");
    assert_eq!(version["for_each"], json!("${toset(var.secrets)}"));
    assert_eq!(version["secret"], json!("${google_secret_manager_secret.secret[each.value].id}"));
    assert!(version.get("secret_data").is_none(), "secret_data is stored in the state");
    assert_eq!(version["secret_data_wo"], json!("${try(var.secret_values[each.value], null)}"));
    assert_eq!(version["secret_data_wo_version"], json!("${var.secret_values_version}"));
    let vars = parsed("terraform/variables.tf");
    let var = vars["variable"]
        .as_array()
        .and_then(|v| v.iter().find_map(|b| b.get("secret_values")))
        .expect("variable secret_values");
    assert_eq!(var["ephemeral"], json!(true));
    assert_eq!(var["sensitive"], json!(true));
    // the services read `latest` only once it exists
    let run_tf = parsed("terraform/run.tf");
    let push = resource(&run_tf, "google_cloud_run_v2_service", "push");
    let deps = push["depends_on"].as_array().expect("depends_on");
    assert!(deps.contains(&json!("${google_secret_manager_secret_version.secret}")), "{deps:?}");
}

/// After a seal-key rotation, `terraform apply` keeps the new key
/// (`seal_key_version`) and maps the old ones (`seal_key_previous_version`
/// of the secret `baton-seal-key-previous`) on every service, which may
/// read both; no key material is in the configuration, the state or a plan.
#[test]
fn terraform_seal_key_rotation_keeps_the_new_key_and_the_previous_ones() {
    let secrets = parsed("terraform/secrets.tf");
    let previous = resource(&secrets, "google_secret_manager_secret", "seal_key_previous");
    assert_eq!(previous["secret_id"], json!("baton-seal-key-previous"));
    let text = std::fs::read_to_string(repo().join("terraform/secrets.tf")).expect("secrets.tf");
    assert!(
        !text.contains("google_secret_manager_secret_version\" \"seal_key_previous"),
        "the previous keys are added by hand: Terraform never holds them"
    );
    let vars = parsed("terraform/variables.tf");
    for name in ["seal_key_version", "seal_key_previous_version"] {
        let var = vars["variable"]
            .as_array()
            .and_then(|v| v.iter().find_map(|b| b.get(name)))
            .unwrap_or_else(|| panic!("variable {name}"));
        assert_eq!(var["default"], Value::Null, "{name}: nothing to set before a rotation");
        assert!(var.get("validation").is_some(), "{name} is checked");
    }
    let run_tf = parsed("terraform/run.tf");
    let iam = parsed("terraform/iam.tf");
    let grant = resource(&iam, "google_secret_manager_secret_iam_member", "seal_key_previous");
    assert_eq!(grant["for_each"], json!("${toset(local.functions)}"), "every function reads the previous keys");
    assert_eq!(grant["secret_id"], json!("${google_secret_manager_secret.seal_key_previous.id}"));
    for service in ["push", "api", "webhooks"] {
        let svc = resource(&run_tf, "google_cloud_run_v2_service", service);
        let body = svc.to_string();
        let current = json!({"secret": "${google_secret_manager_secret.seal_key.secret_id}",
            "version": "${coalesce(var.seal_key_version, google_secret_manager_secret_version.seal_key.version)}"});
        assert!(body.contains(&current.to_string()), "{service}: BATON_SEAL_KEY is not the rotated version: {body}");
        let mapped = json!({"env": {
            "for_each": "${var.seal_key_previous_version == null ? [] : [var.seal_key_previous_version]}",
            "content": [{"name": "BATON_SEAL_KEY_PREVIOUS", "value_source": [{"secret_key_ref": [{
                "secret": "${google_secret_manager_secret.seal_key_previous.secret_id}", "version": "${env.value}"}]}]}]}});
        assert!(body.contains(&mapped.to_string()), "{service}: no BATON_SEAL_KEY_PREVIOUS: {body}");
        let deps = svc["depends_on"].as_array().expect("depends_on");
        assert!(deps.contains(&json!("${google_secret_manager_secret_iam_member.seal_key_previous}")), "{service}");
    }
}

#[test]
fn terraform_pubsub_service_agent_exists_before_its_grants() {
    let iam = parsed("terraform/iam.tf");
    let identity = resource(&iam, "google_project_service_identity", "pubsub");
    assert_eq!(identity["service"], json!("pubsub.googleapis.com"));
    assert_eq!(identity["provider"], json!("google-beta"));
    let locals = parsed("terraform/locals.tf");
    let agent =
        locals["locals"].as_array().and_then(|l| l.iter().find_map(|b| b.get("pubsub_agent"))).expect("pubsub_agent");
    assert_eq!(agent, &json!("${google_project_service_identity.pubsub.member}"));
    for (kind, name) in [
        ("google_service_account_iam_member", "pubsub_token_creator"),
        ("google_pubsub_topic_iam_member", "dead_letter_publisher"),
        ("google_pubsub_subscription_iam_member", "dead_letter_subscriber"),
    ] {
        assert_eq!(resource(&iam, kind, name)["member"], json!("${local.pubsub_agent}"), "{kind}.{name}");
    }
}
