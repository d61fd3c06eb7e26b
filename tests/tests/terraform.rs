//! The deployment files, checked offline: `terraform/` (formatted, parses,
//! every reference resolves, the static security scan passes), the Cloud
//! Scheduler jobs Terraform derives from the flows (evaluated for real by
//! `terraform apply` on the provider-free `modules/schedules`, compared with
//! Baton's own reading of the same flows), the Firestore indexes against the
//! store's queries, and `cloudbuild.yaml` against the `Dockerfile`.
//!
//! The tools are external: `terraform` (1.11, on the PATH), python-hcl2 and
//! checkov (installed by `scripts/setup/terraform.sh`, which exports
//! `BATON_HCL2_PYTHON` and `BATON_CHECKOV`). A missing tool fails the test
//! with the command that installs it. Where `unshare -n` works (root), the
//! terraform runs and checkov run without any network.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use shared::model::Flow;
use shared::schedule::{Cron, ScheduleTrigger};

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

/// A flow file as Baton reads it (fully validated).
fn baton_flows(dir: &Path) -> Vec<(String, Flow)> {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read flows dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                let src = std::fs::read_to_string(&p).expect("read flow");
                let rel = p.strip_prefix(dir).expect("relative").display().to_string();
                let (flow, diags) = shared::validate::validate_source(&rel, &src, &registry, &renderer);
                assert!(diags.is_empty(), "fixture {rel} is not a valid flow: {diags:?}");
                out.push((rel, flow.expect("flow")));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The first `n` ticks after `from`.
fn ticks(cron: &Cron, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut out = Vec::with_capacity(n);
    let mut t = from;
    while out.len() < n {
        match cron.next_after(t) {
            Some(next) => {
                out.push(next);
                t = next;
            }
            None => break,
        }
    }
    out
}

fn field_uses_quartz_extension(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    fields.len() == 5 && (fields[2].contains(['L', 'W']) || fields[4].contains(['L', '#']))
}

/// Checks the module's view of one folder against Baton's; returns (jobs, skipped).
fn compare_with_baton(folder: &Path, derived: &Value) -> (usize, usize) {
    let jobs = derived["jobs"].as_object().expect("jobs output");
    let skipped = derived["skipped"].as_object().expect("skipped output");
    let flows_out = derived["flows"].as_object().expect("flows output");
    let mut seen_jobs = BTreeSet::new();
    let mut seen_skipped = BTreeSet::new();
    let mut names = BTreeSet::new();
    // a year of ticks crosses both daylight-saving changes of every zone
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().expect("date");

    let flows = baton_flows(folder);
    assert_eq!(flows_out.len(), flows.len(), "flows output {flows_out:?}");
    for (file, flow) in &flows {
        let fkey = format!("{}/{}", flow.namespace, flow.id);
        let f = flows_out.get(&fkey).unwrap_or_else(|| panic!("flow {fkey} ({file}) missing from {flows_out:?}"));
        assert_eq!(f["file"], json!(file), "{fkey}");
        assert_eq!(f["object"], json!(format!("flows/{}/{}.yml", flow.namespace, flow.id)), "{fkey}");
        assert_eq!(f["disabled"], json!(flow.disabled), "{fkey}");
        let prefix =
            format!("{}/{}/executions/", flow.namespace.replace('.', "/"), shared::model::ids::slugify(&flow.id));
        assert_eq!(f["executions_prefix"], json!(prefix), "{fkey}");

        for (trigger, parsed) in flow.triggers.iter().filter_map(|t| {
            ScheduleTrigger::from_trigger(t).transpose().map(|r| (t, r.expect("valid Schedule trigger")))
        }) {
            let key = format!("{}/{}/{}", flow.namespace, flow.id, trigger.id);
            let with_seconds = match trigger.props.get("withSeconds") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            let expected_skip = if flow.disabled {
                Some("the flow is disabled")
            } else if parsed.disabled {
                Some("the trigger is disabled")
            } else if with_seconds {
                Some("withSeconds")
            } else if field_uses_quartz_extension(parsed.cron.expr()) {
                Some("L, W or #")
            } else {
                None
            };
            match expected_skip {
                Some(reason) => {
                    let got = skipped.get(&key).and_then(Value::as_str);
                    assert!(
                        got.is_some_and(|g| g.contains(reason)),
                        "{key} ({file}) should be skipped ({reason}); got {got:?}, job {:?}",
                        jobs.get(&key)
                    );
                    assert!(!jobs.contains_key(&key), "{key} is both skipped and a job");
                    seen_skipped.insert(key);
                }
                None => {
                    let job = jobs.get(&key).unwrap_or_else(|| {
                        panic!("{key} ({file}) has no Cloud Scheduler job (skipped: {:?})", skipped.get(&key))
                    });
                    let schedule = job["schedule"].as_str().expect("schedule");
                    let zone = job["time_zone"].as_str().expect("time_zone");
                    assert_eq!(schedule.split(' ').count(), 5, "{key}: Cloud Scheduler takes five fields: {schedule}");
                    // the job fires exactly when Baton's trigger does, in the trigger's zone
                    let as_job = Cron::parse(schedule, false, Some(zone))
                        .unwrap_or_else(|e| panic!("{key}: job cron '{schedule}' in {zone}: {e}"));
                    assert_eq!(
                        ticks(&as_job, start, 400),
                        ticks(&parsed.cron, start, 400),
                        "{key}: job '{schedule}' in {zone} differs from trigger '{}' in {}",
                        parsed.cron.expr(),
                        parsed.cron.timezone()
                    );
                    let written_zone = trigger.props.get("timezone").and_then(Value::as_str).map(str::trim);
                    match written_zone.filter(|z| !z.is_empty()) {
                        Some(z) => assert_eq!(zone, z, "{key}"),
                        None => assert_eq!(zone, "Etc/UTC", "{key}: a trigger without timezone runs in UTC"),
                    }
                    let payload: Value =
                        serde_json::from_str(job["payload"].as_str().expect("payload")).expect("payload is JSON");
                    assert_eq!(
                        payload,
                        json!({"type": "tick", "namespace": flow.namespace, "flowId": flow.id, "triggerId": trigger.id}),
                        "{key}"
                    );
                    assert_eq!(job["namespace"], json!(flow.namespace));
                    assert_eq!(job["flow_id"], json!(flow.id));
                    assert_eq!(job["trigger_id"], json!(trigger.id));
                    let name = job["name"].as_str().expect("name");
                    assert!(
                        !name.is_empty()
                            && name.len() <= 500
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                        "{key}: '{name}' is not a valid Cloud Scheduler job id"
                    );
                    assert!(names.insert(name.to_string()), "job name {name} used twice");
                    seen_jobs.insert(key);
                }
            }
        }
    }
    let job_keys: BTreeSet<String> = jobs.keys().cloned().collect();
    let skipped_keys: BTreeSet<String> = skipped.keys().cloned().collect();
    assert_eq!(job_keys, seen_jobs, "jobs for triggers Baton does not schedule");
    assert_eq!(skipped_keys, seen_skipped, "skipped entries Baton does not know");
    (seen_jobs.len(), seen_skipped.len())
}

#[test]
fn scheduler_jobs_match_the_flows_schedule_triggers() {
    let fixtures = repo().join("tests/fixtures/flows");
    let derived = evaluate_schedules(&[("scheduled", fixtures.join("scheduled")), ("valid", fixtures.join("valid"))]);

    // scheduled/: timezones, a nickname, `?`, a legacy type name,
    // pluginDefaults (prefix, forced), a nested folder; skipped: withSeconds,
    // a disabled trigger, a disabled flow, Quartz's L
    let (jobs, skipped) = compare_with_baton(&fixtures.join("scheduled"), &derived["scheduled"]);
    assert_eq!((jobs, skipped), (7, 4), "{:#}", derived["scheduled"]);
    let s = &derived["scheduled"]["jobs"];
    assert_eq!(s["company.team.nested/with_defaults/quarterly"]["time_zone"], json!("America/New_York"));
    assert_eq!(s["company.team.nested/with_defaults/tokyo_lunch"]["time_zone"], json!("Asia/Tokyo"));
    assert_eq!(s["company.team/daily_report/nightly"]["schedule"], json!("0 0 * * *"));
    assert_eq!(s["company.team/paused_and_legacy/legacy"]["schedule"], json!("30 2 1 * *"));

    // valid/: the zoomcamp flows (two monthly triggers, one @monthly in
    // America/Asuncion, one disabled)
    let (jobs, skipped) = compare_with_baton(&fixtures.join("valid"), &derived["valid"]);
    assert_eq!((jobs, skipped), (3, 1), "{:#}", derived["valid"]);
}

#[test]
fn schedule_on_dates_and_http_triggers_get_utc_jobs() {
    let fixtures = repo().join("tests/fixtures/flows");
    let derived = evaluate_schedules(&[("timed", fixtures.join("timed"))]);
    let d = &derived["timed"];
    let schedules: BTreeMap<String, String> = d["jobs"]
        .as_object()
        .expect("jobs")
        .iter()
        .map(|(k, v)| (k.clone(), v["schedule"].as_str().expect("schedule").to_string()))
        .collect();
    // 18:00+01:00 is 17:00 UTC; 23:59:30+01:00 fires at the minute after it (23:00 UTC)
    let want: BTreeMap<String, String> = [
        ("company.team/holidays/daily", "0 9 * * *"),
        ("company.team/holidays/season#0", "0 17 24 12 *"),
        ("company.team/holidays/season#1", "0 23 31 12 *"),
        // http.Trigger: its interval in whole minutes, as Cloud Scheduler can
        ("company.team/polled/every_minute", "* * * * *"),
        ("company.team/polled/fast", "* * * * *"),
        // a JDBC trigger: polled the same way
        ("company.team/polled/orders", "*/5 * * * *"),
        ("company.team/polled/quarter", "*/15 * * * *"),
        ("company.team/polled/six_hours", "0 */6 * * *"),
        // a BigQuery trigger: polled the same way
        ("company.team/polled/warehouse", "*/10 * * * *"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(schedules, want, "{d:#}");
    assert_eq!(d["jobs"]["company.team/holidays/season#1"]["time_zone"], json!("Etc/UTC"));
    let tick: Value =
        serde_json::from_str(d["jobs"]["company.team/holidays/season#0"]["payload"].as_str().expect("payload"))
            .expect("payload JSON");
    assert_eq!(tick, json!({"type": "tick", "namespace": "company.team", "flowId": "holidays", "triggerId": "season"}));
    assert_eq!(d["skipped"]["company.team/holidays/season#2"], json!("2001-01-01T00:00:00Z has passed"));
    assert_eq!(d["skipped"]["company.team/holidays/paused"], json!("the trigger is disabled"));
    assert_eq!(d["skipped"]["company.team/polled/halted"], json!("the trigger is disabled"));
    assert_eq!(d["skipped"].as_object().map(|m| m.len()), Some(3), "{:#}", d["skipped"]);
    // and Baton reads the same dates as ticks of the trigger
    let (_, flow) = baton_flows(&fixtures.join("timed")).into_iter().next().expect("the flow");
    let t = ScheduleTrigger::find(&flow, "season").expect("trigger").expect("valid");
    let ticks = ticks(&t.cron, "2098-01-01T00:00:00Z".parse().expect("date"), 5);
    assert_eq!(
        ticks.iter().map(|d| d.to_rfc3339()).collect::<Vec<_>>(),
        ["2098-12-24T17:00:00+00:00", "2098-12-31T22:59:30+00:00"]
    );
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

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn root_locals_evaluate_to_least_privilege_wiring() {
    let flows = repo().join("tests/fixtures/flows/scheduled");
    let l = evaluate_root_locals(&[
        "project_id=demo-project",
        "image_tag=abc1234",
        r#"secrets=["GCP_CREDS","PG_PASSWORD","HOOK_KEY"]"#,
        r#"webhook_key_secrets=["HOOK_KEY"]"#,
        &format!("flows_dir={}", flows.display()),
    ])
    .unwrap_or_else(|e| panic!("the root module's locals do not evaluate:\n{e}"));

    let groups = ["core", "scripts", "jdbc", "gcp", "dbt"];
    let workers: Vec<String> = groups.iter().map(|g| format!("worker-{g}")).collect();
    let mut push: BTreeSet<String> = ["executor", "scheduler"].iter().map(|s| s.to_string()).collect();
    push.extend(workers.iter().cloned());
    assert_eq!(keys(&l["push_services"]), push);

    // topic names are the code's (Topic::name), and each service is fed by one
    use shared::backend::Topic;
    assert_eq!(l["topics"]["executions"], json!(Topic::Executions.name()));
    assert_eq!(l["topics"]["scheduler"], json!("baton-scheduler"));
    assert_eq!(l["dead_letter_topic"], json!("baton-dead-letter"));
    for g in groups {
        assert_eq!(l["topics"][format!("tasks-{g}")], json!(Topic::Tasks(g.to_string()).name()));
        let w = &l["push_services"][format!("worker-{g}")];
        assert_eq!(w["topic"], json!(format!("tasks-{g}")));
        assert_eq!(w["timeout"], json!("3600s"), "workers may run an hour");
        assert_eq!(w["env"]["BATON_WORKER_GROUP"], json!(g));
        assert_eq!(w["image"], json!(format!("worker-{g}")));
    }
    assert_eq!(l["push_services"]["executor"]["topic"], json!("executions"));
    assert_eq!(l["push_services"]["scheduler"]["topic"], json!("scheduler"));
    assert_eq!(l["push_services"]["worker-scripts"]["concurrency"], json!(1));
    assert_eq!(l["push_services"]["worker-dbt"]["concurrency"], json!(1), "a dbt build per instance");
    assert_eq!(l["push_services"]["worker-gcp"]["env"]["ENV_GCP_BUCKET_NAME"], json!("demo-project-baton-data"));
    assert!(l["push_services"]["worker-core"]["env"].get("ENV_GCP_BUCKET_NAME").is_none());
    let audiences: BTreeSet<String> =
        l["push_audiences"].as_object().expect("audiences").values().map(|v| v.to_string()).collect();
    assert_eq!(audiences.len(), push.len(), "one audience per push service");
    assert_eq!(l["registry"], json!("europe-west1-docker.pkg.dev/demo-project/baton"));
    assert_eq!(l["common_env"]["BATON_INTERNAL_BUCKET"], json!("demo-project-baton-internal"));
    assert_eq!(l["pubsub_agent"], json!("serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"));

    // a dead worker's task is seen within about a minute: a 60 s lease on the
    // workers and the scheduler (which sweeps expired leases)
    for f in workers.iter().map(String::as_str).chain(["scheduler"]) {
        assert_eq!(l["push_services"][f]["env"]["BATON_LEASE_SECONDS"], json!("30"), "{f}");
    }
    assert!(l["push_services"]["executor"]["env"].get("BATON_LEASE_SECONDS").is_none());
    // the engine pauses and resumes the sweep job itself: its full name goes
    // to the scheduler and the executor, and they alone may pause/resume it
    let sweep_job = "projects/demo-project/locations/europe-west1/jobs/baton-sweep";
    assert_eq!(l["sweep_job"], json!(sweep_job));
    for f in ["scheduler", "executor"] {
        assert_eq!(l["push_services"][f]["env"]["BATON_SWEEP_JOB"], json!(sweep_job), "{f}");
    }
    for w in &workers {
        assert!(l["push_services"][w]["env"].get("BATON_SWEEP_JOB").is_none(), "{w}");
    }
    assert_eq!(l["sweep_controllers"], json!(["scheduler", "executor"]));
    // Docker-runner tasks as Cloud Run Jobs: the scripts worker starts them,
    // the scheduler's sweep reads and cancels them, nobody else
    assert_eq!(l["container_workers"], json!(["worker-scripts", "worker-dbt"]));
    let cloud_run_env = json!({"BATON_CLOUD_RUN_REGION": "europe-west1",
        "BATON_CLOUD_RUN_SERVICE_ACCOUNT": "baton-tasks@demo-project.iam.gserviceaccount.com"});
    for f in ["worker-scripts", "worker-dbt", "scheduler"] {
        for (k, v) in cloud_run_env.as_object().expect("env") {
            assert_eq!(&l["push_services"][f]["env"][k], v, "{f} {k}");
        }
    }
    for f in ["worker-core", "worker-gcp", "executor"] {
        assert!(l["push_services"][f]["env"].get("BATON_CLOUD_RUN_REGION").is_none(), "{f}");
    }
    assert_eq!(l["cloud_run_watch_permissions"], json!(["run.executions.get", "run.executions.cancel"]));
    let job_permissions: BTreeSet<&str> =
        l["cloud_run_job_permissions"].as_array().expect("permissions").iter().filter_map(Value::as_str).collect();
    assert_eq!(
        job_permissions,
        BTreeSet::from([
            "run.jobs.get",
            "run.jobs.create",
            "run.jobs.update",
            "run.jobs.run",
            "run.jobs.runWithOverrides",
            "run.operations.get",
            "run.executions.get",
            "run.executions.cancel",
        ])
    );
    // get, pause, and what jobs.resume requires (cloudscheduler.jobs.enable):
    // nothing that creates, changes, deletes or runs a job
    let perms: BTreeSet<&str> =
        l["sweep_control_permissions"].as_array().expect("permissions").iter().filter_map(Value::as_str).collect();
    assert_eq!(
        perms,
        BTreeSet::from(["cloudscheduler.jobs.get", "cloudscheduler.jobs.pause", "cloudscheduler.jobs.enable"])
    );

    // the single-field index exemptions are exactly the store's UNINDEXED_FIELDS
    let exempt: BTreeSet<(String, String)> = l["firestore_unindexed_fields"]
        .as_object()
        .expect("firestore_unindexed_fields")
        .values()
        .map(|f| (f["collection"].as_str().expect("collection").into(), f["field"].as_str().expect("field").into()))
        .collect();
    let want: BTreeSet<(String, String)> =
        shared::backend::gcp::UNINDEXED_FIELDS.iter().map(|(c, f)| (c.to_string(), f.to_string())).collect();
    assert_eq!(exempt, want, "firestore.tf exemptions vs UNINDEXED_FIELDS");

    // who publishes where: exactly what each function's code does
    let publishers = keys(&l["publishers"]);
    // (the scheduler: backfill continuations on its own topic, and the end of
    // Cloud Run Job executions its sweep polls, to the container groups)
    let mut want: BTreeSet<String> = [
        "api/executions",
        "api/scheduler",
        "scheduler/executions",
        "scheduler/scheduler",
        "scheduler/tasks-scripts",
        "scheduler/tasks-dbt",
        "executor/executions",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.extend(groups.iter().map(|g| format!("executor/tasks-{g}")));
    want.extend(workers.iter().map(|w| format!("{w}/executions")));
    assert_eq!(publishers, want);

    // Firestore for every function; BigQuery and the data bucket only for gcp
    let roles = keys(&l["project_roles"]);
    for f in push.iter().chain(std::iter::once(&"api".to_string())) {
        assert!(roles.contains(&format!("{f}/datastore.user")), "{f} lacks datastore.user");
    }
    assert_eq!(
        roles.iter().filter(|r| r.ends_with("bigquery.jobUser")).collect::<Vec<_>>(),
        ["worker-gcp/bigquery.jobUser"]
    );
    assert_eq!(keys(&l["dataset_editors"]), BTreeSet::from(["worker-gcp/baton".to_string()]));
    assert_eq!(l["gcp_workers"], json!(["worker-gcp"]));
    assert_eq!(l["internal_bucket_roles"]["scheduler"], json!("roles/storage.objectViewer"));

    // secrets reach the executor and the workers, not the scheduler; the API
    // only the webhook keys (webhook_key_secrets)
    let grants = keys(&l["secret_grants"]);
    let mut want = BTreeSet::new();
    for f in std::iter::once("executor".to_string()).chain(workers.iter().cloned()) {
        for s in ["GCP_CREDS", "PG_PASSWORD", "HOOK_KEY"] {
            want.insert(format!("{f}/{s}"));
        }
    }
    want.insert("api/HOOK_KEY".to_string());
    assert_eq!(grants, want);

    // execution files expire under exactly the deployed flows' prefixes
    let mut prefixes: Vec<String> = baton_flows(&flows)
        .iter()
        .map(|(_, f)| format!("{}/{}/executions/", f.namespace.replace('.', "/"), shared::model::ids::slugify(&f.id)))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    assert_eq!(l["execution_prefixes"], json!(prefixes));
}

/// The variables' validations run too: a bad worker group name is refused.
#[test]
fn root_variable_validations_refuse_bad_values() {
    let err = evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", r#"worker_groups=["Bad_Group"]"#])
        .expect_err("an invalid worker group must be refused");
    assert!(err.contains("A worker group is 1-13 lower-case letters"), "{err}");
    let err = evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", "max_delivery_attempts=3"])
        .expect_err("3 delivery attempts must be refused");
    assert!(err.contains("Pub/Sub allows 5 to 100 delivery attempts"), "{err}");
    for lease in ["5", "60.5", "7200"] {
        let err =
            evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", &format!("lease_seconds={lease}")])
                .expect_err("a lease out of range must be refused");
        assert!(err.contains("lease_seconds must be a whole number of seconds from 10"), "{lease}: {err}");
    }
    // the seal keys are pinned versions: `latest` would move under a rotation
    for (var, says) in [
        ("seal_key_version=latest", "seal_key_version must be the number"),
        ("seal_key_previous_version=0", "seal_key_previous_version must be the number"),
    ] {
        let err = evaluate_root_locals(&["project_id=demo-project", "image_tag=abc1234", var])
            .expect_err("a seal key version that is not a version number must be refused");
        assert!(err.contains(says), "{var}: {err}");
    }
    evaluate_root_locals(&[
        "project_id=demo-project",
        "image_tag=abc1234",
        "seal_key_version=3",
        "seal_key_previous_version=1",
    ])
    .unwrap_or_else(|e| panic!("a rotated key's versions are refused:\n{e}"));
}

// ---------------------------------------------------------------------------
// Firestore: the indexes the store's queries need
// ---------------------------------------------------------------------------

#[test]
fn firestore_indexes_and_ttl_match_the_store() {
    let path = repo().join("terraform/firestore.tf");
    let parsed = hcl_json(std::slice::from_ref(&path));
    let file = parsed.values().next().expect("firestore.tf");
    let indexes = file["locals"]
        .as_array()
        .and_then(|l| l.iter().find_map(|b| b.get("firestore_indexes")))
        .and_then(Value::as_object)
        .expect("local.firestore_indexes");
    let declared: BTreeSet<(String, Vec<(String, String)>)> = indexes
        .values()
        .map(|ix| {
            let fields = ix["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| (f[0].as_str().expect("field").to_string(), f[1].as_str().expect("order").to_string()))
                .collect();
            (ix["collection"].as_str().expect("collection").to_string(), fields)
        })
        .collect();
    for (collection, fields) in shared::backend::gcp::REQUIRED_INDEXES {
        let want = (collection.to_string(), fields.iter().map(|(f, o)| (f.to_string(), o.to_string())).collect());
        assert!(declared.contains(&want), "firestore.tf lacks the index {want:?} the store's queries need");
    }
    // the resource creates exactly those
    let resources = file["resource"].as_array().expect("resources");
    let index = resources.iter().find_map(|r| r.get("google_firestore_index")).expect("google_firestore_index");
    assert_eq!(index["index"]["for_each"], json!("${local.firestore_indexes}"));
    // the collection-group single-field indexes (the purge of logs)
    let fields: Vec<&Value> = resources
        .iter()
        .filter_map(|r| r.get("google_firestore_field"))
        .flat_map(|f| f.as_object().into_iter().flat_map(|m| m.values()))
        .collect();
    for (collection, field) in shared::backend::gcp::COLLECTION_GROUP_FIELDS {
        let found = fields.iter().any(|f| {
            let f = f.as_array().and_then(|a| a.first()).unwrap_or(f);
            f["collection"] == json!(collection)
                && f["field"] == json!(field)
                && f.to_string().contains("COLLECTION_GROUP")
        });
        assert!(found, "firestore.tf lacks the collection-group index on {collection}.{field}");
    }

    // KV's TTL policy is on the store's KV collection group
    assert_eq!(variable_default("firestore_kv_collection"), json!(shared::backend::gcp::KEYS));
    assert_eq!(variable_default("firestore_kv_ttl_field"), json!("expires"));
}

// ---------------------------------------------------------------------------
// cloudbuild.yaml and the Dockerfile
// ---------------------------------------------------------------------------

struct Stage {
    name: String,
    from: String,
    lines: Vec<String>,
}

/// The Dockerfile's stages, with their `FROM` image (or parent stage).
fn dockerfile_stages() -> Vec<Stage> {
    let src = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let mut stages: Vec<Stage> = Vec::new();
    let mut joined = String::new();
    for raw in src.lines() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(l) = line.strip_suffix('\\') {
            joined.push_str(l);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        let full = std::mem::take(&mut joined);
        let words: Vec<&str> = full.split_whitespace().collect();
        if words.first().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            let name = match words.as_slice() {
                [_, _, kw, name, ..] if kw.eq_ignore_ascii_case("AS") => name.to_string(),
                _ => format!("#{}", stages.len()),
            };
            stages.push(Stage { name, from: words.get(1).copied().unwrap_or_default().to_string(), lines: Vec::new() });
        } else if let Some(s) = stages.last_mut() {
            s.lines.push(full);
        }
    }
    stages
}

/// Every instruction a target runs, its parents' first.
fn stage_chain<'a>(stages: &'a [Stage], name: &str) -> Vec<&'a Stage> {
    let mut chain = Vec::new();
    let mut cur = stages.iter().find(|s| s.name == name);
    while let Some(s) = cur {
        chain.push(s);
        cur = stages.iter().find(|p| p.name == s.from);
    }
    chain.reverse();
    chain
}

#[test]
fn cloudbuild_builds_pushes_and_deploys_every_function_image() {
    let src = std::fs::read_to_string(repo().join("cloudbuild.yaml")).expect("cloudbuild.yaml");
    let (doc, _) = shared::yaml::parse(&src).expect("cloudbuild.yaml is YAML");
    let steps = doc["steps"].as_array().expect("steps");
    let substitutions = doc["substitutions"].as_object().expect("substitutions");
    let step = |id: &str| steps.iter().find(|s| s["id"] == json!(id)).unwrap_or_else(|| panic!("no step {id}"));
    let args = |s: &Value| -> Vec<String> {
        s["args"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };

    // every user substitution used is declared with a default, and every declared one is used
    let mut used = BTreeSet::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find("${_") {
        let tail = &rest[i + 2..];
        let end = tail.find('}').expect("closing brace");
        used.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    let declared: BTreeSet<String> = substitutions.keys().cloned().collect();
    assert_eq!(used, declared, "substitutions used vs declared");

    // the test suite gates the images
    let test = step("test");
    assert!(args(test).join(" ").contains("bash scripts/test.sh"), "the test step runs scripts/test.sh");

    // one image per function, from a Dockerfile target of the same name
    let worker_groups: Vec<String> = variable_default("worker_groups")
        .as_array()
        .expect("worker_groups default")
        .iter()
        .map(|g| g.as_str().expect("group").to_string())
        .collect();
    let mut wanted: BTreeSet<String> = ["executor", "scheduler", "api"].iter().map(|s| s.to_string()).collect();
    wanted.extend(worker_groups.iter().map(|g| format!("worker-{g}")));
    let stages = dockerfile_stages();
    let registry = "${_REGION}-docker.pkg.dev/$PROJECT_ID/${_REPO}/";
    let mut built = BTreeSet::new();
    for s in steps {
        let a = args(s);
        if a.first().map(String::as_str) != Some("build") {
            continue;
        }
        let target = a.iter().skip_while(|x| *x != "--target").nth(1).expect("docker build --target").clone();
        assert!(
            stages.iter().any(|st| st.name == target),
            "cloudbuild builds target '{target}', which the Dockerfile does not define"
        );
        let tag = a.iter().skip_while(|x| *x != "--tag").nth(1).expect("--tag").clone();
        if target == "build" {
            continue;
        }
        assert_eq!(tag, format!("{registry}{target}:$SHORT_SHA"), "image of target {target}");
        assert!(s["waitFor"].as_array().is_some_and(|w| w.contains(&json!("build"))), "{target} waits for the build");
        built.insert(target);
    }
    assert_eq!(built, wanted, "images built vs the functions terraform deploys");

    // pushed before the deploy, and listed as the build's images
    let push = step("push");
    let push_script = args(push).join(" ");
    for image in &wanted {
        assert!(push_script.contains(image.as_str()), "push step misses {image}");
        assert!(
            push["waitFor"].as_array().is_some_and(|w| w.contains(&json!(format!("image-{image}")))),
            "push waits for image-{image}"
        );
    }
    let images: BTreeSet<String> =
        doc["images"].as_array().expect("images").iter().map(|i| i.as_str().expect("image").to_string()).collect();
    let expected_images: BTreeSet<String> = wanted.iter().map(|t| format!("{registry}{t}:$SHORT_SHA")).collect();
    assert_eq!(images, expected_images);

    // the deploy is terraform apply with this build's tag, after the push
    let deploy = step("deploy");
    assert_eq!(deploy["waitFor"], json!(["push"]));
    assert_eq!(deploy["dir"], json!("terraform"));
    let script = args(deploy).join(" ");
    assert!(script.contains("terraform apply") && script.contains("-var=\"image_tag=$SHORT_SHA\""), "{script}");
    assert!(script.contains("-backend-config=\"bucket=${_TF_STATE_BUCKET}\""), "{script}");
}

#[test]
fn function_images_are_small_and_run_as_non_root() {
    let stages = dockerfile_stages();
    for target in
        ["executor", "scheduler", "api", "worker-core", "worker-scripts", "worker-jdbc", "worker-gcp", "worker-dbt"]
    {
        let chain = stage_chain(&stages, target);
        assert!(!chain.is_empty(), "no Dockerfile target {target}");
        let base = &chain[0].from;
        assert!(
            base.contains("distroless") || base.contains("RUNTIME_IMAGE") || base.contains("-slim"),
            "{target} is based on {base}, not a small image"
        );
        let user = chain
            .iter()
            .rev()
            .flat_map(|s| s.lines.iter().rev())
            .find_map(|l| l.strip_prefix("USER "))
            .unwrap_or_else(|| panic!("{target} sets no USER"));
        let user = user.trim();
        assert!(!user.starts_with("root") && !user.starts_with("0"), "{target} runs as {user}");
        let lines: Vec<&String> = chain.iter().flat_map(|s| s.lines.iter()).collect();
        assert!(lines.iter().any(|l| l.starts_with("ENTRYPOINT")), "{target} has no ENTRYPOINT");
        if let Some(group) = target.strip_prefix("worker-") {
            assert!(
                lines.iter().any(|l| l.contains(&format!("BATON_WORKER_GROUP={group}"))),
                "{target} does not set BATON_WORKER_GROUP={group}"
            );
        }
    }
    let arg_default = |name: &str| -> String {
        let src = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
        src.lines()
            .find_map(|l| l.strip_prefix(&format!("ARG {name}=")).map(str::to_string))
            .unwrap_or_else(|| panic!("ARG {name} has no default"))
    };
    assert!(arg_default("RUNTIME_IMAGE").contains("distroless"), "the runtime base is distroless");

    // every `cargo build -p functions --bin X` names a binary of the functions crate
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let manifest = std::fs::read_to_string(repo().join("functions/Cargo.toml")).expect("functions/Cargo.toml");
    assert!(manifest.contains("name = \"functions\""), "the Dockerfile builds package `functions`");
    let words: Vec<&str> = dockerfile.split_whitespace().collect();
    let bins: BTreeSet<&str> = words.windows(2).filter(|w| w[0] == "--bin").map(|w| w[1]).collect();
    assert_eq!(bins, BTreeSet::from(["api", "executor", "scheduler", "worker"]));
    for bin in bins {
        let dir = repo().join("functions/src/bin");
        assert!(
            dir.join(bin).join("main.rs").exists() || dir.join(format!("{bin}.rs")).exists(),
            "the Dockerfile builds --bin {bin}, which functions/ does not have"
        );
    }

    // what the special workers need
    let scripts: String = stage_chain(&stages, "worker-scripts").iter().flat_map(|s| s.lines.clone()).collect();
    for tool in ["bash", "wget", "python3", "gzip"] {
        assert!(scripts.contains(tool), "worker-scripts lacks {tool}");
    }
    let jdbc: String = stage_chain(&stages, "worker-jdbc").iter().flat_map(|s| s.lines.clone()).collect();
    assert!(jdbc.contains("libduckdb.so"), "worker-jdbc lacks libduckdb");
    assert!(jdbc.contains("build-duckdb"), "worker-jdbc's worker is not the DuckDB build");
}
