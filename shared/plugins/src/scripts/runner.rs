//! Which task runner a script task uses: `taskRunner: {type: …}` (Kestra's
//! `core.runner.Process` or `scripts.runner.docker.Docker`, the default),
//! or the legacy `runner: PROCESS | DOCKER` with `docker: {image, …}`.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::TaskError;
use crate::de::value_to_string;

// The runner type names (declared in `super::runner_types`).

/// Kestra's process task runner.
pub const PROCESS: &str = "io.kestra.plugin.core.runner.Process";
/// Kestra's Docker task runner.
pub const DOCKER: &str = "io.kestra.plugin.scripts.runner.docker.Docker";
/// Kestra's (Enterprise) Cloud Run task runner: a container task as a
/// Cloud Run Job execution, on Baton's GCP runtime only.
pub const CLOUD_RUN: &str = "io.kestra.plugin.ee.gcp.runner.CloudRun";

/// Kestra's `pullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum PullPolicy {
    #[default]
    IfNotPresent,
    Always,
    Never,
}

/// Registry credentials (Kestra's `credentials`).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Credentials {
    pub registry: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub registry_token: Option<String>,
    pub identity_token: Option<String>,
    /// `base64(username:password)`, as in a Docker `config.json`.
    pub auth: Option<String>,
}

/// The Docker runner's options that Baton honours.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DockerOptions {
    pub pull_policy: PullPolicy,
    /// Remove the container when it ends (Kestra's `delete`, default true).
    pub delete: bool,
    pub network_mode: Option<String>,
    pub user: Option<String>,
    /// `cpu.cpus`, validated as a positive number.
    pub cpus: Option<String>,
    /// `memory.memory` in bytes (Kestra's readable sizes: `512MB`, `1Gb`).
    pub memory: Option<u64>,
    /// `memory.memorySwap` in bytes (`-1`: unlimited).
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<u64>,
    pub memory_swappiness: Option<u64>,
    pub oom_kill_disable: bool,
    pub shm_size: Option<u64>,
    pub privileged: bool,
    pub port_bindings: Vec<String>,
    /// Host paths mounted into the container: refused unless the operator
    /// enabled volumes (Kestra's `volume-enabled` plugin configuration).
    pub volumes: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub entry_point: Vec<String>,
    /// The legacy `docker.image`.
    pub image: Option<String>,
    /// `killGracePeriod`: stop (SIGTERM, then SIGKILL after this long)
    /// rather than kill at once when the task is killed or times out.
    pub kill_grace_period: Option<Duration>,
    pub credentials: Option<Credentials>,
    /// Kestra's `wait` (default true): false starts the container detached
    /// and ends the task at once; the container is left running (and is not
    /// removed), as Kestra's runner leaves it.
    pub wait: bool,
    /// Kestra properties given but not honoured (logged as a warning).
    pub ignored: Vec<&'static str>,
    /// Set for `io.kestra.plugin.ee.gcp.runner.CloudRun`: the task must run
    /// as a Cloud Run Job (see `cloudrun_runner`).
    pub cloud_run: Option<super::cloudrun_runner::CloudRunOptions>,
}

impl Default for DockerOptions {
    fn default() -> Self {
        DockerOptions {
            pull_policy: PullPolicy::IfNotPresent,
            delete: true,
            network_mode: None,
            user: None,
            cpus: None,
            memory: None,
            memory_swap: None,
            memory_reservation: None,
            memory_swappiness: None,
            oom_kill_disable: false,
            shm_size: None,
            privileged: false,
            port_bindings: Vec::new(),
            volumes: Vec::new(),
            extra_hosts: Vec::new(),
            entry_point: Vec::new(),
            image: None,
            kill_grace_period: None,
            credentials: None,
            wait: true,
            ignored: Vec::new(),
            cloud_run: None,
        }
    }
}

/// The runner a task asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Runner {
    Process,
    Docker(Box<DockerOptions>),
}

/// Resolves the runner from `taskRunner`, else the legacy `runner`/`docker`.
pub(crate) fn resolve(
    task_runner: Option<&Value>,
    legacy_runner: Option<&str>,
    legacy_docker: Option<&Value>,
) -> Result<Runner, TaskError> {
    if let Some(tr) = task_runner.filter(|v| !v.is_null()) {
        let Value::Object(m) = tr else {
            return Err(TaskError::property("taskRunner", format!("expected a map with a 'type', found {tr}")));
        };
        let kind = m.get("type").map(value_to_string).unwrap_or_default();
        return match kind.as_str() {
            PROCESS => Ok(Runner::Process),
            DOCKER => docker_options("taskRunner", m).map(|o| Runner::Docker(Box::new(o))),
            CLOUD_RUN => Ok(Runner::Docker(Box::new(DockerOptions {
                cloud_run: Some(super::cloudrun_runner::CloudRunOptions::parse(m)?),
                ..DockerOptions::default()
            }))),
            "" => Err(TaskError::property("taskRunner", "'type' is required")),
            other => Err(TaskError::property(
                "taskRunner",
                format!("task runner '{other}' is not supported; use '{PROCESS}', '{DOCKER}' or '{CLOUD_RUN}'"),
            )),
        };
    }
    let docker = match legacy_docker {
        Some(Value::Object(m)) => docker_options("docker", m)?,
        Some(Value::Null) | None => DockerOptions::default(),
        Some(other) => return Err(TaskError::property("docker", format!("expected a map, found {other}"))),
    };
    match legacy_runner.map(|r| r.trim().to_ascii_uppercase()) {
        None => Ok(Runner::Docker(Box::new(docker))),
        Some(r) if r.is_empty() || r == "DOCKER" => Ok(Runner::Docker(Box::new(docker))),
        Some(r) if r == "PROCESS" => Ok(Runner::Process),
        Some(r) => Err(TaskError::property("runner", format!("'{r}' is not PROCESS or DOCKER"))),
    }
}

/// The name of `key` under `prop` (the key alone when `prop` is empty:
/// the task's own properties, as `docker.Run` has them).
fn at(prop: &str, key: &str) -> String {
    if prop.is_empty() { key.to_string() } else { format!("{prop}.{key}") }
}

fn opt_string(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).filter(|v| !v.is_null()).map(value_to_string).filter(|s| !s.is_empty())
}

fn string_list(prop: &str, m: &Map<String, Value>, key: &str) -> Result<Vec<String>, TaskError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().map(value_to_string).collect()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(other) => Err(TaskError::property(&at(prop, key), format!("expected a list, found {other}"))),
    }
}

/// Kestra's readable byte sizes (`512MB`, `1Gb`, `1024`), also Docker's
/// short units (`512m`, `1g`): bytes, 1024-based.
pub(crate) fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase().replace(' ', "");
    let digits = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let num: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    let bytes = num * mult as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

fn bytes_prop(prop: &str, m: &Map<String, Value>, key: &str) -> Result<Option<u64>, TaskError> {
    match opt_string(m, key) {
        None => Ok(None),
        Some(s) => parse_bytes(&s)
            .map(Some)
            .ok_or_else(|| TaskError::property(&at(prop, key), format!("'{s}' is not a size (e.g. 512MB, 1GB)"))),
    }
}

fn bool_prop(prop: &str, m: &Map<String, Value>, key: &str) -> Result<Option<bool>, TaskError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => match value_to_string(other).trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            s => Err(TaskError::property(&at(prop, key), format!("expected true or false, found '{s}'"))),
        },
    }
}

fn sub_map<'a>(prop: &str, m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>, TaskError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(TaskError::property(&at(prop, key), format!("expected a map, found {other}"))),
    }
}

/// Kestra properties of the Docker runner that Baton accepts but does not
/// act on (the CLI's own configuration applies instead).
const IGNORED: &[&str] = &["host", "config", "deviceRequests", "fileHandlingStrategy", "resume"];

/// The Docker runner's options from the map `m` (a `taskRunner`, the legacy
/// `docker`, or `docker.Run`'s own properties when `prop` is empty).
pub(crate) fn docker_options(prop: &str, m: &Map<String, Value>) -> Result<DockerOptions, TaskError> {
    let mut o = DockerOptions {
        network_mode: opt_string(m, "networkMode"),
        user: opt_string(m, "user"),
        image: opt_string(m, "image"),
        volumes: string_list(prop, m, "volumes")?,
        extra_hosts: string_list(prop, m, "extraHosts")?,
        entry_point: string_list(prop, m, "entryPoint")?,
        port_bindings: string_list(prop, m, "portBindings")?,
        shm_size: bytes_prop(prop, m, "shmSize")?,
        privileged: bool_prop(prop, m, "privileged")?.unwrap_or(false),
        ignored: IGNORED.iter().copied().filter(|k| m.get(*k).is_some_and(|v| !v.is_null())).collect(),
        ..DockerOptions::default()
    };
    if let Some(p) = opt_string(m, "pullPolicy") {
        o.pull_policy = match p.to_ascii_uppercase().as_str() {
            "IF_NOT_PRESENT" => PullPolicy::IfNotPresent,
            "ALWAYS" => PullPolicy::Always,
            "NEVER" => PullPolicy::Never,
            _ => {
                return Err(TaskError::property(
                    &at(prop, "pullPolicy"),
                    format!("'{p}' is not IF_NOT_PRESENT, ALWAYS or NEVER"),
                ));
            }
        };
    }
    if let Some(d) = bool_prop(prop, m, "delete")? {
        o.delete = d;
    }
    if let Some(w) = bool_prop(prop, m, "wait")? {
        o.wait = w;
    }
    if let Some(cpu) = sub_map(prop, m, "cpu")?
        && let Some(c) = opt_string(cpu, "cpus")
    {
        if !c.trim().parse::<f64>().is_ok_and(|n| n.is_finite() && n > 0.0) {
            return Err(TaskError::property(&at(prop, "cpu.cpus"), format!("'{c}' is not a positive number")));
        }
        o.cpus = Some(c.trim().to_string());
    }
    if let Some(mem) = sub_map(prop, m, "memory")? {
        let p = at(prop, "memory");
        o.memory = bytes_prop(&p, mem, "memory")?;
        o.memory_reservation = bytes_prop(&p, mem, "memoryReservation")?;
        o.memory_swap = match opt_string(mem, "memorySwap") {
            None => None,
            Some(s) if s.trim() == "-1" => Some(-1),
            Some(s) => Some(
                parse_bytes(&s)
                    .and_then(|b| i64::try_from(b).ok())
                    .ok_or_else(|| TaskError::property(&at(&p, "memorySwap"), format!("'{s}' is not a size")))?,
            ),
        };
        o.memory_swappiness = match opt_string(mem, "memorySwappiness") {
            None => None,
            Some(s) => Some(s.trim().parse::<u64>().ok().filter(|n| *n <= 100).ok_or_else(|| {
                TaskError::property(&at(&p, "memorySwappiness"), format!("'{s}' is not between 0 and 100"))
            })?),
        };
        o.oom_kill_disable = bool_prop(&p, mem, "oomKillDisable")?.unwrap_or(false);
    }
    if let Some(g) = opt_string(m, "killGracePeriod") {
        let d =
            baton_model::duration::parse_iso(&g).map_err(|e| TaskError::property(&at(prop, "killGracePeriod"), e))?;
        o.kill_grace_period = d.to_std().ok().filter(|d| !d.is_zero());
    }
    o.credentials = credentials(prop, m)?;
    Ok(o)
}

/// The `credentials` map of `m` (a runner's or a Docker task's).
pub(crate) fn credentials(prop: &str, m: &Map<String, Value>) -> Result<Option<Credentials>, TaskError> {
    Ok(sub_map(prop, m, "credentials")?.map(|c| Credentials {
        registry: opt_string(c, "registry"),
        username: opt_string(c, "username"),
        password: opt_string(c, "password"),
        registry_token: opt_string(c, "registryToken"),
        identity_token: opt_string(c, "identityToken"),
        auth: opt_string(c, "auth"),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn task_runner_types() {
        assert_eq!(resolve(Some(&json!({"type": PROCESS})), None, None).unwrap(), Runner::Process);
        let Runner::Docker(d) =
            resolve(Some(&json!({"type": DOCKER, "pullPolicy": "ALWAYS", "delete": "false"})), None, None).unwrap()
        else {
            panic!("docker expected")
        };
        assert_eq!(d.pull_policy, PullPolicy::Always);
        assert!(!d.delete);
        let e = resolve(Some(&json!({"type": "io.kestra.plugin.ee.gcp.runner.Batch"})), None, None).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        assert!(resolve(Some(&json!({"type": DOCKER, "pullPolicy": "SOMETIMES"})), None, None).is_err());
    }

    #[test]
    fn kestras_cloud_run_runner() {
        let Runner::Docker(d) = resolve(
            Some(&json!({"type": CLOUD_RUN, "projectId": "p", "region": "europe-west1", "serviceAccount": "sa@p",
                "bucket": "b", "waitUntilCompletion": true, "completionCheckInterval": "PT5S"})),
            None,
            None,
        )
        .unwrap() else {
            panic!("docker expected")
        };
        let c = d.cloud_run.expect("cloud run options");
        assert_eq!((c.project_id.as_deref(), c.region.as_deref()), (Some("p"), Some("europe-west1")));
        assert_eq!(c.service_account.as_deref(), Some("sa@p"));
        assert_eq!(c.ignored, vec!["waitUntilCompletion", "completionCheckInterval"]);
    }

    #[test]
    fn default_and_legacy() {
        assert_eq!(resolve(None, None, None).unwrap(), Runner::Docker(Box::default()));
        assert_eq!(resolve(None, Some("process"), None).unwrap(), Runner::Process);
        let Runner::Docker(d) = resolve(None, Some("DOCKER"), Some(&json!({"image": "python:3.11"}))).unwrap() else {
            panic!("docker expected")
        };
        assert_eq!(d.image.as_deref(), Some("python:3.11"));
        assert!(resolve(None, Some("KUBERNETES"), None).is_err());
    }

    #[test]
    fn sizes_follow_kestra_and_docker_units() {
        assert_eq!(parse_bytes("512Mb"), Some(512 << 20));
        assert_eq!(parse_bytes("1GB"), Some(1 << 30));
        assert_eq!(parse_bytes("64m"), Some(64 << 20));
        assert_eq!(parse_bytes("2KiB"), Some(2048));
        assert_eq!(parse_bytes("1000"), Some(1000));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("5 parsecs"), None);
    }

    #[test]
    fn resources_credentials_and_grace() {
        let Runner::Docker(d) = resolve(
            Some(&json!({
                "type": DOCKER, "cpu": {"cpus": 1.5}, "memory": {"memory": "512MB", "memorySwap": "-1"},
                "killGracePeriod": "PT5S", "credentials": {"username": "u", "password": "p"},
                "host": "tcp://x:2375", "shmSize": "64MB", "portBindings": ["8080:80"]
            })),
            None,
            None,
        )
        .unwrap() else {
            panic!("docker expected")
        };
        assert_eq!(d.cpus.as_deref(), Some("1.5"));
        assert_eq!(d.memory, Some(512 << 20));
        assert_eq!(d.memory_swap, Some(-1));
        assert_eq!(d.shm_size, Some(64 << 20));
        assert_eq!(d.kill_grace_period, Some(Duration::from_secs(5)));
        assert_eq!(d.credentials.unwrap().username.as_deref(), Some("u"));
        assert_eq!(d.ignored, vec!["host"]);
        assert_eq!(d.port_bindings, vec!["8080:80"]);
        let e = resolve(Some(&json!({"type": DOCKER, "memory": {"memory": "lots"}})), None, None).unwrap_err();
        assert!(e.to_string().contains("taskRunner.memory.memory"), "{e}");
        let e = resolve(Some(&json!({"type": DOCKER, "cpu": {"cpus": "-1"}})), None, None).unwrap_err();
        assert!(e.to_string().contains("taskRunner.cpu.cpus"), "{e}");
    }
}
