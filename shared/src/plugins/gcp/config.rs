//! Run-time settings of the gcp plugins (part of `PluginConfig`).

/// Settings of the gcp plugins.
#[derive(Debug, Clone, Default)]
pub struct GcpConfig {}

impl GcpConfig {
    /// Reads the settings from the environment.
    pub fn from_env() -> GcpConfig {
        GcpConfig {}
    }
}
