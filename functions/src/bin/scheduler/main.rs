//! The `scheduler` Cloud Run function: Cloud Scheduler ticks, backfill requests and the sweep from `baton-scheduler`.

#[global_allocator]
static ALLOCATOR: shared::Allocator = shared::Allocator;

fn main() -> std::process::ExitCode {
    shared::functions::run(shared::functions::Handler::Scheduler)
}
