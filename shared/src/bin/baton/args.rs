//! The command line: clap definitions and dispatch to the command modules.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "baton", version, about = "Run Kestra flows without a Kestra server")]
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
    /// Validate flow files or folders; report every problem.
    Validate {
        /// Files or folders (*.yml, *.yaml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
    /// Do not echo task logs on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum ExecutionsCommand {
    /// List executions, newest first.
    List {
        #[arg(long = "flow")]
        flow: Option<String>,
        #[arg(long)]
        namespace: Option<String>,
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
}

#[derive(Subcommand)]
pub enum KvCommand {
    /// Set a key. The value is parsed as JSON when --type is not given and it parses.
    Set {
        #[arg(long, short = 'n')]
        namespace: String,
        key: String,
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
        Command::Run(a) => return super::run::run(&home, a).await,
        Command::Validate { paths } => return super::validate::validate(&paths),
        Command::Executions { command } => super::executions::executions(&home, command).await,
        Command::Logs { id, json } => super::executions::logs(&home, &id, json).await,
        Command::Kv { command } => super::kv::kv(&home, command).await,
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
