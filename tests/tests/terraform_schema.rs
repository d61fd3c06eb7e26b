//! `terraform/` (root, `modules/schedules`, `bootstrap/`) checked offline
//! against the google and google-beta 6.50.0 provider schemas
//! (`terraform/tests/check_schema.py`, schemas built by
//! `scripts/setup/terraform.sh` from the PyPI CDK for Terraform bindings):
//! every resource, data source and nested block, the provider pin, and
//! every resource after the API it calls. Each check is shown to fail on a
//! broken copy.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use std::process::{Command, Output};

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
