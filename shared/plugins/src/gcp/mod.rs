//! The GCP task plugins (`io.kestra.plugin.gcp.*`, worker group `gcp`):
//! GCS ([`gcs`]), BigQuery ([`bigquery`]), Pub/Sub ([`pubsub`]) and OAuth
//! tokens ([`auth`]), with what they share in
//! [`common`] (credentials, project, clients) and their settings in
//! [`config`]. The clients and credentials themselves are in [`baton_gcp`].

pub mod auth;
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
    r.register(*auth::DEF);
}
