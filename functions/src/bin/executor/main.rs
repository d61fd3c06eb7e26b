//! The `executor` Cloud Run function: execution events from the `baton-executions` push subscription.

fn main() -> std::process::ExitCode {
    shared::functions::run(shared::functions::Handler::Executor)
}
