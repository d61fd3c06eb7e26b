//! The `scheduler` Cloud Run function: Cloud Scheduler ticks, backfill requests and the sweep from `baton-scheduler`.

fn main() -> std::process::ExitCode {
    shared::functions::run(shared::functions::Handler::Scheduler)
}
