//! The `api` Cloud Run function: the REST API (start and show executions, KV, backfills).

#[global_allocator]
static ALLOCATOR: shared::Allocator = shared::Allocator;

fn main() -> std::process::ExitCode {
    shared::functions::run(shared::functions::Handler::Api)
}
