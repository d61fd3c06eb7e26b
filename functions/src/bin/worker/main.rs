//! The `worker` Cloud Run function: jobs of the worker group `BATON_WORKER_GROUP` from `baton-tasks-<group>`.

#[global_allocator]
static ALLOCATOR: shared::Allocator = shared::Allocator;

fn main() -> std::process::ExitCode {
    shared::functions::run(shared::functions::Handler::Worker)
}
