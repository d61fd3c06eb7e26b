//! The `executor` Cloud Run function: execution events from the `baton-executions` push subscription.

#[global_allocator]
static ALLOCATOR: shared::Allocator = shared::Allocator;

fn main() -> std::process::ExitCode {
    shared::functions::run(shared::functions::Handler::Executor)
}
