//! The switch and the span macro for the I/O a task does — HTTP calls,
//! SQL statements, processes, GCS and BigQuery requests — as children of
//! the task run attempt's trace span.
//!
//! Off unless a binary exports traces (`baton_runtime`'s telemetry turns
//! it on with the OpenTelemetry layer): then [`io_span!`] makes no span, at
//! the cost of one relaxed atomic load, and log lines carry no I/O fields.
//! The switch lives here, below the plugins and the Google Cloud clients
//! that open the spans and the runtime that sets it.

use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

/// Turns the I/O spans on or off (the runtime's telemetry switch).
pub fn set_enabled(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// Whether I/O spans are made.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Whether the current span is one of the traced ones (a task run attempt
/// or an I/O span inside it): I/O outside an attempt (a function loading
/// its flows, the API) is not traced.
pub fn in_attempt() -> bool {
    tracing::Span::current().metadata().is_some_and(|m| m.target() == TARGET)
}

/// The `tracing` target of the traced spans.
pub const TARGET: &str = "baton::trace";

/// A span for one I/O call (`tracing::info_span!` under the target
/// `baton::trace`) inside a task run attempt, or `Span::none()` when traces
/// are off or no attempt is running here. Instrument the call's future
/// with it (`tracing::Instrument`).
#[macro_export]
macro_rules! io_span {
    ($name:expr $(, $($fields:tt)*)?) => {
        if $crate::io_trace::enabled() && $crate::io_trace::in_attempt() {
            ::tracing::info_span!(target: "baton::trace", $name $(, $($fields)*)?)
        } else {
            ::tracing::Span::none()
        }
    };
}
