//! Baton's Cloud Run functions. Each binary (`executor`, `scheduler`,
//! `worker`, `api`) is one call to [`shared::functions::run`]; the runtime
//! and the handlers live in `shared::functions`. See `functions/README.md`.

pub use shared::functions::{Handler, run};
