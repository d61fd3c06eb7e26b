//! (being built) scripts task plugins.

pub mod config;

pub use config::ScriptsConfig;

use super::Registry;

/// Registers this group's plugins.
pub fn register(_r: &mut Registry) {}
