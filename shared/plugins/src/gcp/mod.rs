//! The GCP task plugins (`io.kestra.plugin.gcp.*`, worker group `gcp`):
//! GCS ([`gcs`]), BigQuery ([`bigquery`]), Pub/Sub ([`pubsub`]), Firestore
//! ([`firestore`]), HTTP functions ([`function`]), OAuth
//! tokens ([`auth`]), Gemini on Vertex AI ([`vertexai`], with media:
//! [`vertexai_multimodal`]) and its custom
//! jobs ([`vertexai_job`]), Dataproc batches and clusters ([`dataproc`]),
//! Dataflow jobs ([`dataflow`]) and Dataform workflows ([`dataform`]), with
//! what they share in
//! [`common`] (credentials, project, clients), the REST calls of the APIs
//! without an emulator in [`rest`] and their settings in
//! [`config`]. The clients and credentials themselves are in [`baton_gcp`].

pub mod auth;
pub mod bigquery;
pub mod common;
pub mod config;
pub mod dataflow;
pub mod dataform;
pub mod dataproc;
pub mod firestore;
pub mod function;
pub mod gcs;
pub mod pubsub;
pub mod rest;
pub mod vertexai;
pub mod vertexai_job;
pub mod vertexai_multimodal;
pub mod vertexai_spec;

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
    r.register(*vertexai::CHAT);
    r.register(*vertexai::TEXT);
    r.register(*vertexai_multimodal::DEF);
    dataproc::register(r);
    dataflow::register(r);
    r.register(*dataform::DEF);
    r.register(*vertexai_job::DEF);
}
