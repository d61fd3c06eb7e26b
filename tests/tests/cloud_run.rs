//! Docker-runner script tasks on the GCP functions as Cloud Run Job
//! executions (issue 13, item 2): the functions harness (`Cluster`) with
//! Cloud Run configured, against the Jobs API fake (checked against
//! Google's `run.v2` discovery document), whose executions really run the
//! container's command with the internal storage folder as the bucket.
//! The worker acks once the execution started; the `scheduler` function's
//! sweep reports the result.

use std::time::Duration;

use e2e::cloud_run_fake::FakeCloudRun;
use e2e::functions::{Cluster, ClusterOptions, push, wait_for};
use serde_json::{Value, json};
use shared::backend::{Storage, Topic};
use shared::functions::relay::RelayOptions;
use shared::model::StateType;
use shared::plugins::scripts::CloudRunConfig;
use tokio::io::AsyncReadExt;

const IMAGE: &str = "localhost/baton-busybox:1";

/// podman with the busybox test image, or a panic saying how to get it.
fn podman() -> String {
    let ok = std::process::Command::new("podman").args(["image", "exists", IMAGE]).status().is_ok_and(|s| s.success());
    assert!(ok, "podman with {IMAGE} is needed: run `source scripts/setup/podman.sh`");
    "podman".into()
}

fn flow(id: &str, task: &str) -> (String, String) {
    let yaml = format!(
        "id: {id}\nnamespace: test.cloudrun\ninputs:\n  - id: text\n    type: STRING\n    defaults: hello file\ntasks:\n{task}"
    );
    (format!("{id}.yaml"), yaml)
}

async fn start(flows: Vec<(String, String)>, relay: RelayOptions) -> (Cluster, FakeCloudRun) {
    start_with(flows, relay, Default::default()).await
}

async fn start_with(
    flows: Vec<(String, String)>,
    relay: RelayOptions,
    secrets: shared::runtime::secrets::Secrets,
) -> (Cluster, FakeCloudRun) {
    let fake = FakeCloudRun::start().await;
    let mut plugins = shared::plugins::PluginConfig::default();
    plugins.scripts.cloud_run = Some(CloudRunConfig {
        project: "p".into(),
        region: "europe-west1".into(),
        bucket: "p-baton-internal".into(),
        mount_path: "/mnt/baton".into(),
        service_account: Some("baton-tasks@p.iam.gserviceaccount.com".into()),
        endpoint: Some(fake.endpoint()),
        iam_endpoint: String::new(),
    });
    let cluster = Cluster::start(ClusterOptions { flows, plugins, relay, secrets, ..ClusterOptions::default() }).await;
    cluster.relay.route(&Topic::Tasks("scripts".into()).name(), &cluster.worker.url);
    fake.set_bucket_root(cluster.backends.storage.root());
    (cluster, fake)
}

/// Sweeps (as Cloud Scheduler would, through the scheduler function) until
/// execution `id` ends.
async fn sweep_until_done(cluster: &Cluster, id: &str) -> shared::model::Execution {
    wait_for(Duration::from_secs(60), "the execution to end through the sweep", || async {
        let status = push(&cluster.http, &cluster.scheduler.url, br#"{"type":"sweep"}"#, None).await;
        assert!(status < 300, "sweep answered {status}");
        let exec = cluster.execution(id).await;
        if exec.state.is_terminal() {
            return Some(exec);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        None
    })
    .await
}

/// Waits until the fake has started `n` executions.
async fn wait_runs(fake: &FakeCloudRun, n: usize) {
    wait_for(Duration::from_secs(30), "the Cloud Run execution to start", || async {
        (fake.runs() >= n).then_some(())
    })
    .await;
}

async fn read(cluster: &Cluster, uri: &str) -> String {
    let path = uri.strip_prefix("kestra://").expect("a kestra URI");
    let mut s = String::new();
    cluster.backends.storage.get(path).await.expect("stored file").read_to_string(&mut s).await.expect("read");
    s
}

/// The attempt's working folder once the worker has cleared it: the
/// folder is cleared after the result is reported (so a worker dying
/// between the two leaves files, never a result unreported), so the
/// execution may be seen ended a moment before; waits until only `kept`
/// stays and returns what the folder holds.
async fn cleared_folder(cluster: &Cluster, work: &str, kept: &str) -> Vec<String> {
    wait_for(Duration::from_secs(10), "the working folder to keep the output files only", || async {
        let files = cluster.backends.storage.list(work).await.expect("list");
        (files == [kept]).then_some(files)
    })
    .await
}

fn outputs(exec: &shared::model::Execution, task: &str) -> Value {
    let tr = exec.task_run_list.iter().find(|t| t.task_id == task).expect("task run");
    Value::Object(tr.outputs.as_deref().cloned().unwrap_or_default())
}

#[tokio::test]
async fn a_docker_task_runs_as_a_cloud_run_job_with_files_and_outputs() {
    let task = format!(
        r#"  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: {IMAGE}
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      cpu: {{cpus: 1.5}}
      memory: {{memory: 512MB}}
    inputFiles:
      data.txt: "{{{{ inputs.text }}}}"
    outputFiles: [out.txt]
    commands:
      - cat data.txt > out.txt
      - echo "dir {{{{ workingDir }}}}"
      - echo '::{{"outputs":{{"n":42}}}}::'
      - echo "said hello"
"#
    );
    let (cluster, fake) = start(vec![flow("ok", &task)], RelayOptions::default()).await;
    // this one in the image itself, on the local engine (podman.sh builds it)
    fake.use_engine(&podman());
    let id = cluster.launch("test.cloudrun", "ok", json!({})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Success, "{:?}", cluster.logs(&id).await);
    let out = outputs(&exec, "sh");
    assert_eq!(out["vars"]["n"], 42, "{out}");
    assert_eq!(out["exitCode"], 0);
    let uri = out["outputFiles"]["out.txt"].as_str().expect("out.txt output file");
    assert_eq!(read(&cluster, uri).await, "hello file");
    let logs = cluster.logs(&id).await;
    assert!(logs.iter().any(|l| l == "said hello"), "{logs:?}");
    // workingDir is the container's path, in the bucket's mount
    assert!(logs.iter().any(|l| l.starts_with("dir /mnt/baton/test/cloudrun/ok/executions/")), "{logs:?}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    assert_eq!(fake.runs(), 1);
    let calls: Vec<String> = fake.requests().iter().map(|(m, p)| format!("{m} {p}")).collect();
    assert!(calls[0].starts_with("GET /v2/projects/p/locations/europe-west1/jobs/baton-"), "{calls:?}");
    assert!(calls[1].starts_with("POST /v2/projects/p/locations/europe-west1/jobs"), "{calls:?}");
    assert!(calls[2].ends_with(":run"), "{calls:?}");
    assert!(calls[3..].iter().all(|c| c.starts_with("GET ") && c.contains("/executions/")), "{calls:?}");
}

#[tokio::test]
async fn a_failing_container_fails_the_task_with_its_stderr() {
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    commands:\n      - echo oops >&2\n      - exit 3\n"
    );
    let (cluster, fake) = start(vec![flow("bad", &task)], RelayOptions::default()).await;
    let id = cluster.launch("test.cloudrun", "bad", json!({})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Failed);
    let err = exec.task_run_list[0].attempts[0].clone();
    let logs = cluster.logs(&id).await.join("\n");
    assert!(logs.contains("exit code 3") && logs.contains("oops") && logs.contains(IMAGE), "{logs} {err:?}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_killed_task_cancels_its_cloud_run_execution() {
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    commands:\n      - sleep 30\n"
    );
    let (cluster, fake) = start(vec![flow("long", &task)], RelayOptions::default()).await;
    let bin = podman();
    fake.use_engine(&bin);
    let id = cluster.launch("test.cloudrun", "long", json!({})).await;
    wait_runs(&fake, 1).await;
    let name = fake.executions().keys().next().cloned().expect("an execution");
    let container = fake.container_of(&name).expect("its container");
    let listed = |c: String| {
        let bin = bin.clone();
        async move {
            let out = tokio::process::Command::new(&bin)
                .args(["ps", "-a", "--format", "{{.Names}}", "--filter", &format!("name={c}")])
                .output()
                .await
                .expect("podman ps");
            String::from_utf8_lossy(&out.stdout).lines().any(|l| l == c)
        }
    };
    wait_for(Duration::from_secs(20), "the container to start", || {
        let c = container.clone();
        let listed = &listed;
        async move { listed(c).await.then_some(()) }
    })
    .await;
    let url = format!("{}api/v1/executions/{id}/kill", cluster.api.url);
    let status = cluster.http.delete(&url).send().await.expect("kill").status();
    assert!(status.is_success(), "kill answered {status}");
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Killed);
    let cancelled = wait_for(Duration::from_secs(60), "the execution to be cancelled", || async {
        let status = push(&cluster.http, &cluster.scheduler.url, br#"{"type":"sweep"}"#, None).await;
        assert!(status < 300);
        fake.executions().values().find(|e| e["cancelledCount"] == 1).cloned()
    })
    .await;
    assert_eq!(cancelled["runningCount"], 0);
    // and no container outlives its task
    assert!(!listed(container.clone()).await, "container {container} still exists");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_duplicate_job_starts_no_second_execution() {
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    commands:\n      - echo once\n"
    );
    let relay = RelayOptions { duplicate: true, ..RelayOptions::default() };
    let (cluster, fake) = start(vec![flow("dup", &task)], relay).await;
    let id = cluster.launch("test.cloudrun", "dup", json!({})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Success);
    // the duplicates of the job (and of every other message) come and go
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.runs(), 1, "{:?}", fake.requests());
    assert_eq!(exec.task_run_list[0].attempts.len(), 1);
}

#[tokio::test]
async fn a_task_outliving_its_push_request_completes_through_the_sweep() {
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    commands:\n      - sleep 1\n      - echo late\n"
    );
    let (cluster, fake) = start(vec![flow("slow", &task)], RelayOptions::default()).await;
    let id = cluster.launch("test.cloudrun", "slow", json!({})).await;
    wait_runs(&fake, 1).await;
    // the job was acked when the execution started; the container ends
    // after 1 s, and nobody reports it until a sweep looks
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let exec = cluster.execution(&id).await;
    assert_eq!(exec.state.current, StateType::Running);
    assert!(fake.executions().values().all(|e| e["succeededCount"] == 1), "{:?}", fake.executions());
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Success);
    assert!(cluster.logs(&id).await.iter().any(|l| l == "late"));
}

#[tokio::test]
async fn a_task_past_its_timeout_is_cancelled_and_fails() {
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    timeout: PT1S\n    containerImage: {IMAGE}\n    commands:\n      - sleep 30\n"
    );
    let (cluster, fake) = start(vec![flow("timeout", &task)], RelayOptions::default()).await;
    let id = cluster.launch("test.cloudrun", "timeout", json!({})).await;
    wait_runs(&fake, 1).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Failed);
    let logs = cluster.logs(&id).await.join("\n");
    assert!(logs.contains("Timeout after PT1S"), "{logs}");
    assert!(fake.executions().values().all(|e| e["cancelledCount"] == 1), "{:?}", fake.executions());
}

#[tokio::test]
async fn the_cloud_run_runner_is_refused_off_gcp() {
    // Kestra's own CloudRun runner type is accepted; without the GCP
    // runtime's Cloud Run settings the task fails saying so
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    taskRunner:\n      type: io.kestra.plugin.ee.gcp.runner.CloudRun\n      projectId: p\n      region: europe-west1\n    commands:\n      - echo hi\n"
    );
    let cluster = Cluster::start(ClusterOptions { flows: vec![flow("ee", &task)], ..ClusterOptions::default() }).await;
    cluster.relay.route(&Topic::Tasks("scripts".into()).name(), &cluster.worker.url);
    let id = cluster.launch("test.cloudrun", "ee", json!({})).await;
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Failed);
    let logs = cluster.logs(&id).await.join("\n");
    assert!(logs.contains("runs only on Baton's GCP runtime"), "{logs}");
}

#[tokio::test]
async fn the_fake_refuses_what_run_v2_does_not_define() {
    let fake = FakeCloudRun::start().await;
    let http = reqwest::Client::new();
    let base = format!("{}/v2/projects/p/locations/r", fake.endpoint());
    let bad_field = json!({"template": {"template": {"containers": [{"image": "x", "commandz": ["sh"]}]}}});
    let r = http.post(format!("{base}/jobs?jobId=j")).json(&bad_field).send().await.expect("create");
    assert_eq!(r.status(), 400);
    let r = http.get(format!("{base}/jobs/j/things")).send().await.expect("get");
    assert!(!r.status().is_success());
    let r = http.post(format!("{base}/jobs/j:launch")).json(&json!({})).send().await.expect("launch");
    assert_eq!(r.status(), 400);
    let v = fake.violations();
    assert!(v.iter().any(|e| e.contains("commandz")), "{v:?}");
    assert!(v.iter().any(|e| e.contains(":launch is no method of run.v2")), "{v:?}");
}

#[tokio::test]
async fn a_known_shape_costs_one_call_to_start_a_task() {
    let one = |id: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    commands:\n      - echo {id}\n"
        )
    };
    let tasks = format!("{}{}", one("first"), one("second"));
    let (cluster, fake) = start(vec![flow("two", &tasks)], RelayOptions::default()).await;
    let id = cluster.launch("test.cloudrun", "two", json!({})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Success);
    let calls = fake.requests();
    let count = |f: &dyn Fn(&str, &str) -> bool| calls.iter().filter(|(m, p)| f(m, p)).count();
    assert_eq!(count(&|m, p| m == "GET" && !p.contains("/executions/")), 1, "{calls:?}");
    assert_eq!(count(&|m, p| m == "POST" && p.ends_with("/jobs")), 1, "{calls:?}");
    assert_eq!(fake.runs(), 2, "{calls:?}");
}

#[tokio::test]
async fn kestras_cloud_run_runner_runs_as_a_job_on_gcp() {
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    taskRunner:\n      type: io.kestra.plugin.ee.gcp.runner.CloudRun\n      projectId: other-project\n      region: us-central1\n      serviceAccount: runner@other-project.iam.gserviceaccount.com\n      waitUntilCompletion: true\n    commands:\n      - echo ee\n"
    );
    let (cluster, fake) = start(vec![flow("ee", &task)], RelayOptions::default()).await;
    let id = cluster.launch("test.cloudrun", "ee", json!({})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Success, "{:?}", cluster.logs(&id).await);
    let logs = cluster.logs(&id).await;
    assert!(logs.iter().any(|l| l == "ee"), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("waitUntilCompletion")), "ignored properties are named: {logs:?}");
    let calls = fake.requests();
    assert!(calls.iter().all(|(_, p)| p.starts_with("/v2/projects/other-project/locations/us-central1/")), "{calls:?}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_missing_image_or_a_quota_error_fails_the_task_naming_the_image() {
    let task = |id: &str, image: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {image}\n    commands:\n      - echo hi\n"
        )
    };
    let (cluster, fake) = start(
        vec![flow("missing", &task("sh", "localhost/missing:1")), flow("quota", &task("sh", IMAGE))],
        RelayOptions::default(),
    )
    .await;
    let id = cluster.launch("test.cloudrun", "missing", json!({})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Failed);
    let logs = cluster.logs(&id).await.join("\n");
    assert!(logs.contains("image 'localhost/missing:1'") && logs.contains("not found"), "{logs}");

    fake.fail_next(":run", 429, "Quota exceeded for quota metric 'Job runs' of service 'run.googleapis.com'");
    let id = cluster.launch("test.cloudrun", "quota", json!({})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Failed);
    let logs = cluster.logs(&id).await.join("\n");
    assert!(
        logs.contains(&format!("image '{IMAGE}'")) && logs.contains("HTTP 429") && logs.contains("Quota exceeded"),
        "{logs}"
    );
    assert_eq!(fake.executions().len(), 0, "nothing left running");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

/// A cluster with secret `name` set to `value`, running `task` as flow
/// `id`, launched and swept until it ends SUCCESS.
async fn run_with_secret(id: &str, name: &str, value: &str, task: &str) -> (Cluster, shared::model::Execution) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    let secrets = shared::runtime::secrets::Secrets::from_vars([(format!("SECRET_{name}"), encoded)]);
    let (cluster, _fake) = start_with(vec![flow(id, task)], RelayOptions::default(), secrets).await;
    let exec_id = cluster.launch("test.cloudrun", id, json!({})).await;
    let exec = sweep_until_done(&cluster, &exec_id).await;
    assert_eq!(exec.state.current, StateType::Success, "{:?}", cluster.logs(&exec_id).await);
    (cluster, exec)
}

#[tokio::test]
async fn what_a_cloud_run_task_sends_back_is_masked() {
    let value = "s3cr3t-t0ken-value";
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    env:\n      TOKEN: \"{{{{ secret('API_TOKEN') }}}}\"\n    outputFiles:\n      - out.txt\n    commands:\n      - echo \"token $TOKEN\"\n      - echo '::{{\"outputs\":{{\"t\":\"'$TOKEN'\"}}}}::'\n      - echo \"file=$TOKEN plain\" > out.txt\n      - echo \"kept=$TOKEN\" > not-an-output.txt\n"
    );
    let (cluster, exec) = run_with_secret("secret", "API_TOKEN", value, &task).await;
    let logs = cluster.logs(&exec.id).await;
    assert!(logs.iter().any(|l| l == "token ******"), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(value)), "{logs:?}");
    assert_eq!(outputs(&exec, "sh")["vars"]["t"], "******");
    // the output file, as a local task's; the working folder keeps only it
    // (stdout, stderr, the exit code and the other files are gone, as a
    // local task's working directory is)
    let uri = outputs(&exec, "sh")["outputFiles"]["out.txt"].as_str().expect("out.txt").to_string();
    assert_eq!(read(&cluster, &uri).await, "file=****** plain\n");
    let work = uri.trim_start_matches("kestra://").trim_end_matches("out.txt").to_string();
    let files = cleared_folder(&cluster, &work, uri.trim_start_matches("kestra://")).await;
    for f in files {
        let text = read(&cluster, &format!("kestra://{f}")).await;
        assert!(!text.contains(value), "the secret in clear in {f}: {text}");
    }
}

/// A Script task's rendered script (a secret rendered into it) and its
/// input files do not stay in internal storage once the task has ended.
#[tokio::test]
async fn a_cloud_run_tasks_rendered_script_and_inputs_do_not_stay_in_storage() {
    let value = "scr1pt-s3cret-value";
    let task = format!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Script\n    containerImage: {IMAGE}\n    inputFiles:\n      conf.txt: \"pw={{{{ secret('DB_PASSWORD') }}}}\"\n    outputFiles:\n      - result.txt\n    script: |\n      PW=\"{{{{ secret('DB_PASSWORD') }}}}\"\n      wc -c < conf.txt > result.txt\n      echo done\n"
    );
    let (cluster, exec) = run_with_secret("script", "DB_PASSWORD", value, &task).await;
    let uri = outputs(&exec, "sh")["outputFiles"]["result.txt"].as_str().expect("result.txt").to_string();
    assert_eq!(read(&cluster, &uri).await.trim(), (3 + value.len()).to_string());
    let work = uri.trim_start_matches("kestra://").trim_end_matches("result.txt").to_string();
    cleared_folder(&cluster, &work, uri.trim_start_matches("kestra://")).await;
    // nothing of the execution's files holds the secret
    let all = cluster.backends.storage.list("/test/cloudrun/script/").await.expect("list");
    for f in all {
        let text = read(&cluster, &format!("kestra://{f}")).await;
        assert!(!text.contains(value), "the secret in clear in {f}: {text}");
    }
}

#[tokio::test]
async fn a_secret_input_is_masked_in_what_a_cloud_run_task_sends_back() {
    let value = "input-s3cr3t-value";
    let yaml = format!(
        "id: secretin\nnamespace: test.cloudrun\ninputs:\n  - id: pw\n    type: SECRET\ntasks:\n  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: {IMAGE}\n    env:\n      PW: \"{{{{ inputs.pw }}}}\"\n    commands:\n      - echo \"pw $PW\"\n      - echo '::{{\"outputs\":{{\"p\":\"'$PW'\"}}}}::'\n"
    );
    let (cluster, _fake) = start(vec![("secretin.yaml".to_string(), yaml)], RelayOptions::default()).await;
    let id = cluster.launch("test.cloudrun", "secretin", json!({"pw": value})).await;
    let exec = sweep_until_done(&cluster, &id).await;
    assert_eq!(exec.state.current, StateType::Success, "{:?}", cluster.logs(&id).await);
    let logs = cluster.logs(&id).await;
    assert!(logs.iter().any(|l| l == "pw ******"), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(value)), "{logs:?}");
    assert_eq!(outputs(&exec, "sh")["vars"]["p"], "******");
}
