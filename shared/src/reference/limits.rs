//! The bounds reference: every resource bound Baton applies — its name
//! (as its error or WARN names it), its value read from the constant the
//! code checks, the setting that changes it and what happens past it —
//! on one page, so that a message naming a bound leads to its entry.

use std::time::Duration;

use super::markdown::{cell, code, table};
use super::{MARK, Page};

/// A bound's value, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(u64),
    Bytes(u64),
    Time(Duration),
    /// Bytes a second.
    Rate(u64),
}

impl Amount {
    fn show(self) -> String {
        match self {
            Amount::Count(n) => group(n),
            Amount::Bytes(n) => crate::runtime::log_bounds::describe_bytes(n),
            Amount::Time(d) if d.as_secs() >= 3600 && d.as_secs().is_multiple_of(3600) => {
                format!("{} h", d.as_secs() / 3600)
            }
            Amount::Time(d) if d.as_secs() >= 60 && d.as_secs().is_multiple_of(60) => {
                format!("{} min", d.as_secs() / 60)
            }
            Amount::Time(d) => format!("{} s", d.as_secs()),
            Amount::Rate(n) => format!("{}/s", crate::runtime::log_bounds::describe_bytes(n)),
        }
    }
}

/// `100000` as `100,000`.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One bound.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// As messages name it.
    pub name: &'static str,
    pub value: Amount,
    /// The `BATON_*` variable that changes it, if any.
    pub setting: Option<&'static str>,
    /// What it bounds.
    pub what: &'static str,
    /// What happens past it.
    pub past: &'static str,
}

pub(super) const fn b(
    name: &'static str,
    value: Amount,
    setting: Option<&'static str>,
    what: &'static str,
    past: &'static str,
) -> Bound {
    Bound { name, value, setting, what, past }
}

/// The sections of the page and their bounds.
pub fn sections() -> Vec<(&'static str, Vec<Bound>)> {
    use crate::runtime::log_bounds as logs;
    use Amount::{Bytes, Count, Rate, Time};
    let spill = "the attempt's next lines go to its log file in internal storage (Kestra's `logFile`); a WARN names \
                 the bound and the file, another at the end counts the lines";
    let mut sections = vec![
        (
            "Task logs",
            vec![
                b(
                    "MAX_TASK_LOG_LINES",
                    Count(logs::MAX_TASK_LOG_LINES),
                    Some(logs::ENV_TASK_LINES),
                    "log lines one task attempt stores (each line is a row of about 300 bytes in SQLite, whatever its length)",
                    spill,
                ),
                b(
                    "MAX_TASK_LOG_BYTES",
                    Bytes(logs::MAX_TASK_LOG_BYTES),
                    Some(logs::ENV_TASK_BYTES),
                    "bytes of log messages one task attempt stores",
                    spill,
                ),
                b(
                    "MAX_EXECUTION_LOG_LINES",
                    Count(logs::MAX_EXECUTION_LOG_LINES),
                    Some(logs::ENV_EXECUTION_LINES),
                    "log lines one execution stores, its attempts together",
                    spill,
                ),
                b(
                    "MAX_EXECUTION_LOG_BYTES",
                    Bytes(logs::MAX_EXECUTION_LOG_BYTES),
                    Some(logs::ENV_EXECUTION_BYTES),
                    "bytes of log messages one execution stores",
                    spill,
                ),
                b(
                    "MAX_TASK_LOG_FILE_BYTES",
                    Bytes(logs::MAX_TASK_LOG_FILE_BYTES),
                    Some(logs::ENV_FILE_BYTES),
                    "bytes one attempt's log file holds",
                    "the next lines are dropped; a WARN names the bound, the closing one counts them",
                ),
                b(
                    "MAX_EXECUTION_LOG_FILE_BYTES",
                    Bytes(logs::MAX_EXECUTION_LOG_FILE_BYTES),
                    Some(logs::ENV_EXECUTION_FILE_BYTES),
                    "bytes the log files of one execution's attempts hold together, in each process running them",
                    "the next lines of its attempts are dropped; a WARN names the bound, the closing one counts them",
                ),
                b(
                    "MAX_LINE_BYTES",
                    Bytes(crate::plugins::scripts::output::MAX_LINE_BYTES as u64),
                    None,
                    "bytes of one line a script prints",
                    "the rest of the line is dropped; the line ends with a marker saying how much",
                ),
                b(
                    "MAX_LOG_BACKLOG_BYTES",
                    Bytes(crate::plugins::scripts::output::MAX_LOG_BACKLOG_BYTES as u64),
                    None,
                    "what a script's log lines waiting for the store hold in memory",
                    "the script's output is not read until the store catches up (the script waits on its pipe)",
                ),
                b(
                    "MAX_SCRIPT_OUTPUTS_BYTES",
                    Bytes(crate::plugins::scripts::output::MAX_SCRIPT_OUTPUTS_BYTES as u64),
                    None,
                    "JSON bytes of a script's `::{\"outputs\":…}::` lines, merged (its `vars` output)",
                    "the task fails naming the bound",
                ),
            ],
        ),
        (
            "Templates and files",
            vec![
                b(
                    "MAX_RENDER_BYTES",
                    Bytes(crate::template::size::MAX_RENDER_BYTES as u64),
                    None,
                    "bytes one render produces, and any string built while rendering",
                    "the render fails naming the bound",
                ),
                b(
                    "MAX_READ_BYTES",
                    Bytes(crate::template::size::MAX_READ_BYTES),
                    None,
                    "bytes of one file `read()` loads into a template",
                    "`read()` fails naming the bound; give the file's URI to a task that streams it",
                ),
                b(
                    "MAX_ERROR_LOG_LINES",
                    Count(crate::template::size::MAX_ERROR_LOG_LINES as u64),
                    None,
                    "ERROR lines `errorLogs()` loads into a template (their messages at most `MAX_READ_BYTES` together)",
                    "`errorLogs()` fails naming the bound, having read one line more; the logs download and `log.Fetch` \
                     give every line",
                ),
                b(
                    "MAX_FILE_BYTES",
                    Bytes(crate::model::yaml::MAX_FILE_BYTES),
                    None,
                    "bytes of one flow's YAML",
                    "the flow is refused naming the bound",
                ),
                b(
                    "MAX_DOCUMENT",
                    Bytes(crate::plugins::ai::ingest::MAX_DOCUMENT),
                    None,
                    "bytes of one document `IngestDocument` reads whole",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_ITEM_BYTES",
                    Bytes(crate::plugins::core::items::MAX_ITEM_BYTES),
                    None,
                    "bytes of one line of an Ion file the item and serdes tasks read, and of one value of a JSON document `JsonToIon` reads (`newLine: false`)",
                    "the task fails naming the bound and the line",
                ),
                b(
                    "MAX_DBT_ARTIFACT_BYTES",
                    Bytes(crate::plugins::config::MAX_DBT_ARTIFACT_BYTES),
                    None,
                    "bytes of `run_results.json` or `manifest.json` `DbtCLI` reads whole, and of one dbt Cloud API answer",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_NOTIFICATION_PAYLOAD",
                    Bytes(crate::plugins::config::MAX_NOTIFICATION_PAYLOAD),
                    None,
                    "bytes of the JSON one Slack, Teams, Google Chat or Discord notification posts",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_NOTIFICATION_ANSWER",
                    Bytes(crate::plugins::config::MAX_NOTIFICATION_ANSWER),
                    None,
                    "bytes of a webhook's answer a notification task reads (`options.maxContentLength` may lower it)",
                    "a 2xx answer fails the task naming the bound; a failed one is quoted up to it",
                ),
                b(
                    "MAX_MAIL_FILES_BYTES",
                    Bytes(crate::plugins::config::MAX_MAIL_FILES_BYTES),
                    None,
                    "bytes of the attachments and embedded images of one `MailSend` or `MailExecution` message",
                    "the task fails naming the bound, before connecting to the server",
                ),
                b(
                    "MAX_NOTIFICATION_WAIT",
                    Time(crate::plugins::config::MAX_NOTIFICATION_WAIT),
                    None,
                    "time an `…Execution` notification task waits for the execution it reports on to end",
                    "the task fails naming the bound and the execution's state",
                ),
                b(
                    "MAX_GITHUB_ANSWER",
                    Bytes(crate::plugins::config::MAX_GITHUB_ANSWER),
                    None,
                    "bytes of one GitHub API answer a `github.*` task reads",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_GITHUB_RESULTS",
                    Count(crate::plugins::config::MAX_GITHUB_RESULTS as u64),
                    None,
                    "results one GitHub search task gathers (GitHub's own cap for one query), and open pull requests counted per repository found",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_GRAPHQL_ANSWER",
                    Bytes(crate::plugins::config::MAX_GRAPHQL_ANSWER),
                    None,
                    "bytes of the answer a `graphql.Request` reads",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_SOCKET_PAYLOAD",
                    Bytes(crate::plugins::config::MAX_SOCKET_PAYLOAD),
                    None,
                    "bytes of the payload `fs.tcp.Send` or `fs.udp.Send` sends",
                    "the task fails naming the bound, before connecting",
                ),
                b(
                    "MAX_LOCAL_FILES",
                    Count(crate::plugins::config::MAX_LOCAL_FILES as u64),
                    None,
                    "files an `fs.local` task holds as it lists a folder (`List`, `Downloads`, `Delete` with `regExp`) or the URIs `Uploads` takes, before `maxFiles` cuts",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_LOCAL_ENTRIES",
                    Count(crate::plugins::config::MAX_LOCAL_ENTRIES as u64),
                    None,
                    "entries (files, folders, links) an `fs.local` listing or `fs.local.Trigger` reads as it walks a folder, kept or not",
                    "the task (or the trigger's poll) fails naming the bound",
                ),
                b(
                    "MAX_SEEN",
                    Count(crate::runtime::events::MAX_SEEN as u64),
                    None,
                    "objects or files a polled `gcs.Trigger`, `s3.Trigger` or `fs.local.Trigger` remembers as seen",
                    "the oldest seen are forgotten with a WARN naming the bound (they may fire again)",
                ),
                b(
                    "MAX_FILES_BOUND",
                    Count(crate::triggers::MAX_FILES_BOUND as u64),
                    None,
                    "`maxFiles` of an `fs.local.Trigger` or `s3.Trigger`: files in one execution",
                    "a larger `maxFiles` is a validation error naming the bound",
                ),
                b(
                    "MAX_SOCKET_MESSAGE",
                    Bytes(crate::runtime::events::socket::MAX_SOCKET_MESSAGE),
                    None,
                    "bytes of one message an `fs.tcp.RealtimeTrigger` receives",
                    "the message is dropped with a WARN naming the bound; the next connection is read",
                ),
                b(
                    "SOCKET_READ_DEADLINE",
                    Time(crate::runtime::events::socket::SOCKET_READ_DEADLINE),
                    None,
                    "time an `fs.tcp.RealtimeTrigger` sender has, from connecting, to send its message and close",
                    "the connection is dropped with a WARN naming the bound",
                ),
                b(
                    "MAX_CACHE_BYTES",
                    Bytes(crate::plugins::core::working_dir::MAX_CACHE_BYTES),
                    None,
                    "bytes of a `WorkingDirectory` cache archive, and of what it unpacks to",
                    "the task fails naming the bound",
                ),
            ],
        ),
        (
            "Executions",
            vec![
                b(
                    "MAX_DESCENDANTS",
                    Count(crate::runtime::fanout::MAX_DESCENDANTS),
                    Some(crate::runtime::fanout::ENV),
                    "executions descending from one execution (subflows, `ForEachItem` batches, their children)",
                    "the next start fails naming the bound",
                ),
                b(
                    "MAX_BATCHES",
                    Count(crate::plugins::core::split::DEFAULT_MAX_FILES as u64),
                    Some("BATON_MAX_BATCHES"),
                    "files one split makes, so batches one `ForEachItem` starts",
                    "the task fails naming the bound",
                ),
                b(
                    "MAX_SUBFLOW_DEPTH",
                    Count(crate::runtime::executor::MAX_SUBFLOW_DEPTH as u64),
                    None,
                    "subflows nested in one another",
                    "the subflow fails naming the bound",
                ),
            ],
        ),
        (
            "HTTP (the local server and the functions)",
            vec![
                b(
                    "MAX_BACKLOG",
                    Count(crate::api::backlog::MAX_BACKLOG as u64),
                    Some("BATON_MAX_BACKLOG"),
                    "execution events and task jobs waiting in `baton server local`'s queue",
                    "requests that start an execution are answered 429 with `Retry-After`, naming the bound",
                ),
                b(
                    "MAX_REQUEST_BODY",
                    Bytes(crate::api::limits::MAX_REQUEST_BODY as u64),
                    None,
                    "bytes of a request body read whole (flows, KV values, JSON)",
                    "413, naming the bound",
                ),
                b(
                    "MAX_IMPORT_UPLOAD",
                    Bytes(crate::api::limits::MAX_IMPORT_UPLOAD as u64),
                    None,
                    "bytes of a flow import's YAML or ZIP file",
                    "413, naming the bound",
                ),
                b(
                    "MAX_IMPORT_ENTRY",
                    Bytes(crate::api::limits::MAX_IMPORT_ENTRY as u64),
                    None,
                    "bytes of one flow file inside an import ZIP",
                    "the import fails naming the bound",
                ),
                b("MAX_BODY", Bytes(crate::api::webhook::MAX_BODY as u64), None, "bytes of a webhook's body", "413"),
                b(
                    "REQUEST_TIMEOUT",
                    Time(crate::api::timeouts::REQUEST_TIMEOUT),
                    None,
                    "time an API request's handler has to answer",
                    "503, naming the bound",
                ),
                b(
                    "LONG_REQUEST_TIMEOUT",
                    Time(crate::api::timeouts::LONG_REQUEST_TIMEOUT),
                    None,
                    "time for a request uploading files, waiting for an execution or running tests",
                    "503, naming the bound",
                ),
                b(
                    "MAX_CONCURRENT_RUNS",
                    Count(crate::api::test_runs::MAX_CONCURRENT_RUNS as u64),
                    None,
                    "flow unit test runs (`POST /tests/{namespace}/{id}/run`) one server process runs at once",
                    "429, naming the bound",
                ),
                b(
                    "CASE_TIMEOUT",
                    Time(crate::api::test_runs::CASE_TIMEOUT),
                    None,
                    "time one test case's execution has in a run through the API",
                    "the execution is killed and the case fails (`ERROR`), naming the bound",
                ),
                b(
                    "RUN_TIMEOUT",
                    Time(crate::api::test_runs::RUN_TIMEOUT),
                    None,
                    "time a whole test run through the API has",
                    "503, naming the bound",
                ),
                b(
                    "MAX_TEST_FILES",
                    Count(crate::api::test_suites::MAX_TEST_FILES as u64),
                    None,
                    "test files a `GET /tests/search` reads",
                    "422, naming the bound",
                ),
                b(
                    "MAX_LAST_RESULTS",
                    Count(crate::api::test_suites::MAX_LAST_RESULTS as u64),
                    None,
                    "test suites one `POST /tests/results/search/last` asks for",
                    "422, naming the bound",
                ),
                b(
                    "MAX_SUITES_PER_RUN",
                    Count(crate::api::test_suites::MAX_SUITES_PER_RUN as u64),
                    None,
                    "test suites one `POST /tests/run` runs",
                    "422, naming the bound: narrow the query",
                ),
                b(
                    "MAX_RESULTS_PER_TEST",
                    Count(crate::api::test_history::MAX_RESULTS_PER_TEST as u64),
                    None,
                    "runs of one test suite kept in its history (`GET /tests/results/search`)",
                    "the oldest run is deleted as a new one is kept",
                ),
                b(
                    "MAX_HISTORY_FILES",
                    Count(crate::api::test_history::MAX_HISTORY_FILES as u64),
                    None,
                    "kept test runs a `GET /tests/results/search` or `GET /tests/results/{id}` reads",
                    "422, naming the bound",
                ),
                b(
                    "MAX_CONNECTIONS",
                    Count(crate::serve::MAX_CONNECTIONS as u64),
                    Some("BATON_HTTP_MAX_CONNECTIONS"),
                    "connections `baton server local` keeps open",
                    "a new connection takes the place of the one waiting longest on its client, or is closed when all are busy",
                ),
                b(
                    "MAX_CONNECTIONS_PER_CLIENT",
                    Count(crate::serve::MAX_CONNECTIONS_PER_CLIENT as u64),
                    Some("BATON_HTTP_MAX_CONNECTIONS_PER_CLIENT"),
                    "connections from one IP address on `baton server local`",
                    "as `MAX_CONNECTIONS`, among that address's connections",
                ),
                b(
                    "MAX_FUNCTION_CONNECTIONS",
                    Count(crate::serve::MAX_FUNCTION_CONNECTIONS as u64),
                    Some("BATON_HTTP_MAX_CONNECTIONS"),
                    "connections a Cloud Run function keeps open",
                    "as `MAX_CONNECTIONS`",
                ),
                b(
                    "HEADER_TIMEOUT",
                    Time(crate::serve::HEADER_TIMEOUT),
                    Some("BATON_HTTP_HEADER_TIMEOUT"),
                    "time for a request's headers to arrive",
                    "the connection is closed",
                ),
                b(
                    "MIN_BODY_RATE",
                    Rate(crate::serve_guard::MIN_BODY_RATE),
                    Some("BATON_HTTP_MIN_BODY_RATE"),
                    "the average rate of a request body after `BODY_GRACE`",
                    "the body's read fails naming the bound (400) and the connection closes",
                ),
                b(
                    "BODY_GRACE",
                    Time(crate::serve_guard::BODY_GRACE),
                    Some("BATON_HTTP_BODY_GRACE"),
                    "time a request body may take before `MIN_BODY_RATE` applies",
                    "see `MIN_BODY_RATE`",
                ),
                b(
                    "MAX_PUSH_BODY",
                    Bytes(crate::serve::MAX_PUSH_BODY as u64),
                    None,
                    "bytes of a Pub/Sub push a function reads",
                    "413",
                ),
                b(
                    "SESSION_TTL",
                    Time(crate::server::session::SESSION_TTL),
                    Some("BATON_SERVER_SESSION_HOURS"),
                    "how long a login on the web UI's login page lasts (`baton server local` under basic auth)",
                    "the session cookie is refused (401) and the page shows its login form again",
                ),
                b(
                    "MAX_LOGIN_BODY",
                    Bytes(crate::server::session::MAX_LOGIN_BODY as u64),
                    None,
                    "bytes of a login (`POST /auth/login`) read",
                    "413 naming the bound",
                ),
                b(
                    "LOGIN_FAILURES",
                    Count(u64::from(crate::server::throttle::LOGIN_FAILURES)),
                    Some("BATON_SERVER_LOGIN_FAILURES"),
                    "failed logins (login page or `Authorization: Basic`) from one client address per `LOGIN_WINDOW` (an IPv6 client: its /64)",
                    "every login attempt of the address, a right password included, is answered 429 with `Retry-After` naming the bound until the window ends; a valid session cookie still works",
                ),
                b(
                    "LOGIN_FAILURES_PER_USER",
                    Count(u64::from(
                        crate::server::throttle::LOGIN_FAILURES * crate::server::throttle::PER_USER_FACTOR,
                    )),
                    Some("BATON_SERVER_LOGIN_FAILURES"),
                    "failed logins for the configured user from all addresses together per `LOGIN_WINDOW` (ten times `LOGIN_FAILURES`)",
                    "every login attempt for the user is answered 429 with `Retry-After` until the window ends",
                ),
                b(
                    "LOGIN_WINDOW",
                    Time(crate::server::throttle::LOGIN_WINDOW),
                    Some("BATON_SERVER_LOGIN_WINDOW_SECONDS"),
                    "the window failed logins are counted in, from an address's (or the user's) first failure",
                    "the count is dropped",
                ),
                b(
                    "MAX_TRACKED_CLIENTS",
                    Count(crate::server::throttle::MAX_TRACKED_CLIENTS as u64),
                    None,
                    "client addresses whose failed logins are remembered at once",
                    "the address whose window started first is forgotten (a warning names the bound)",
                ),
                b(
                    "MAX_REVOKED",
                    Count(crate::server::revoke::MAX_REVOKED as u64),
                    None,
                    "sessions ended by a logout and not yet expired, kept per user in the state store",
                    "the next logout ends every session of the user (a warning names the bound)",
                ),
            ],
        ),
        (
            "Keys",
            vec![b(
                "MAX_PREVIOUS_KEYS",
                Count(crate::backend::seal::MAX_PREVIOUS_KEYS as u64),
                None,
                "keys of before a rotation in `BATON_SEAL_KEY_PREVIOUS` (each is tried on a value the current key cannot open)",
                "the functions stop at start naming the setting and the bound",
            )],
        ),
    ];
    sections.extend(super::limits_plugins::sections());
    sections
}

/// The page.
pub fn page() -> Page {
    let mut s = format!(
        "{MARK}\n# Bounds\n\nEvery resource bound Baton applies, with the name its message gives, so that a task \
         failed or a WARN naming a bound leads here. Past a bound a task either goes on within it (its logs go to a \
         file, its output is read later) or fails with a message naming the bound; nothing grows without one. \
         The settings are described with the others in the [configuration reference](configuration.md).\n"
    );
    for (title, bounds) in sections() {
        let rows: Vec<Vec<String>> = bounds
            .iter()
            .map(|b| {
                vec![code(b.name), b.value.show(), b.setting.map(code).unwrap_or_default(), cell(b.what), cell(b.past)]
            })
            .collect();
        s.push_str(&format!(
            "\n## {title}\n\n{}",
            table(&["bound", "value", "setting", "what it bounds", "past it"], &rows)
        ));
    }
    s.push_str(
        "\nThe store's growth for one execution's logs is at most about `MAX_EXECUTION_LOG_LINES` × 300 bytes plus \
         `MAX_EXECUTION_LOG_BYTES` (about 400 MiB with the defaults), and for one task attempt about \
         `MAX_TASK_LOG_LINES` × 300 bytes plus its messages (a flood of short lines: about 30 MB); SQLite's \
         write-ahead log beside it holds up to 32 MiB more until its next checkpoint.\n",
    );
    Page { path: "bounds.md".into(), title: "Bounds".into(), depth: 0, text: s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_on_the_page_once_with_its_value() {
        let page = page();
        for (_, bounds) in sections() {
            for b in bounds {
                let row = format!("| `{}` | {} |", b.name, b.value.show());
                assert_eq!(page.text.matches(&row).count(), 1, "{row}");
                if let Some(v) = b.setting {
                    assert!(crate::model::settings::find(v).is_some(), "{v} is not a declared setting");
                }
            }
        }
        assert!(page.text.contains("| `MAX_TASK_LOG_LINES` | 100,000 | `BATON_MAX_TASK_LOG_LINES` |"));
        assert!(page.text.contains("| `MAX_TASK_LOG_FILE_BYTES` | 1 GiB |"));
        assert!(page.text.contains("| `MIN_BODY_RATE` | 1 KiB/s |"));
    }
}
