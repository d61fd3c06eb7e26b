//! Every `BATON_*` environment variable Baton reads, declared once: its
//! name, its default, what it does and which part of Baton reads it. The
//! configuration reference page (`docs/src/reference/configuration.md`)
//! is generated from [`ALL`], and a test holds the list to the code: every
//! `BATON_…` name written in the sources of `shared/` and `functions/`
//! (outside tests and benches) is declared here, and every one declared
//! here is read somewhere.

/// The part of Baton that reads a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reader {
    /// The `baton` command line (commands other than `server local`).
    Cli,
    /// `baton server local`.
    Server,
    /// The Cloud Run functions (`functions/`).
    Functions,
    /// The engine, in both runtimes (the embedded one of `baton run` and
    /// `baton server local`, and the functions).
    Engine,
    /// Tasks, wherever they run.
    Tasks,
}

impl Reader {
    /// How the reference page names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reader::Cli => "`baton` commands",
            Reader::Server => "`baton server local`",
            Reader::Functions => "Cloud Run functions",
            Reader::Engine => "the engine (both runtimes)",
            Reader::Tasks => "tasks",
        }
    }
}

/// One environment variable.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    /// The value when unset, in Markdown as the page shows it (`None`:
    /// unset means off, or required where `doc` says so).
    pub default: Option<&'static str>,
    /// What it does (Markdown, one paragraph).
    pub doc: &'static str,
    pub read_by: &'static [Reader],
    /// Set by Baton for its own processes, never by a user.
    pub internal: bool,
}

const fn var(
    name: &'static str,
    default: Option<&'static str>,
    read_by: &'static [Reader],
    doc: &'static str,
) -> Setting {
    Setting { name, default, doc, read_by, internal: false }
}

const fn internal(name: &'static str, read_by: &'static [Reader], doc: &'static str) -> Setting {
    Setting { name, default: None, doc, read_by, internal: true }
}

use Reader::{Cli, Engine, Functions, Server, Tasks};

/// Every variable, sorted by name.
pub const ALL: &[Setting] = &[
    var(
        "BATON_AIRBYTE_CLOUD_BASE_URL",
        Some("`https://api.airbyte.com/v1`"),
        &[Tasks],
        "Airbyte Cloud's API base URL for `airbyte.cloud.jobs.Sync` and `Reset` (Kestra's have none to set in a flow): a proxy or a local fake.",
    ),
    var(
        "BATON_ANTHROPIC_BASE_URL",
        Some("`https://api.anthropic.com`"),
        &[Tasks],
        "The Anthropic Messages API base URL of `io.kestra.plugin.anthropic.ChatCompletion`, for every flow (Kestra's plugin has no `baseUrl`).",
    ),
    var(
        "BATON_APIFY_BASE_URL",
        Some("`https://api.apify.com/v2`"),
        &[Tasks],
        "Apify's API base URL for `apify.actor.Run` and `apify.dataset.Get` (Kestra reads the JVM property `apify.api.base.url`; a flow has none to set): a proxy or a local fake.",
    ),
    var(
        "BATON_API_ROUTES",
        Some("`all`"),
        &[Functions],
        "The `api` function: `all` (Kestra's whole API and the web UI) or `webhooks` (only the webhook routes and `/healthz`: the public service when webhooks are exposed without IAM).",
    ),
    var(
        "BATON_API_TOKEN",
        None,
        &[Cli],
        "`baton flows push --gcp`: a bearer token instead of `gcloud auth print-identity-token` (`--token`).",
    ),
    var(
        "BATON_BACKEND",
        Some("`gcp` when `GOOGLE_CLOUD_PROJECT` is set, else `local`"),
        &[Functions],
        "`gcp` (Firestore, GCS, Pub/Sub) or `local` (SQLite and a folder under `BATON_HOME`, messages pushed by `BATON_RELAY`).",
    ),
    var(
        "BATON_CACHE_DIR",
        Some("`cache` beside the working directories"),
        &[Tasks],
        "A folder for caches that outlive one task (Python virtual environments, `uv` and `pip` caches).",
    ),
    var(
        "BATON_CLOUD_RUN_ENDPOINT",
        Some("Google's"),
        &[Tasks],
        "The `CloudRun` task runner: a Cloud Run Jobs API stand-in, called without credentials (tests).",
    ),
    var(
        "BATON_CLOUD_RUN_MOUNT",
        Some("`/mnt/baton`"),
        &[Tasks],
        "The `CloudRun` task runner: where the internal-storage bucket is mounted in the job's container.",
    ),
    var(
        "BATON_CLOUD_RUN_REGION",
        None,
        &[Tasks, Functions],
        "On the GCP runtime (with `GOOGLE_CLOUD_PROJECT` and `BATON_INTERNAL_BUCKET`): tasks on the `Docker` runner run as Cloud Run Jobs in this region.",
    ),
    var(
        "BATON_CLOUD_RUN_SERVICE_ACCOUNT",
        None,
        &[Tasks, Functions],
        "The service account the `CloudRun` task runner's jobs run as.",
    ),
    var(
        "BATON_CLOUD_SCHEDULER_ENDPOINT",
        Some("Google's"),
        &[Functions],
        "A Cloud Scheduler API stand-in, called without credentials (tests).",
    ),
    var(
        "BATON_DIALECT",
        Some("`auto`"),
        &[Cli],
        "`baton validate --dialect`: `auto` (each flow's own), `1` or `2` for every flow without a `baton.dialect` label.",
    ),
    var(
        "BATON_DOCKER_BIN",
        Some("`docker` on `PATH`"),
        &[Tasks],
        "The container command line the `Docker` task runner and `containerImage` call; when `docker` has no engine, `podman` is tried and used if it answers.",
    ),
    var(
        "BATON_DOCKER_FALLBACK",
        Some("`fail`"),
        &[Tasks],
        "Without a Docker engine: `fail` the task, or `process` to run it on the host, ignoring its `containerImage`.",
    ),
    var(
        "BATON_DOCKER_VOLUME_ENABLED",
        Some("`false`"),
        &[Tasks],
        "`true` lets the `Docker` task runner's `volumes` (and `privileged`) through, as Kestra's `volume-enabled` plugin configuration; off, such a task fails.",
    ),
    var(
        "BATON_EXECUTOR_LANES",
        Some("`1`"),
        &[Cli, Server],
        "Executor loops of the embedded runtime, 1 to 64: each decides the executions hashed to it.",
    ),
    var("BATON_FIRESTORE_DATABASE", Some("`(default)`"), &[Functions], "The Firestore database of the GCP backends."),
    var(
        "BATON_FLOWS",
        Some("`kestra:///flows`"),
        &[Functions],
        "Where a function finds its flows: a folder, or a `kestra:///prefix` in internal storage (by default what Terraform uploads to the internal bucket's `flows/`).",
    ),
    var(
        "BATON_GEMINI_BASE_URL",
        Some("`https://generativelanguage.googleapis.com`"),
        &[Tasks],
        "The AI tasks' Gemini API base URL, for every flow (a `baseUrl` in the flow wins; a proxy or a fake).",
    ),
    var(
        "BATON_GOOGLE_APIS_URL",
        Some("each API's `https://*.googleapis.com` host"),
        &[Tasks],
        "One root for the Google REST APIs that have no emulator (Dataproc, Dataflow, Dataform, Vertex AI custom jobs, BigQuery Data Transfer, Cloud Storage IAM): a proxy, or a local fake.",
    ),
    var(
        "BATON_GOOGLE_SEARCH_BASE_URL",
        Some("`https://www.googleapis.com/customsearch/v1`"),
        &[Tasks],
        "The AI tasks' Google Custom Search base URL, for every flow (a `baseUrl` in the flow wins).",
    ),
    var(
        "BATON_HIGHTOUCH_BASE_URL",
        Some("`https://api.hightouch.com`"),
        &[Tasks],
        "Hightouch's API base URL for `hightouch.Sync` (Kestra's has none to set in a flow): a proxy or a local fake.",
    ),
    var(
        "BATON_HOME",
        Some("`~/.baton`"),
        &[Cli, Server, Functions],
        "The state folder: SQLite, internal storage, working directories (`--home`); a function's local backends.",
    ),
    var(
        "BATON_HTTP_BODY_GRACE",
        Some("`10` (seconds)"),
        &[Server, Functions],
        "How long a request body may take before `BATON_HTTP_MIN_BODY_RATE` applies, in seconds (0 to 86,400).",
    ),
    var(
        "BATON_HTTP_HEADER_TIMEOUT",
        Some("`20` (seconds)"),
        &[Server, Functions],
        "How long a request's headers may take to arrive, in seconds (1 to 86,400); the connection is closed past it.",
    ),
    var(
        "BATON_HTTP_MAX_CONNECTIONS",
        Some("`512` (`baton server local`), `1000` (functions)"),
        &[Server, Functions],
        "Connections the HTTP listener keeps open (1 to 100,000); past it a new connection takes the place of one waiting on its client, or is closed.",
    ),
    var(
        "BATON_HTTP_MAX_CONNECTIONS_PER_CLIENT",
        Some("`256` (`baton server local`), `1000` (functions)"),
        &[Server, Functions],
        "Connections one client IP address keeps open (1 to 100,000, at most `BATON_HTTP_MAX_CONNECTIONS`); past it, as past the total, among that address's connections.",
    ),
    var(
        "BATON_HTTP_MIN_BODY_RATE",
        Some("`1024` (bytes per second)"),
        &[Server, Functions],
        "The average rate a request body must keep once `BATON_HTTP_BODY_GRACE` has passed, in bytes per second (0: no minimum); a slower body's read fails naming the bound and the connection closes.",
    ),
    var(
        "BATON_INTERNAL_BUCKET",
        None,
        &[Functions, Tasks],
        "The internal-storage bucket of the GCP backends (required there) and of the `CloudRun` task runner.",
    ),
    var("BATON_JWKS_URL", Some("Google's"), &[Functions], "Where the signing keys of Pub/Sub's push tokens are."),
    var(
        "BATON_KEEP_WORKING_DIRS",
        None,
        &[Tasks],
        "`1` or `true` keeps task working directories after the task ends, for debugging (removed by default, as Kestra does).",
    ),
    var(
        "BATON_LEASE_SECONDS",
        Some("`30`"),
        &[Functions],
        "How long a worker's claim on a task run lasts without a heartbeat (renewed every third of it).",
    ),
    var(
        "BATON_LOCAL_ALLOWED_PATHS",
        None,
        &[Tasks],
        "The folders the `io.kestra.plugin.fs.local` tasks (`Copy`, `Move`, `Delete`, `List`, `Download`, `Downloads`, `Upload`, `Uploads`) may read and write, separated by `:` as `PATH` (Kestra's plugin configuration `allowed-paths`). A path is judged by its real path (symbolic links followed; one that does not exist yet by its nearest existing folder); one outside every folder fails the task naming it and the folders. Unset or empty, those tasks fail saying the setting is required.",
    ),
    var(
        "BATON_LOG",
        Some("`warn`; `info` for `baton server local`"),
        &[Cli, Server],
        "The log filter on stderr, in `tracing`'s syntax (`info`, `baton=debug,warn`). The functions read `RUST_LOG`.",
    ),
    var(
        "BATON_MAX_BACKLOG",
        Some("`1000`"),
        &[Server],
        "Back-pressure: while this many execution events and task jobs wait in the server's queue, requests that start an execution (`POST /api/v1/executions/…`, webhooks) are answered 429 with `Retry-After: 1`.",
    ),
    var(
        "BATON_MAX_BATCHES",
        Some("`10000`"),
        &[Tasks],
        "The most files one split makes, so the most batches (child executions) one `ForEachItem` starts.",
    ),
    var(
        "BATON_MAX_DESCENDANTS",
        Some("`10000`"),
        &[Engine],
        "The most executions that may descend from one execution (subflows, `ForEachItem` batches, their children…).",
    ),
    var(
        "BATON_MAX_EXECUTION_LOG_BYTES",
        Some("`268435456` (256 MiB)"),
        &[Engine],
        "Bytes of log messages one execution stores with its logs, all its task attempts together; an attempt's lines past it go to the attempt's log file, with a WARN naming the bound.",
    ),
    var(
        "BATON_MAX_EXECUTION_LOG_FILE_BYTES",
        Some("`4294967296` (4 GiB)"),
        &[Engine],
        "Bytes the log files of one execution's task attempts hold together (counted in each process running its attempts); the lines past it are dropped and counted in a WARN naming the bound.",
    ),
    var(
        "BATON_MAX_EXECUTION_LOG_LINES",
        Some("`500000`"),
        &[Engine],
        "Log lines one execution stores, all its task attempts together (each line is a row in the store, whatever its length); an attempt's lines past it go to the attempt's log file, with a WARN naming the bound.",
    ),
    var(
        "BATON_MAX_TASK_LOG_BYTES",
        Some("`67108864` (64 MiB)"),
        &[Engine],
        "Bytes of log messages one task attempt stores; the lines past it go to the attempt's log file (Kestra's `logFile`), with a WARN naming the bound.",
    ),
    var(
        "BATON_MAX_TASK_LOG_FILE_BYTES",
        Some("`1073741824` (1 GiB)"),
        &[Engine],
        "Bytes one task attempt's log file holds; the lines past it are dropped and counted in a WARN naming the bound.",
    ),
    var(
        "BATON_MAX_TASK_LOG_LINES",
        Some("`100000`"),
        &[Engine],
        "Log lines one task attempt stores; the lines past it go to the attempt's log file (Kestra's `logFile`), with a WARN naming the bound.",
    ),
    var(
        "BATON_METRICS",
        Some("`on` for `baton server local` and the functions, `off` for `baton run`"),
        &[Cli, Server, Functions],
        "`on` or `off`: whether the process records its Prometheus metrics. `off` installs no recorder (every recording point costs one atomic load) and `GET /prometheus` answers 404; `on` in `baton run` records too and writes the run's metrics to `BATON_HOME/metrics.prom` at its end, in Prometheus's text format (node_exporter's textfile collector reads it).",
    ),
    var(
        "BATON_NSFILE_REVISIONS",
        Some("`50`"),
        &[Engine],
        "How many revisions of each namespace file are kept (at least 1).",
    ),
    var(
        "BATON_OPENAI_BASE_URL",
        Some("`https://api.openai.com/v1`"),
        &[Tasks],
        "The AI tasks' OpenAI API base URL, for every flow (a `baseUrl` in the flow wins); also that of `io.kestra.plugin.openai.*`.",
    ),
    var(
        "BATON_PERPLEXITY_BASE_URL",
        Some("`https://api.perplexity.ai`"),
        &[Tasks],
        "The Perplexity API base URL of `io.kestra.plugin.perplexity.ChatCompletion`, for every flow (Kestra's plugin has no `baseUrl`).",
    ),
    var(
        "BATON_PUSH_AUDIENCE",
        None,
        &[Functions],
        "The push subscription's OIDC audience (required with `BATON_PUSH_AUTH=oidc`).",
    ),
    var(
        "BATON_PUSH_AUTH",
        Some("`oidc`"),
        &[Functions],
        "`oidc` verifies every Pub/Sub push's token; `off` accepts unauthenticated pushes (the emulator sends no token).",
    ),
    var(
        "BATON_PUSH_SERVICE_ACCOUNT",
        None,
        &[Functions],
        "The push subscription's service account email (required with `BATON_PUSH_AUTH=oidc`).",
    ),
    var(
        "BATON_RELAY",
        None,
        &[Functions],
        "The local backend's push routes, `topic=url,…`: a message published to a topic is pushed to its URL (a Pub/Sub stand-in); unset, messages are dropped, with a warning.",
    ),
    var(
        "BATON_SEAL_KEY",
        None,
        &[Functions],
        "On the GCP backends: the key `SECRET` inputs are sealed under (AES-256-GCM) in Firestore and in the worker jobs on Pub/Sub, the base64 of 32 random bytes (`openssl rand -base64 32`); every service of a deployment needs the same one (Terraform provides it from the Secret Manager secret `baton-seal-key`). Unset, an execution with a `SECRET` input is refused, naming it; a value that is not such a key stops the function at start. The embedded runtime keeps its key beside the database (`baton.key`). To rotate it, see `BATON_SEAL_KEY_PREVIOUS`.",
    ),
    var(
        "BATON_SEAL_KEY_PREVIOUS",
        None,
        &[Functions],
        "On the GCP backends, after a rotation of `BATON_SEAL_KEY`: the keys used before, a comma list of at most 8 (each the base64 of 32 bytes). They only open `SECRET` inputs sealed before the rotation (an execution read that way is sealed under the new key at its next save); new values are always sealed under `BATON_SEAL_KEY`. A value under none of the keys is refused naming both settings. Set without `BATON_SEAL_KEY`, or with a value that is not such a list, it stops the function at start; its value is never printed.",
    ),
    var(
        "BATON_SENDGRID_BASE_URL",
        Some("`https://api.sendgrid.com`"),
        &[Tasks],
        "SendGrid's API base URL for `SendGridMailSend` and `SendGridMailExecution` (Kestra's have none to set in a flow): a proxy or a local fake.",
    ),
    var(
        "BATON_SERVER_ALLOWED_HOSTS",
        None,
        &[Server],
        "Host names accepted in the `Host` header besides localhost, comma-separated (`--allowed-hosts`).",
    ),
    var(
        "BATON_SERVER_BASIC_AUTH",
        None,
        &[Server, Cli],
        "Kestra-style basic auth, `user:password`: `baton server local --basic-auth`, and the credentials of `baton flows push --server`.",
    ),
    var(
        "BATON_SERVER_LOGIN_FAILURES",
        Some("`10`"),
        &[Server],
        "Failed logins one client address may make per `BATON_SERVER_LOGIN_WINDOW_SECONDS` under basic auth (1 to 10000), on the login page (`POST /auth/login`) and as a wrong `Authorization: Basic` header alike; the configured user name gets ten times as many from all addresses together (`LOGIN_FAILURES_PER_USER`). Past the bound every login attempt of that address (or for that user) is answered 429 with `Retry-After` until the window ends, a right password included; a valid session cookie still works.",
    ),
    var(
        "BATON_SERVER_LOGIN_WINDOW_SECONDS",
        Some("`900`"),
        &[Server],
        "The window `BATON_SERVER_LOGIN_FAILURES` counts failed logins in, in seconds (1 to 86400): it starts at an address's (or the user's) first failure, and its count is dropped when it ends.",
    ),
    var(
        "BATON_SERVER_SESSION_HOURS",
        Some("`12`"),
        &[Server],
        "How long a login on the web UI's login page lasts, in hours (1 to 720), under basic auth: the signed `HttpOnly` session cookie `baton_session` expires then and the page asks for the password again. The signing key is `session.key` in the Baton home (mode 0600); deleting it, or changing the password, ends every session.",
    ),
    var(
        "BATON_SERVICENOW_BASE_URL",
        Some("`https://{domain}.service-now.com`"),
        &[Tasks],
        "The ServiceNow instance URL for the `servicenow.*` tasks, in place of the one their `domain` names (Kestra's have none to set in a flow): a proxy or a local fake.",
    ),
    var(
        "BATON_SWEEP_JOB",
        None,
        &[Functions],
        "The scheduler's and executor's sweep job (`projects/P/locations/R/jobs/baton-sweep`), paused while nothing is in flight; unset, left alone.",
    ),
    var(
        "BATON_TASK_PID_NAMESPACE",
        Some("`true`"),
        &[Tasks],
        "`false` runs a script task's program without a PID namespace of its own; by default (as root, or where unprivileged user namespaces are allowed) it is PID 1 of one, so its death kills every process it started, `setsid -f env -i` ones included. Without it, those are still found by the marker file they inherit (descriptor 1000); only one that also closes its inherited files escapes a killed shim.",
    ),
    var(
        "BATON_TAVILY_BASE_URL",
        Some("`https://api.tavily.com`"),
        &[Tasks],
        "The AI tasks' Tavily search API base URL, for every flow (a `baseUrl` in the flow wins).",
    ),
    var(
        "BATON_URL",
        None,
        &[Tasks],
        "Where users reach Baton's web UI (Kestra's `kestra.url`), e.g. `https://baton.example.com/`: the notification tasks (`SlackExecution`, `MailExecution`…) link an execution's page under it (`/ui/main/executions/…`); unset, `baton server local` uses its own address, and elsewhere their messages carry no link.",
    ),
    var(
        "BATON_VERTEX_BASE_URL",
        Some("`https://{location}-aiplatform.googleapis.com`"),
        &[Tasks],
        "The AI tasks' Vertex AI base URL, for every flow (a `baseUrl` in the flow wins).",
    ),
    var(
        "BATON_WORKER_GROUP",
        Some("`core`"),
        &[Functions],
        "The `worker` function's task group (its tasks topic is `baton-tasks-<group>`).",
    ),
    var(
        "BATON_WORK_DIR",
        Some("`$TMPDIR/baton-work`"),
        &[Functions],
        "The scratch folder of a function's task working directories.",
    ),
    internal(
        "BATON_TASK_PROCESS",
        &[Tasks],
        "Marks every process a task starts (`owner:taskRun:attempt`), so what a killed `baton` left running is found and stopped.",
    ),
    internal(
        "BATON_TASK_SHIM",
        &[Tasks],
        "Starts `baton` (or a function) as the shim of a task's program, set to the starting process's pid: a child subreaper that runs it, kills what it leaves behind, and kills it all when that process dies.",
    ),
    internal(
        "BATON_WATCHDOG_FOR",
        &[Cli, Server],
        "Starts `baton` as the watchdog of the `baton` named, which stops its task processes if it is killed.",
    ),
];

/// The variable `name`, if declared.
pub fn find(name: &str) -> Option<&'static Setting> {
    ALL.iter().find(|s| s.name == name)
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
