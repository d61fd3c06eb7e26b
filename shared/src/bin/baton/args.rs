//! The command line: clap definitions and dispatch to the command modules.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "baton", version = shared::VERSION, about = "Run Kestra flows without a Kestra server")]
pub struct Cli {
    /// State folder (SQLite, internal storage). Default: $BATON_HOME or ~/.baton
    #[arg(long, global = true, env = "BATON_HOME")]
    pub home: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run one execution of a flow to the end.
    Run(RunArgs),
    /// Run flow unit tests: Kestra's test files (`flowId`, `testCases`)
    /// beside their flows, each case a transient execution with its tasks
    /// mocked as its fixtures say, on a throwaway home.
    Test(super::test_cmd::TestArgs),
    /// Validate flow files or folders; report every problem.
    Validate {
        /// Files or folders (*.yml, *.yaml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The Kestra dialect: `auto` (each flow's own, by the rule of the
        /// docs' compatibility/dialects page), `1` or `2` (every flow without a baton.dialect label).
        #[arg(long, env = "BATON_DIALECT", default_value = "auto", value_parser = parse_dialect)]
        dialect: shared::dialect::Policy,
    },
    /// Rewrite Kestra 1.x flows in the Kestra 2.0 dialect.
    Migrate {
        /// Files or folders (*.yml, *.yaml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write nothing; list what needs migrating and exit 1 if anything does.
        #[arg(long)]
        check: bool,
        /// Print a unified diff instead of the migrated flows.
        #[arg(long)]
        diff: bool,
        /// Rewrite the files where they are.
        #[arg(long, conflicts_with = "out")]
        in_place: bool,
        /// Write the migrated flows under this folder.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// List or show executions.
    Executions {
        #[command(subcommand)]
        command: ExecutionsCommand,
    },
    /// Show the logs of an execution.
    Logs {
        /// Execution id.
        id: String,
        /// Print JSON log entries.
        #[arg(long)]
        json: bool,
    },
    /// Read and write the KV store.
    Kv {
        #[command(subcommand)]
        command: KvCommand,
    },
    /// List, read, write and delete namespace files.
    Nsfiles {
        #[command(subcommand)]
        command: super::nsfiles::NsFilesCommand,
    },
    /// Run a Schedule trigger's ticks between two dates; list, pause, resume, cancel backfills.
    Backfill(BackfillArgs),
    /// Run a long-lived server (scheduler, executor, workers, HTTP API).
    Server {
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// List the task, trigger, condition and runner types; show one; print
    /// the flow JSON Schema for editors; or write the reference pages.
    Plugins {
        /// A type (or a legacy alias) to describe.
        #[arg(value_name = "TYPE", conflicts_with_all = ["schema", "doc"])]
        type_name: Option<String>,
        /// Print the JSON Schema of a flow (draft-07) instead.
        #[arg(long, conflicts_with = "doc")]
        schema: bool,
        /// With --schema: write it to this file.
        #[arg(short = 'o', long = "out", requires = "schema")]
        out: Option<PathBuf>,
        /// Write the reference pages (a page per type and per plugin group,
        /// the command line, the configuration, the API routes) into DIR,
        /// and their table of contents into the SUMMARY.md beside DIR:
        /// `baton plugins --doc docs/src/reference`.
        #[arg(long, value_name = "DIR")]
        doc: Option<PathBuf>,
    },
    /// Flows: validate them; on a running server or GCP deployment, push a
    /// folder, list, delete (also spelt `flow`, as Kestra's CLI:
    /// `flow validate`, `flow namespace update`).
    #[command(visible_alias = "flow")]
    Flows {
        #[command(subcommand)]
        command: super::flows_cmd::FlowsCommand,
    },
    /// Print a shell completion script: `source <(baton completions bash)`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackfillArgs {
    #[command(subcommand)]
    pub command: Option<BackfillCommand>,
    #[command(flatten)]
    pub run: BackfillRunArgs,
}

#[derive(clap::Args)]
pub struct BackfillRunArgs {
    /// The flow: a file, or namespace.id of a flow in --flows DIR (or on the --server).
    pub flow: Option<String>,
    /// The Schedule trigger's id (default: the flow's only Schedule trigger).
    #[arg(long)]
    pub trigger: Option<String>,
    /// First date (inclusive): 2019-01-01, 2019-01-01T09:00, or ISO with an offset.
    #[arg(long)]
    pub start: Option<String>,
    /// Last date (inclusive; default now), same forms as --start.
    #[arg(long)]
    pub end: Option<String>,
    /// An input overriding the trigger's, as key=value (repeatable).
    #[arg(long = "input", short = 'i', value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// A label added to each execution, as key=value (repeatable).
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Also replay ticks that already have a successful execution.
    #[arg(long)]
    pub rerun_successful: bool,
    /// Submit to a running `baton server local` (e.g. http://127.0.0.1:8080) instead of running here.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// A folder of flows (the flow itself as namespace.id, and the subflows it calls).
    #[arg(long = "flows", value_name = "DIR")]
    pub flows: Vec<PathBuf>,
    /// Worker loops per worker group.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Echo task logs on stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Subcommand)]
pub enum BackfillCommand {
    /// List backfills, newest first.
    List {
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Pause a backfill (running executions go on).
    Pause {
        id: String,
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// Resume a paused (or interrupted) backfill: here until it ends, or on the --server.
    Resume {
        id: String,
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// A folder holding the backfill's flow (when run here).
        #[arg(long = "flows", value_name = "DIR")]
        flows: Vec<PathBuf>,
        #[arg(long, default_value_t = 8)]
        workers: usize,
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    /// Cancel a backfill: no more executions are created.
    Cancel {
        id: String,
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ServerCommand {
    /// One process on this machine: scheduler, executor, workers and the HTTP API.
    Local(ServerArgs),
}

#[derive(clap::Args)]
pub struct ServerArgs {
    /// The flows folder (reloaded when a file changes).
    #[arg(long, value_name = "DIR", default_value = "flows")]
    pub flows: PathBuf,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Worker loops per worker group.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Log format on stderr: text or json.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Echo task logs on stderr.
    #[arg(long)]
    pub echo_logs: bool,
    /// Kestra-style basic auth, `user:password`: every API call then needs
    /// `-u user:password`. Required with a --bind other than loopback.
    #[arg(long, value_name = "USER:PASSWORD", env = "BATON_SERVER_BASIC_AUTH", hide_env_values = true)]
    pub basic_auth: Option<String>,
    /// Host names accepted in the Host header besides localhost (comma-separated).
    #[arg(long, value_name = "NAMES", env = "BATON_SERVER_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// (JSON logs, default level): the server logs at info, other commands at warn.
    pub fn log_style(&self) -> (bool, &'static str) {
        match &self.command {
            Command::Server { command: ServerCommand::Local(a) } => (a.log_format == LogFormat::Json, "info"),
            _ => (false, "warn"),
        }
    }
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The flow file.
    pub flow: PathBuf,
    /// An input, as key=value (repeatable).
    #[arg(long = "input", short = 'i', value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// A label to add, as key=value (repeatable).
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Print the final execution as Kestra's JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// A folder of flows that Subflow tasks may call.
    #[arg(long = "flows", value_name = "DIR")]
    pub flows: Vec<PathBuf>,
    /// Worker loops per worker group.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Quiet: no task logs and no per-task progress lines on stderr, only
    /// the execution's first and last lines and the task runs that failed.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// A progress bar on stderr (task runs ended of those created, rate,
    /// elapsed) for long loops, in place of the per-task lines: as `-q`, only
    /// failures are said. Drawn only when stderr is a terminal.
    #[arg(long)]
    pub progress: bool,
}

#[derive(Subcommand)]
pub enum ExecutionsCommand {
    /// List executions, newest first.
    List {
        /// The flow: namespace.id (as the list prints it) or its id.
        #[arg(long = "flow")]
        flow: Option<String>,
        #[arg(long)]
        namespace: Option<String>,
        /// Only executions in this state (SUCCESS, FAILED, RUNNING…).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one execution.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Kill an execution left RUNNING or QUEUED (e.g. by a `baton run` that was killed).
    Kill { id: String },
    /// Resume a PAUSED execution (a Pause task) with its onResume inputs, or
    /// drive on here an execution left RUNNING by a process that died (what it
    /// held runs again); either way it then goes on here to its end.
    Resume {
        id: String,
        /// An onResume input of the paused Pause task, key=value (a FILE
        /// input takes a local path or a kestra:// URI). Repeatable.
        #[arg(long = "input", short = 'i')]
        inputs: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum KvCommand {
    /// Set a key. The value is parsed as JSON when --type is not given and it parses.
    Set {
        #[arg(long, short = 'n')]
        namespace: String,
        key: String,
        /// The value; `@FILE` reads it from a file, `-` from stdin (`@@x` is the text `@x`).
        value: String,
        /// STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Time to live, ISO-8601 (e.g. PT1H).
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Get a key's value.
    Get {
        #[arg(long, short = 'n')]
        namespace: String,
        key: String,
    },
    /// List a namespace's keys.
    List {
        #[arg(long, short = 'n')]
        namespace: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a key.
    Delete {
        #[arg(long, short = 'n')]
        namespace: String,
        key: String,
    },
}

/// Runs the command; returns the exit code.
pub async fn dispatch(cli: Cli) -> i32 {
    let home = super::home::resolve(cli.home);
    let result = match cli.command {
        // a task of the runtime, not on the thread that blocks on it: what it
        // waits for (an execution's updates, one a step) wakes it on the
        // runtime's threads instead of waking a thread parked outside them
        Command::Run(a) => {
            return tokio::spawn(async move { super::run::run(&home, a).await }).await.unwrap_or_else(|e| {
                eprintln!("error: baton run stopped before the execution's end was known: {e}");
                1
            });
        }
        Command::Test(a) => return super::test_cmd::test(a).await,
        Command::Validate { paths, dialect } => return super::validate::validate(&paths, dialect),
        Command::Migrate { paths, check, diff, in_place, out } => {
            return super::migrate::migrate(&paths, &super::migrate::Options { check, diff, in_place, out });
        }
        Command::Executions { command } => super::executions::executions(&home, command).await,
        Command::Logs { id, json } => super::executions::logs(&home, &id, json).await,
        Command::Kv { command } => super::kv::kv(&home, command).await,
        Command::Nsfiles { command } => super::nsfiles::nsfiles(&home, command).await,
        Command::Backfill(a) => return super::backfill::backfill(&home, a).await,
        Command::Server { command: ServerCommand::Local(a) } => return super::server::server(&home, a).await,
        Command::Plugins { doc: Some(dir), .. } => return super::plugins::doc(&dir),
        Command::Plugins { type_name, schema, out, doc: None } => {
            return super::plugins::plugins(type_name.as_deref(), schema, out.as_ref());
        }
        Command::Flows { command } => return super::flows_cmd::flows(command).await,
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "baton", &mut std::io::stdout());
            return 0;
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// Splits `key=value`.
pub fn key_value(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => anyhow::bail!("'{s}' must be written key=value"),
    }
}

/// `--dialect auto|1|2`.
pub fn parse_dialect(s: &str) -> Result<shared::dialect::Policy, String> {
    shared::dialect::Policy::parse(s).map_err(|e| e.to_string())
}
