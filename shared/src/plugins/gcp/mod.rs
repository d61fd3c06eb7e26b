//! (being built) gcp task plugins.

pub mod config;

pub use config::GcpConfig;

use super::Registry;

/// Registers this group's plugins.
pub fn register(_r: &mut Registry) {}
