//! The task runner types a script task may name in `taskRunner`, each
//! declared once (`#[derive(Declare)]`): Kestra's name, words, example and
//! every property with its kind, default and values. The validator, the
//! JSON Schema, `baton plugins` and the editor read these declarations
//! (`shared`'s `schema::runners`). They only declare: [`super::runner`]
//! reads a written `taskRunner` mapping itself, naming the property in its
//! errors, and the properties marked "not acted on" are logged as such
//! there (`runner::IGNORED`, `cloudrun_runner::IGNORED`).

#![allow(dead_code)]

use serde::Deserialize;
use serde_json::Value;

use super::runner::{CLOUD_RUN, DOCKER, PROCESS};
use crate::Declare;

/// Run the script as a local process.
///
/// Runs the commands as a process of the worker, in a fresh working directory.
#[derive(Deserialize, Declare)]
#[plugin(type = PROCESS, example = "type: io.kestra.plugin.core.runner.Process\n")]
pub struct ProcessRunner {}

/// Run the script in a Docker container.
///
/// Runs the commands in a container of `containerImage` (the task's), with the working directory mounted; on Google Cloud, as a Cloud Run Job.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = DOCKER,
    example = "type: io.kestra.plugin.scripts.runner.docker.Docker\npullPolicy: IF_NOT_PRESENT\nmemory:\n  memory: 512MB\ncpu:\n  cpus: 1\n"
)]
pub struct DockerRunner {
    /// Legacy: the image (use the task's containerImage).
    #[prop(kind = "String")]
    image: Option<Value>,
    /// When to pull the image.
    #[prop(kind = "String", values = ["IF_NOT_PRESENT", "ALWAYS", "NEVER"], default = "\"IF_NOT_PRESENT\"")]
    pull_policy: Option<Value>,
    /// Remove the container when it ends.
    #[prop(kind = "Boolean", default = "true")]
    delete: Option<Value>,
    /// Docker's network mode (bridge, host…).
    #[prop(kind = "String")]
    network_mode: Option<Value>,
    /// The user the process runs as.
    #[prop(kind = "String")]
    user: Option<Value>,
    /// {cpus}: the CPU limit.
    #[prop(kind = "Map")]
    cpu: Option<Value>,
    /// {memory, memorySwap, memoryReservation, memorySwappiness, oomKillDisable}.
    #[prop(kind = "Map")]
    memory: Option<Value>,
    /// The size of /dev/shm (e.g. 256MB).
    #[prop(kind = "String")]
    shm_size: Option<Value>,
    /// Refused: a privileged container could take the host.
    #[prop(kind = "Boolean", default = "false")]
    privileged: Option<Value>,
    /// Ports published (host:container).
    #[prop(kind = "StringOrList")]
    port_bindings: Option<Value>,
    /// Host folders mounted (refused unless the operator enabled volumes).
    #[prop(kind = "StringOrList")]
    volumes: Option<Value>,
    /// Extra /etc/hosts entries (host:ip).
    #[prop(kind = "StringOrList")]
    extra_hosts: Option<Value>,
    /// The container's entry point.
    #[prop(kind = "StringOrList")]
    entry_point: Option<Value>,
    /// On kill or timeout, wait this long after SIGTERM before SIGKILL.
    #[prop(kind = "Duration")]
    kill_grace_period: Option<Value>,
    /// Registry credentials: {registry, username, password, auth…}.
    #[prop(kind = "Map")]
    credentials: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "String")]
    host: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Any")]
    config: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "List")]
    device_requests: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "String")]
    file_handling_strategy: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Boolean")]
    resume: Option<Value>,
    /// Wait for the container to exit (default); false starts it detached, ends the task at once and leaves the container running.
    #[prop(kind = "Boolean", default = "true")]
    wait: Option<Value>,
}

/// Run the script as a Cloud Run Job (GCP runtime).
///
/// Runs the container as a Cloud Run Job execution; files move through Baton's internal bucket. Only on the GCP runtime.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(type = CLOUD_RUN, example = "type: io.kestra.plugin.ee.gcp.runner.CloudRun\nregion: europe-west1\n")]
pub struct CloudRunRunner {
    /// The project; the runtime's when absent.
    #[prop(kind = "String")]
    project_id: Option<Value>,
    /// The Cloud Run region; the runtime's when absent.
    #[prop(kind = "String")]
    region: Option<Value>,
    /// The job's service account.
    #[prop(kind = "String")]
    service_account: Option<Value>,
    /// Only Baton's internal bucket (files move through it).
    #[prop(kind = "String")]
    bucket: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Boolean")]
    wait_until_completion: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Duration")]
    completion_check_interval: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Boolean")]
    delete: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Boolean")]
    resume: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "String")]
    impersonated_service_account: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "StringOrList")]
    scopes: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Integer")]
    max_retries: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "Boolean")]
    sync_working_directory: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "String")]
    vpc_access_connector: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "String")]
    vpc_egress: Option<Value>,
    /// Accepted for Kestra flows; Baton does not act on it (a warning is logged).
    #[prop(kind = "String")]
    version: Option<Value>,
}
