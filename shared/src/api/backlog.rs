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
use crate::serve::{LimitSettingError, read_setting};

/// The default bound on the in-process backlog, in messages.
pub const MAX_BACKLOG: usize = 1_000;

/// The largest `BATON_MAX_BACKLOG` taken.
const MAX_BACKLOG_SETTING: u64 = 1_000_000;

static BOUND: OnceLock<usize> = OnceLock::new();

/// Reads `BATON_MAX_BACKLOG` through `get` once, at the server's start: a
/// whole number from 1 to [`MAX_BACKLOG_SETTING`], or an error naming it
/// (the server does not start). Unset: [`MAX_BACKLOG`].
pub fn configure(get: impl Fn(&str) -> Option<String>) -> Result<usize, LimitSettingError> {
    let n = read_setting(&get, "BATON_MAX_BACKLOG", 1, MAX_BACKLOG_SETTING, "messages")?
        .map_or(MAX_BACKLOG, |n| n as usize);
    Ok(*BOUND.get_or_init(|| n))
}

/// The bound in force: what [`configure`] read, else [`MAX_BACKLOG`].
pub fn max_backlog() -> usize {
    BOUND.get().copied().unwrap_or(MAX_BACKLOG)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_max_backlog_is_refused_naming_the_variable() {
        for bad in ["0", "-3", "many", "2000000"] {
            let e = configure(|_| Some(bad.to_string())).expect_err(bad);
            assert_eq!(e.name, "BATON_MAX_BACKLOG");
            assert!(e.to_string().contains(&format!("BATON_MAX_BACKLOG={bad}")), "{e}");
        }
        assert_eq!(max_backlog(), MAX_BACKLOG, "nothing configured by a refused value");
    }
}
