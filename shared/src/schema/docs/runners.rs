//! Docs of the task runners (`schema::runners`).

use crate::schema::{PropDoc, TypeDoc};

const IGNORED: &str = "Accepted for Kestra flows; Baton does not act on it (a warning is logged).";

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.core.runner.Process", "Run the script as a local process.", "Runs the commands as a process of the worker, in a fresh working directory.")
        .example("type: io.kestra.plugin.core.runner.Process\n"),
    TypeDoc::new("io.kestra.plugin.scripts.runner.docker.Docker", "Run the script in a Docker container.", "Runs the commands in a container of `containerImage` (the task's), with the working directory mounted; on Google Cloud, as a Cloud Run Job.")
        .example("type: io.kestra.plugin.scripts.runner.docker.Docker\npullPolicy: IF_NOT_PRESENT\nmemory:\n  memory: 512MB\ncpu:\n  cpus: 1\n")
        .props(&[
            PropDoc::new("image", "Legacy: the image (use the task's containerImage)."),
            PropDoc::new("pullPolicy", "When to pull the image.").values(&["IF_NOT_PRESENT", "ALWAYS", "NEVER"]).default("\"IF_NOT_PRESENT\""),
            PropDoc::new("delete", "Remove the container when it ends.").default("true"),
            PropDoc::new("networkMode", "Docker's network mode (bridge, host…)."),
            PropDoc::new("user", "The user the process runs as."),
            PropDoc::new("cpu", "{cpus}: the CPU limit."),
            PropDoc::new("memory", "{memory, memorySwap, memoryReservation, memorySwappiness, oomKillDisable}."),
            PropDoc::new("shmSize", "The size of /dev/shm (e.g. 256MB)."),
            PropDoc::new("privileged", "Refused: a privileged container could take the host.").default("false"),
            PropDoc::new("portBindings", "Ports published (host:container)."),
            PropDoc::new("volumes", "Host folders mounted (refused unless the operator enabled volumes)."),
            PropDoc::new("extraHosts", "Extra /etc/hosts entries (host:ip)."),
            PropDoc::new("entryPoint", "The container's entry point."),
            PropDoc::new("killGracePeriod", "On kill or timeout, wait this long after SIGTERM before SIGKILL."),
            PropDoc::new("credentials", "Registry credentials: {registry, username, password, auth…}."),
            PropDoc::new("host", IGNORED),
            PropDoc::new("config", IGNORED),
            PropDoc::new("deviceRequests", IGNORED),
            PropDoc::new("fileHandlingStrategy", IGNORED),
            PropDoc::new("resume", IGNORED),
            PropDoc::new("wait", IGNORED),
        ]),
    TypeDoc::new("io.kestra.plugin.ee.gcp.runner.CloudRun", "Run the script as a Cloud Run Job (GCP runtime).", "Runs the container as a Cloud Run Job execution; files move through Baton's internal bucket. Only on the GCP runtime.")
        .example("type: io.kestra.plugin.ee.gcp.runner.CloudRun\nregion: europe-west1\n")
        .props(&[
            PropDoc::new("projectId", "The project; the runtime's when absent."),
            PropDoc::new("region", "The Cloud Run region; the runtime's when absent."),
            PropDoc::new("serviceAccount", "The job's service account."),
            PropDoc::new("bucket", "Only Baton's internal bucket (files move through it)."),
            PropDoc::new("waitUntilCompletion", IGNORED),
            PropDoc::new("completionCheckInterval", IGNORED),
            PropDoc::new("delete", IGNORED),
            PropDoc::new("resume", IGNORED),
            PropDoc::new("impersonatedServiceAccount", IGNORED),
            PropDoc::new("scopes", IGNORED),
            PropDoc::new("maxRetries", IGNORED),
            PropDoc::new("syncWorkingDirectory", IGNORED),
            PropDoc::new("vpcAccessConnector", IGNORED),
            PropDoc::new("vpcEgress", IGNORED),
            PropDoc::new("version", IGNORED),
        ]),
];
