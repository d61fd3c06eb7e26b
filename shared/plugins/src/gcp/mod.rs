//! The GCP task plugins (`io.kestra.plugin.gcp.*`, worker group `gcp`):
//! GCS ([`gcs`]), BigQuery ([`bigquery`]), Pub/Sub ([`pubsub`]), Firestore
//! ([`firestore`]), HTTP functions ([`function`]) and OAuth
//! tokens ([`auth`]), with what they share in
//! [`common`] (credentials, project, clients) and their settings in
//! [`config`]. The clients and credentials themselves are in [`baton_gcp`].

pub mod auth;
pub mod bigquery;
pub mod common;
pub mod config;
pub mod firestore;
pub mod function;
pub mod gcs;
pub mod pubsub;

pub use config::GcpConfig;

use super::Registry;

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    gcs::register(r);
    bigquery::register(r);
    pubsub::register(r);
    firestore::register(r);
    r.register(*function::DEF);
    r.register(*auth::DEF);
}
