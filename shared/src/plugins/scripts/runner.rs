//! Which task runner a script task uses: `taskRunner: {type: …}` (Kestra's
//! `core.runner.Process` or `scripts.runner.docker.Docker`, the default),
//! or the legacy `runner: PROCESS | DOCKER` with `docker: {image, …}`.

use serde_json::{Map, Value};

use crate::plugins::TaskError;
use crate::plugins::de::value_to_string;

pub(crate) const PROCESS: &str = "io.kestra.plugin.core.runner.Process";
pub(crate) const DOCKER: &str = "io.kestra.plugin.scripts.runner.docker.Docker";

/// Kestra's `pullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum PullPolicy {
    #[default]
    IfNotPresent,
    Always,
    Never,
}

/// The Docker runner's options that Baton honours.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DockerOptions {
    pub pull_policy: PullPolicy,
    /// Remove the container when it ends (Kestra's `delete`, default true).
    pub delete: bool,
    pub network_mode: Option<String>,
    pub user: Option<String>,
    pub cpus: Option<String>,
    pub memory: Option<String>,
    pub volumes: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub entry_point: Vec<String>,
    /// The legacy `docker.image`.
    pub image: Option<String>,
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
            volumes: Vec::new(),
            extra_hosts: Vec::new(),
            entry_point: Vec::new(),
            image: None,
        }
    }
}

/// The runner a task asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Runner {
    Process,
    Docker(DockerOptions),
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
            DOCKER => docker_options("taskRunner", m).map(Runner::Docker),
            "" => Err(TaskError::property("taskRunner", "'type' is required")),
            other => Err(TaskError::property(
                "taskRunner",
                format!("task runner '{other}' is not supported; use '{PROCESS}' or '{DOCKER}'"),
            )),
        };
    }
    let docker = match legacy_docker {
        Some(Value::Object(m)) => docker_options("docker", m)?,
        Some(Value::Null) | None => DockerOptions::default(),
        Some(other) => return Err(TaskError::property("docker", format!("expected a map, found {other}"))),
    };
    match legacy_runner.map(|r| r.trim().to_ascii_uppercase()) {
        None => Ok(Runner::Docker(docker)),
        Some(r) if r.is_empty() || r == "DOCKER" => Ok(Runner::Docker(docker)),
        Some(r) if r == "PROCESS" => Ok(Runner::Process),
        Some(r) => Err(TaskError::property("runner", format!("'{r}' is not PROCESS or DOCKER"))),
    }
}

fn opt_string(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).filter(|v| !v.is_null()).map(value_to_string).filter(|s| !s.is_empty())
}

fn string_list(prop: &str, m: &Map<String, Value>, key: &str) -> Result<Vec<String>, TaskError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().map(value_to_string).collect()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(other) => Err(TaskError::property(&format!("{prop}.{key}"), format!("expected a list, found {other}"))),
    }
}

fn docker_options(prop: &str, m: &Map<String, Value>) -> Result<DockerOptions, TaskError> {
    let mut o = DockerOptions {
        network_mode: opt_string(m, "networkMode"),
        user: opt_string(m, "user"),
        image: opt_string(m, "image"),
        volumes: string_list(prop, m, "volumes")?,
        extra_hosts: string_list(prop, m, "extraHosts")?,
        entry_point: string_list(prop, m, "entryPoint")?,
        ..DockerOptions::default()
    };
    if let Some(p) = opt_string(m, "pullPolicy") {
        o.pull_policy = match p.to_ascii_uppercase().as_str() {
            "IF_NOT_PRESENT" => PullPolicy::IfNotPresent,
            "ALWAYS" => PullPolicy::Always,
            "NEVER" => PullPolicy::Never,
            _ => {
                return Err(TaskError::property(
                    &format!("{prop}.pullPolicy"),
                    format!("'{p}' is not IF_NOT_PRESENT, ALWAYS or NEVER"),
                ));
            }
        };
    }
    if let Some(d) = m.get("delete").filter(|v| !v.is_null()) {
        o.delete = match d {
            Value::Bool(b) => *b,
            other => match value_to_string(other).trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                s => {
                    return Err(TaskError::property(
                        &format!("{prop}.delete"),
                        format!("expected true or false, found '{s}'"),
                    ));
                }
            },
        };
    }
    if let Some(Value::Object(cpu)) = m.get("cpu") {
        o.cpus = opt_string(cpu, "cpus");
    }
    if let Some(Value::Object(mem)) = m.get("memory") {
        o.memory = opt_string(mem, "memory");
    }
    Ok(o)
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
    fn default_and_legacy() {
        assert_eq!(resolve(None, None, None).unwrap(), Runner::Docker(DockerOptions::default()));
        assert_eq!(resolve(None, Some("process"), None).unwrap(), Runner::Process);
        let Runner::Docker(d) = resolve(None, Some("DOCKER"), Some(&json!({"image": "python:3.11"}))).unwrap() else {
            panic!("docker expected")
        };
        assert_eq!(d.image.as_deref(), Some("python:3.11"));
        assert!(resolve(None, Some("KUBERNETES"), None).is_err());
    }
}
