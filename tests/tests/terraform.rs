//! The deployment files, checked offline: `terraform/` is formatted, parses,
//! every reference resolves and the static security scan passes; and the
//! helpers the other `terraform_*` modules share — running the tools
//! offline, reading the .tf files as JSON, evaluating `modules/schedules`
//! and the root module's locals with `terraform apply` (the tests of those
//! are in `terraform_schedules` and `terraform_locals`, the images' in
//! `terraform_images`, the deploy path's in `terraform_deploy`).
//!
//! The tools are external: `terraform` (1.11, on the PATH), python-hcl2 and
//! checkov (installed by `scripts/setup/terraform.sh`, which exports
//! `BATON_HCL2_PYTHON` and `BATON_CHECKOV`). A missing tool fails the test
//! with the command that installs it. Where `unshare -n` works (root), the
//! terraform runs and checkov run without any network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

pub(crate) const SETUP_HINT: &str = "run `source scripts/setup/terraform.sh` (scripts/test.sh does)";

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

/// A temporary folder, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("baton-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command to its end; a tool that cannot start fails with a hint.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) if what == "terraform" => {
            panic!("cannot run terraform ({cmd:?}): {e}; terraform >= 1.5 must be on the PATH (this machine has 1.11)")
        }
        Err(e) => panic!("cannot run {what} ({cmd:?}): {e}; {SETUP_HINT}"),
    }
}

pub(crate) fn both(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Whether commands can be put in a network namespace of their own.
fn can_unshare() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        Command::new("unshare").args(["-n", "true"]).output().map(|o| o.status.success()).unwrap_or(false)
    })
}

/// `program`, without network when possible.
fn offline(program: &Path) -> Command {
    if can_unshare() {
        let mut c = Command::new("unshare");
        c.arg("-n").arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub(crate) fn terraform(offline_run: bool) -> Command {
    let mut c = if offline_run { offline(Path::new("terraform")) } else { Command::new("terraform") };
    c.env("CHECKPOINT_DISABLE", "1").env("TF_IN_AUTOMATION", "1").env("TF_CLI_CONFIG_FILE", "/dev/null");
    c.env_remove("TF_PLUGIN_CACHE_DIR");
    c
}

/// A tool from `scripts/setup/terraform.sh`: its variable, its venv, or the PATH.
pub(crate) fn tool(var: &str, venv_path: &str, fallback: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let v = repo().join(venv_path);
    if v.exists() { v } else { PathBuf::from(fallback) }
}

pub(crate) fn hcl2_python() -> PathBuf {
    let py = tool("BATON_HCL2_PYTHON", ".cache/pytools/hcl2/bin/python", "python3");
    let probe = run(Command::new(&py).args(["-c", "import hcl2"]), "python");
    assert!(probe.status.success(), "python-hcl2 is missing for {}: {SETUP_HINT}\n{}", py.display(), both(&probe));
    py
}

fn checkov() -> PathBuf {
    tool("BATON_CHECKOV", ".cache/pytools/checkov/bin/checkov", "checkov")
}

/// Copies the Terraform configuration (not its tests, state or caches).
pub(crate) fn copy_config(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read terraform dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if path.is_dir() {
            if name != "tests" && !name.starts_with('.') {
                copy_config(&path, &to.join(&*name));
            }
        } else if name.ends_with(".tf") || name.ends_with(".md") {
            std::fs::copy(&path, to.join(&*name)).expect("copy");
        }
    }
}

/// The .tf files as JSON (python-hcl2, quotes stripped), keyed by path.
pub(crate) fn hcl_json(files: &[PathBuf]) -> BTreeMap<String, Value> {
    let out =
        run(Command::new(hcl2_python()).arg(repo().join("terraform/tests/hcl_json.py")).args(files), "hcl_json.py");
    assert!(out.status.success(), "hcl_json.py failed:\n{}", both(&out));
    serde_json::from_slice(&out.stdout).expect("hcl_json.py prints JSON")
}

/// `variable "name" { default = … }` of terraform/variables.tf.
pub(crate) fn variable_default(name: &str) -> Value {
    let path = repo().join("terraform/variables.tf");
    let parsed = hcl_json(std::slice::from_ref(&path));
    let vars = parsed.values().next().and_then(|f| f.get("variable")).and_then(Value::as_array).expect("variables");
    vars.iter()
        .find_map(|v| v.get(name))
        .and_then(|v| v.get("default"))
        .cloned()
        .unwrap_or_else(|| panic!("variable {name} has no default"))
}

// ---------------------------------------------------------------------------
// terraform/: formatting, references, security scan
// ---------------------------------------------------------------------------

#[test]
fn terraform_is_formatted() {
    let out =
        run(terraform(false).args(["fmt", "-check", "-recursive", "-diff"]).arg(repo().join("terraform")), "terraform");
    assert!(out.status.success(), "`terraform fmt -check -recursive terraform/` wants changes:\n{}", both(&out));
}

#[test]
fn every_terraform_reference_resolves() {
    let out = run(
        Command::new(hcl2_python()).arg(repo().join("terraform/tests/check_refs.py")).arg(repo().join("terraform")),
        "check_refs.py",
    );
    let text = both(&out);
    assert!(out.status.success(), "terraform/ has unresolved references:\n{text}");
    // every module read (root, schedules, events), and a real number of references checked
    assert!(text.contains("ok: 3 module(s)"), "{text}");
    let refs: usize = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[1] == "references,")
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0);
    assert!(refs > 200, "only {refs} references checked:\n{text}");
}

/// The reference check must fail on what `terraform validate` would reject.
#[test]
fn dangling_terraform_references_are_reported() {
    let tmp = TempDir::new("tf-dangling");
    let dir = tmp.0.join("terraform");
    copy_config(&repo().join("terraform"), &dir);
    std::fs::write(
        dir.join("broken.tf"),
        r#"resource "google_pubsub_topic" "broken" {
  name                       = "${var.no_such_variable}-x"
  labels                     = { a = local.no_such_local, b = google_storage_bucket.no_such_bucket.name }
  kms_key_name               = data.google_kms_crypto_key.no_such_key.id
  message_retention_duration = lenght(module.schedules.no_such_output)
  depends_on                 = [google_cloud_run_v2_service.no_such_service]

  dynamic "schema_settings" {
    for_each = var.secrets
    content {
      schema   = schema_settings.value
      encoding = settings.value
    }
  }
}

output "broken" {
  value = [for k, v in local.labels : each.key]
}

module "broken" {
  source    = "./modules/schedules"
  flows_dirr = "x"
}
"#,
    )
    .expect("write broken.tf");
    let out =
        run(Command::new(hcl2_python()).arg(repo().join("terraform/tests/check_refs.py")).arg(&dir), "check_refs.py");
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "check_refs.py must fail on dangling references:\n{text}");
    for expected in [
        "broken.tf:2: var.no_such_variable is not declared",
        "broken.tf:3: local.no_such_local is not declared",
        "broken.tf:3: resource google_storage_bucket.no_such_bucket is not declared",
        "broken.tf:4: data.google_kms_crypto_key.no_such_key is not declared",
        "broken.tf:5: unknown function lenght()",
        "broken.tf:5: module.schedules.no_such_output: the module has no output 'no_such_output'",
        "broken.tf:6: resource google_cloud_run_v2_service.no_such_service is not declared",
        "broken.tf:12: 'settings' is not declared here",
        "broken.tf:18: each is used in a block without for_each",
        "module broken: passes 'flows_dirr', which the module does not declare",
        "module broken: required variable 'flows_dir' is not passed",
    ] {
        assert!(text.contains(expected), "missing '{expected}' in:\n{text}");
    }
    // and nothing else: the real configuration contributes no problem
    assert!(text.contains("11 problem(s)"), "{text}");
}

fn checkov_scan(dir: &Path) -> Output {
    let checkov = checkov();
    let mut cmd = offline(&checkov);
    cmd.args(["--directory"])
        .arg(dir)
        .args(["--framework", "terraform", "--quiet", "--compact", "--skip-download"])
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .env("BC_SKIP_MAPPING", "TRUE");
    run(&mut cmd, "checkov")
}

#[test]
fn checkov_scan_is_clean_and_every_skip_is_justified() {
    let tmp = TempDir::new("tf-checkov");
    let dir = tmp.0.join("terraform");
    copy_config(&repo().join("terraform"), &dir);
    let out = checkov_scan(&dir);
    let text = both(&out);
    assert!(out.status.success(), "checkov found problems in terraform/:\n{text}");
    assert!(text.contains("Failed checks: 0"), "{text}");
    let passed: usize = text
        .split("Passed checks: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(passed >= 10, "checkov checked too little ({passed} passed):\n{text}");

    // each exception names a check and says why, next to its resource
    let mut skips = 0;
    for file in tf_files(&repo().join("terraform")) {
        let src = std::fs::read_to_string(&file).expect("read .tf");
        for (i, line) in src.lines().enumerate() {
            let Some(rest) = line.trim().strip_prefix("#checkov:skip=") else { continue };
            skips += 1;
            let (id, reason) = rest.split_once(':').unwrap_or((rest, ""));
            assert!(id.starts_with("CKV"), "{}:{}: skip without a check id", file.display(), i + 1);
            assert!(reason.trim().len() > 30, "{}:{}: skip of {id} without a real reason", file.display(), i + 1);
        }
    }
    assert!(skips > 0, "no #checkov:skip found: the count in this test is stale");
}

/// The scan is real: the same configuration with a public, non-uniform
/// bucket fails it.
#[test]
fn checkov_scan_fails_on_an_insecure_bucket() {
    let tmp = TempDir::new("tf-checkov-bad");
    let dir = tmp.0.join("terraform");
    copy_config(&repo().join("terraform"), &dir);
    std::fs::write(
        dir.join("insecure.tf"),
        r#"resource "google_storage_bucket" "insecure" {
  name                        = "wide-open"
  location                    = "EU"
  uniform_bucket_level_access = false
}
"#,
    )
    .expect("write insecure.tf");
    let out = checkov_scan(&dir);
    let text = both(&out);
    assert!(!out.status.success(), "checkov passed an insecure bucket:\n{text}");
    for id in ["CKV_GCP_29", "CKV_GCP_114"] {
        assert!(text.contains(id), "checkov did not report {id}:\n{text}");
    }
}

pub(crate) fn tf_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(tf_files(&p));
        } else if p.extension().is_some_and(|e| e == "tf") {
            out.push(p);
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// Scheduler jobs = the flows' Schedule triggers
// ---------------------------------------------------------------------------

/// Evaluates modules/schedules with terraform on each folder: a root module in
/// a temp dir with no provider, so `terraform init` needs nothing from the
/// network (and runs without any where possible), then `terraform apply`
/// with local state and `terraform output -json`.
pub(crate) fn evaluate_schedules(folders: &[(&str, PathBuf)]) -> BTreeMap<String, Value> {
    let tmp = TempDir::new("tf-schedules");
    let root = &tmp.0;
    copy_config(&repo().join("terraform/modules/schedules"), &root.join("modules/schedules"));
    let mut main = String::new();
    for (name, dir) in folders {
        main.push_str(&format!(
            "module \"{name}\" {{\n  source    = \"./modules/schedules\"\n  flows_dir = \"{}\"\n}}\n\n\
             output \"{name}\" {{\n  value = module.{name}\n}}\n\n",
            dir.display()
        ));
    }
    std::fs::write(root.join("main.tf"), main).expect("write main.tf");

    let init = run(terraform(true).current_dir(root).args(["init", "-input=false", "-no-color"]), "terraform");
    assert!(init.status.success(), "terraform init (offline) failed:\n{}", both(&init));
    // no provider was needed: nothing was installed, no lock file written
    assert!(!root.join(".terraform/providers").exists(), "terraform init installed providers");
    assert!(!root.join(".terraform.lock.hcl").exists(), "terraform init locked providers:\n{}", both(&init));

    let apply = run(
        terraform(true).current_dir(root).args(["apply", "-auto-approve", "-input=false", "-no-color"]),
        "terraform",
    );
    assert!(apply.status.success(), "terraform apply of modules/schedules failed:\n{}", both(&apply));
    let output = run(terraform(true).current_dir(root).args(["output", "-json"]), "terraform");
    assert!(output.status.success(), "terraform output failed:\n{}", both(&output));
    let all: BTreeMap<String, Value> = serde_json::from_slice(&output.stdout).expect("terraform output -json");
    all.into_iter().map(|(k, v)| (k, v["value"].clone())).collect()
}

// ---------------------------------------------------------------------------
// The root module's variables and locals, evaluated by terraform
// ---------------------------------------------------------------------------

/// `terraform apply` of the root module's variables, locals and module calls
/// (terraform/tests/locals_root.py: resources and providers dropped, the
/// Pub/Sub service agent stubbed), offline; returns every local, or the failure.
pub(crate) fn evaluate_root_locals(vars: &[&str]) -> Result<Value, String> {
    let tmp = TempDir::new("tf-locals");
    let out = run(
        Command::new(hcl2_python())
            .arg(repo().join("terraform/tests/locals_root.py"))
            .arg(repo().join("terraform"))
            .arg(&tmp.0)
            .args([
                "--stub",
                "google_project_service_identity.pubsub.member=\"serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com\"",
                "--stub",
                "google_secret_manager_secret.seal_key.secret_id=\"baton-seal-key\"",
                "--stub",
                "google_secret_manager_secret_version.seal_key.version=\"1\"",
                "--stub",
                "google_secret_manager_secret.seal_key_previous.secret_id=\"baton-seal-key-previous\"",
            ]),
        "locals_root.py",
    );
    assert!(out.status.success(), "locals_root.py failed:\n{}", both(&out));
    let init = run(terraform(true).current_dir(&tmp.0).args(["init", "-input=false", "-no-color"]), "terraform");
    assert!(init.status.success(), "terraform init (offline) failed:\n{}", both(&init));
    let mut apply = terraform(true);
    apply.current_dir(&tmp.0).args(["apply", "-auto-approve", "-input=false", "-no-color"]);
    for v in vars {
        apply.arg(format!("-var={v}"));
    }
    let applied = run(&mut apply, "terraform");
    if !applied.status.success() {
        return Err(both(&applied));
    }
    let output = run(terraform(true).current_dir(&tmp.0).args(["output", "-json", "locals"]), "terraform");
    assert!(output.status.success(), "terraform output failed:\n{}", both(&output));
    Ok(serde_json::from_slice(&output.stdout).expect("terraform output -json"))
}
