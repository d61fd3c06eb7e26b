//! `baton`: run Kestra flows without a Kestra server. This file only parses
//! arguments, sets up logging and the async runtime, and maps the outcome to
//! an exit code; each command lives in its own module.

#[global_allocator]
static ALLOCATOR: shared::Allocator = shared::Allocator;

mod args;
mod backfill;
mod executions;
mod flows_cmd;
mod home;
mod kv;
mod migrate;
mod nsfiles;
mod plugins;
mod progress;
mod push;
mod resume;
mod run;
mod run_bar;
mod server;
mod style;
mod suggest;
mod table;
mod test_cmd;
mod validate;

use std::io::IsTerminal;

fn main() {
    // a task's shim runs its program and exits; else script tasks get one
    shared::plugins::scripts::shim::enter_if_asked();
    shared::allocator::tune();
    // the watchdog of a `baton` that runs tasks: kills what it started once it is gone
    if let Ok(owner) = std::env::var(shared::plugins::scripts::reap::WATCHDOG) {
        shared::plugins::scripts::reap::watch(&owner);
        return;
    }
    // `baton … | head`: end quietly on a closed pipe (exit 141, as a shell
    // reports SIGPIPE) instead of println!'s panic: Rust ignores SIGPIPE
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let cli = suggest::parse();
    if cfg!(target_os = "linux")
        && matches!(
            cli.command,
            args::Command::Run(_)
                | args::Command::Test(_)
                | args::Command::Server { .. }
                | args::Command::Backfill(_)
                | args::Command::Executions { command: args::ExecutionsCommand::Resume { .. } }
        )
        && let Err(e) = shared::plugins::scripts::reap::spawn_watchdog()
    {
        eprintln!("warning: cannot start the watchdog that stops task processes if baton is killed: {e}");
    }
    // a bad setting stops the CLI before anything starts, as a bad flag does
    if let Err(e) = shared::runtime::embedded::executor_lanes_setting() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let (json_logs, level) = cli.log_style();
    let filter = tracing_subscriber::EnvFilter::try_from_env("BATON_LOG").unwrap_or_else(|_| level.into());
    // colour only on a terminal, and never under NO_COLOR (no-color.org)
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // traces, when the OTEL_* variables ask for them (off and free otherwise)
    let (telemetry, traces) = match shared::telemetry::from_env("baton") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    {
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let lines = if json_logs {
            tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).with_filter(filter).boxed()
        } else {
            tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr).with_filter(filter).boxed()
        };
        tracing_subscriber::registry().with(traces).with(lines).init();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // `baton run` drives one execution, whose executor and worker mostly
    // hand a single task run back and forth: on one worker thread every
    // hand-over is a local wake; on two, tokio wakes the parked thread
    // every third one (an eventfd write and a migration), a fifth of a long
    // chain's time. Blocking work (SQLite checkpoints, DuckDB, archives,
    // containers) has threads of its own. TOKIO_WORKER_THREADS overrides.
    if matches!(cli.command, args::Command::Run(_)) && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(args::dispatch(cli));
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    // what tasks left dies now, and the watchdog ends and is reaped (no
    // zombie left under an init that does not reap)
    shared::plugins::scripts::reap::stop_watchdog();
    // the spans still queued are sent (exit skips destructors)
    drop(telemetry);
    std::process::exit(code);
}
