//! Back-pressure of `baton server local`: a request that would start an
//! execution is answered 429 with `Retry-After` while the in-process
//! backlog — execution events not yet decided and task jobs no worker has
//! taken yet ([`LocalQueue::waiting`](crate::backend::local::LocalQueue::waiting))
//! — is at [`MAX_BACKLOG`] (`BATON_MAX_BACKLOG`). The server then accepts
//! executions only as fast as it ends them, instead of piling up work it
//! finishes minutes later. The functions take no part: their queue is
//! Pub/Sub, and Cloud Run scales on it.

use std::sync::OnceLock;

use super::error::{ApiError, ApiResult};
use crate::runtime::engine::Engine;

/// The default bound on the in-process backlog, in messages.
pub const MAX_BACKLOG: usize = 1_000;

/// The bound in force: `BATON_MAX_BACKLOG` when it is a positive number
/// (anything else is logged and ignored), else [`MAX_BACKLOG`].
pub fn max_backlog() -> usize {
    static BOUND: OnceLock<usize> = OnceLock::new();
    *BOUND.get_or_init(|| match std::env::var("BATON_MAX_BACKLOG") {
        Ok(v) => match v.trim().replace('_', "").parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                tracing::warn!(value = %v, "BATON_MAX_BACKLOG is not a positive number: using the default");
                MAX_BACKLOG
            }
        },
        Err(_) => MAX_BACKLOG,
    })
}

/// Admits one more execution, or refuses it (429) naming the bound.
pub fn admit(engine: &Engine) -> ApiResult<()> {
    let Some(queue) = engine.queue.local() else { return Ok(()) };
    let (waiting, bound) = (queue.waiting(), max_backlog());
    if waiting < bound {
        return Ok(());
    }
    crate::runtime::metrics::refused("MAX_BACKLOG");
    Err(ApiError::too_many(format!(
        "the server is busy: {waiting} messages wait for the executor and the workers, at the bound MAX_BACKLOG ({bound}, BATON_MAX_BACKLOG); retry after {} s",
        super::error::RETRY_AFTER_SECONDS
    )))
}
