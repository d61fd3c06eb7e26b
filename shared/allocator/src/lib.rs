//! The allocator every Baton binary declares (`#[global_allocator]`:
//! mimalloc) and its tuning. An execution's burst of small JSON values
//! (jobs, task runs, contexts) freed across threads left glibc's
//! per-thread arenas holding pages, so the binaries use mimalloc; [`tune`] then makes it hand freed
//! memory back soon: the peak RSS of `baton run` of a ForEach of 10,000
//! went from 146 to 113 MB at the same speed. Soon, not at once: with no
//! delay (`PURGE_DELAY_MS` 0) every page freed between two task runs was
//! handed back and faulted in again by the next — 3.6 page faults a task
//! run, a quarter of a ForEach's system time. 50 ms keeps a burst's pages
//! for its next task runs: a ForEach of 10,000 0.60 → 0.52 s and of
//! 100,000 6.0 → 5.5 s, for 7–10 MiB more at the peak (measured with
//! `MIMALLOC_PURGE_DELAY`, 2 cores, 2026-12-01). (Its arena-eager-commit
//! setting comes too late for the first arena, made before `main`; only
//! `MIMALLOC_ARENA_EAGER_COMMIT=0` in the environment reaches that one.)
//! The workspace builds
//! mimalloc with its `no_thp` feature: it had asked the kernel for
//! transparent huge pages on its arenas (`madvise(MADV_HUGEPAGE)`), so
//! every touched arena came in 2 MiB pages — an idle `baton run` held
//! 53 MB instead of 34, the ForEach of 10,000 87 MB instead of
//! 70, at the same speed (measured when the feature was set).
//!
//! The two options are set through `mi_option_set` with their indexes in
//! mimalloc v3's `mi_option_e` (the crate exports no constants for them);
//! a unit test checks that the indexes still name those options, by their
//! defaults. An option set in the environment (`MIMALLOC_PURGE_DELAY`,
//! `MIMALLOC_ARENA_EAGER_COMMIT`) is left as it is.
//!
//! This is a crate of its own because it is the workspace's only `unsafe`
//! code: the other crates keep `unsafe_code = "forbid"`, and mimalloc's
//! Rust crates offer no safe way to set an option (the environment is read
//! by a constructor before `main`, too late to set from inside).

#[cfg(not(feature = "system"))]
use std::os::raw::{c_int, c_long};

#[cfg(not(feature = "system"))]
pub use mimalloc::MiMalloc as Allocator;
/// With the `system` feature: glibc's malloc, which heap profilers see.
#[cfg(feature = "system")]
pub use std::alloc::System as Allocator;

#[cfg(not(feature = "system"))]
/// `mi_option_arena_eager_commit` in mimalloc v3's `mi_option_e` (default 2).
const ARENA_EAGER_COMMIT: c_int = 4;
#[cfg(not(feature = "system"))]
/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (default 1,000 ms).
const PURGE_DELAY: c_int = 15;

#[cfg(not(feature = "system"))]
unsafe extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
}

/// With the `system` feature there is nothing to tune.
#[cfg(feature = "system")]
pub fn tune() {}

/// How long mimalloc keeps freed pages before handing them back to the
/// system (its default is a second; the module header says why 50 ms).
#[cfg(not(feature = "system"))]
const PURGE_DELAY_MS: c_long = 50;

/// Tunes mimalloc for Baton's bursts: freed pages are purged after
/// [`PURGE_DELAY_MS`] (not a second later) and arena memory is committed on use. Call first thing in
/// `main`; idempotent.
#[cfg(not(feature = "system"))]
pub fn tune() {
    for (option, env, value) in
        [(PURGE_DELAY, "MIMALLOC_PURGE_DELAY", PURGE_DELAY_MS), (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0)]
    {
        if std::env::var_os(env).is_none() {
            // SAFETY: mimalloc's option setter takes any option index below
            // `_mi_option_last` and any value; both indexes are checked by
            // the test below against the option's default.
            unsafe { mi_option_set(option, value) };
        }
    }
}

/// The current value of a mimalloc option (for tests and diagnostics).
#[cfg(all(test, not(feature = "system")))]
fn get(option: c_int) -> c_long {
    // SAFETY: as in `tune`.
    unsafe { mi_option_get(option) }
}

#[cfg(all(test, not(feature = "system")))]
mod tests {
    use super::*;

    #[test]
    fn the_option_indexes_name_purge_delay_and_arena_eager_commit() {
        // the defaults identify the options (mimalloc v3: purge_delay 1000,
        // arena_eager_commit 2) unless the environment set them
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
            && std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none()
        {
            assert_eq!(get(PURGE_DELAY), 1000, "mi_option_purge_delay moved: check mimalloc's mi_option_e");
            assert_eq!(get(ARENA_EAGER_COMMIT), 2, "mi_option_arena_eager_commit moved: check mimalloc's mi_option_e");
            tune();
            assert_eq!(get(PURGE_DELAY), PURGE_DELAY_MS);
            assert_eq!(get(ARENA_EAGER_COMMIT), 0);
        }
    }
}
