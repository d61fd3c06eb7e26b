//! The GCP task plugins (`io.kestra.plugin.gcp.*`, worker group `gcp`):
//! GCS ([`gcs`]), BigQuery ([`bigquery`]) and Pub/Sub ([`pubsub`]), with what they share in
//! [`common`] (credentials, project, clients) and their settings in
//! [`config`]. The clients and credentials themselves are in [`baton_gcp`].

pub mod bigquery;
pub mod common;
pub mod config;
pub mod gcs;
pub mod pubsub;

pub use config::GcpConfig;

use super::Registry;

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    gcs::register(r);
    bigquery::register(r);
    pubsub::register(r);
}
