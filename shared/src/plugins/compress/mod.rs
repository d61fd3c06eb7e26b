//! (being built) compress task plugins.

use super::Registry;

/// Registers this group's plugins.
pub fn register(_r: &mut Registry) {}
