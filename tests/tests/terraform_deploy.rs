//! The deploy from zero, checked offline (the provider schema and API checks
//! are in `terraform_schema`): the bootstrap stage (APIs, the
//! Artifact Registry repository, the build's account and its roles),
//! `scripts/deploy.sh` running the stages in order, the paused sweep job and
//! the secrets' first versions.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::terraform::{TempDir, both, evaluate_root_locals, hcl_json, hcl2_python, repo, run, tf_files};

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
    // every service takes its secret-valued environment from one place
    for service in ["push", "api", "webhooks"] {
        let svc = resource(&run_tf, "google_cloud_run_v2_service", service);
        let body = svc.to_string();
        assert!(body.contains("merge(local.seal_key_env, {"), "{service}: not fed local.seal_key_env: {body}");
        assert!(!body.contains("BATON_SEAL_KEY"), "{service}: a seal key declared again in run.tf: {body}");
        let deps = svc["depends_on"].as_array().expect("depends_on");
        assert!(deps.contains(&json!("${google_secret_manager_secret_iam_member.seal_key_previous}")), "{service}");
    }
    // and that place, evaluated by terraform: the created version until a
    // rotation names one, the previous keys only once a rotation names them
    let base = ["project_id=demo-project", "image_tag=abc1234"];
    let before = evaluate_root_locals(&base).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(before["seal_key_env"], json!({"BATON_SEAL_KEY": {"secret": "baton-seal-key", "version": "1"}}));
    let after = evaluate_root_locals(&[base[0], base[1], "seal_key_version=3", "seal_key_previous_version=2"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        after["seal_key_env"],
        json!({"BATON_SEAL_KEY": {"secret": "baton-seal-key", "version": "3"},
               "BATON_SEAL_KEY_PREVIOUS": {"secret": "baton-seal-key-previous", "version": "2"}})
    );
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
