//! Kestra's core runnable tasks (`io.kestra.plugin.core.*`).

use super::Registry;

/// Registers the core plugins.
pub fn register(_r: &mut Registry) {}
