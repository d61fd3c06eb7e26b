//! Settings plugins read at run time, decided once by the binary (flags,
//! environment) and handed down through the engine; never read from globals.
//! Each plugin group owns its own section.

use std::path::PathBuf;

/// Bytes of a dbt artifact (`run_results.json`, `manifest.json`) `DbtCLI`
/// reads whole into memory, and of one dbt Cloud API answer (64 MiB).
/// Here, not in the `dbt` family: the bounds page lists it in every build.
pub const MAX_DBT_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// Bytes of the JSON one notification webhook task posts (1 MiB; Slack,
/// Teams, Google Chat and Discord refuse far less). Here, not in the
/// `notifications` family, like the bounds below: the bounds page lists
/// them in every build.
pub const MAX_NOTIFICATION_PAYLOAD: u64 = 1024 * 1024;

/// Bytes of a webhook's answer a notification task reads (10 MiB, Kestra's
/// default `options.maxContentLength`, which a task may only lower).
pub const MAX_NOTIFICATION_ANSWER: u64 = 10 * 1024 * 1024;

/// Bytes of the attachments and embedded images of one mail (25 MiB, what
/// most mail servers accept in all), held in memory while it is sent.
pub const MAX_MAIL_FILES_BYTES: u64 = 25 * 1024 * 1024;

/// How long an `…Execution` notification task waits for the execution it
/// reports on to end (10 minutes, as Kestra).
pub const MAX_NOTIFICATION_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Bytes of one GitHub API answer a `github.*` task reads (10 MiB).
pub const MAX_GITHUB_ANSWER: u64 = 10 * 1024 * 1024;

/// Results one GitHub search task (`issues.Search`, `pulls.Search`,
/// `repositories.Search`) gathers: 1000, the most GitHub's search API
/// returns for one query; also the most open pull requests counted per
/// repository found.
pub const MAX_GITHUB_RESULTS: usize = 1000;

/// Bytes of the answer a GraphQL `Request` reads (10 MiB, as core `http.Request`).
pub const MAX_GRAPHQL_ANSWER: u64 = 10 * 1024 * 1024;

/// Bytes of the payload `fs.tcp.Send` / `fs.udp.Send` send (16 MiB; a UDP
/// datagram is limited to 65507 bytes by the protocol itself).
pub const MAX_SOCKET_PAYLOAD: u64 = 16 * 1024 * 1024;

/// Files one `io.kestra.plugin.fs.local` task holds in memory as it lists a
/// folder (`List`, `Downloads`, `Delete` with `regExp`) or reads the URIs
/// `Uploads` takes (100,000); Kestra's tasks have no such bound.
pub const MAX_LOCAL_FILES: usize = 100_000;

/// Entries (files, folders, links) one `io.kestra.plugin.fs.local` listing
/// or the local Trigger reads as it walks a folder, kept or not (1,000,000):
/// a folder's entries are read whole to be walked in order, so this bounds
/// the names held before `MAX_LOCAL_FILES` is counted.
pub const MAX_LOCAL_ENTRIES: usize = 1_000_000;

/// Everything plugins may be configured with.
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    /// A folder for caches that outlive one task (python virtualenvs…).
    /// `None`: a `cache` folder next to the work root.
    pub cache_dir: Option<PathBuf>,
    pub scripts: super::scripts::ScriptsConfig,
    #[cfg(feature = "gcp")]
    pub gcp: super::gcp::GcpConfig,
    pub ai: super::ai::AiConfig,
    /// The most files one split makes, so the most batches (child
    /// executions) one ForEachItem starts (`BATON_MAX_BATCHES`; `None`:
    /// `core::split::DEFAULT_MAX_FILES`).
    pub max_batches: Option<usize>,
    /// Where users reach Baton's web UI (`BATON_URL`, Kestra's
    /// `kestra.url`): the notification tasks link an execution's page
    /// under it; `None`, their messages carry no link.
    pub url: Option<String>,
    /// SendGrid's API base URL (`BATON_SENDGRID_BASE_URL`; `None`:
    /// https://api.sendgrid.com). Kestra's SendGrid tasks have no property
    /// for it; the engine's setting serves local tests and proxies.
    pub sendgrid_url: Option<String>,
    /// Hightouch's API base URL (`BATON_HIGHTOUCH_BASE_URL`; `None`:
    /// https://api.hightouch.com). Kestra's `hightouch.Sync` has no
    /// property for it; the engine's setting serves local tests and proxies.
    pub hightouch_url: Option<String>,
    /// Airbyte Cloud's API base URL (`BATON_AIRBYTE_CLOUD_BASE_URL`;
    /// `None`: https://api.airbyte.com/v1). Kestra's `airbyte.cloud.jobs`
    /// tasks have no property for it.
    pub airbyte_cloud_url: Option<String>,
    /// Apify's API base URL (`BATON_APIFY_BASE_URL`; `None`:
    /// https://api.apify.com/v2). Kestra's Apify tasks read it from the JVM
    /// property `apify.api.base.url`, not from a flow.
    pub apify_url: Option<String>,
    /// ServiceNow's instance URL (`BATON_SERVICENOW_BASE_URL`; `None`:
    /// `https://{domain}.service-now.com`). Kestra's ServiceNow tasks have
    /// no property for it; the engine's setting serves local tests and proxies.
    pub servicenow_url: Option<String>,
    /// The folders the `io.kestra.plugin.fs.local` tasks may touch
    /// (`BATON_LOCAL_ALLOWED_PATHS`, separated by ':' as `PATH`; Kestra's
    /// plugin configuration `allowed-paths`). Empty: those tasks refuse to run.
    pub local_allowed_paths: Vec<PathBuf>,
}

impl PluginConfig {
    /// The settings the environment asks for (`BATON_*`, and Google's
    /// emulator variables such as `STORAGE_EMULATOR_HOST`).
    pub fn from_env() -> PluginConfig {
        PluginConfig {
            cache_dir: std::env::var_os("BATON_CACHE_DIR").map(PathBuf::from),
            scripts: super::scripts::ScriptsConfig::from_env(),
            #[cfg(feature = "gcp")]
            gcp: super::gcp::GcpConfig::from_env(),
            ai: super::ai::AiConfig::from_env(),
            max_batches: std::env::var("BATON_MAX_BATCHES").ok().and_then(|v| v.trim().parse().ok()),
            url: std::env::var("BATON_URL").ok().filter(|v| !v.trim().is_empty()),
            sendgrid_url: std::env::var("BATON_SENDGRID_BASE_URL").ok().filter(|v| !v.trim().is_empty()),
            hightouch_url: std::env::var("BATON_HIGHTOUCH_BASE_URL").ok().filter(|v| !v.trim().is_empty()),
            airbyte_cloud_url: std::env::var("BATON_AIRBYTE_CLOUD_BASE_URL").ok().filter(|v| !v.trim().is_empty()),
            apify_url: std::env::var("BATON_APIFY_BASE_URL").ok().filter(|v| !v.trim().is_empty()),
            servicenow_url: std::env::var("BATON_SERVICENOW_BASE_URL").ok().filter(|v| !v.trim().is_empty()),
            local_allowed_paths: std::env::var_os("BATON_LOCAL_ALLOWED_PATHS")
                .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
                .unwrap_or_default(),
        }
    }
}
