//! Google Cloud access shared by the GCP task plugins and the GCP runtime:
//! service-account keys ([`key`]), credentials and tokens ([`auth`],
//! [`impersonate`], [`oauth`]), where the services are ([`endpoints`], emulators
//! included), the GCS, BigQuery and Pub/Sub clients ([`gcs`], [`bigquery`],
//! [`pubsub`]), Firestore documents for the tasks ([`documents`]) and the
//! per-credential client cache ([`cache`]). No global state: the cache and
//! the endpoints are handed down by whoever builds the engine.

pub mod auth;
pub mod bigquery;
pub mod cache;
pub mod cloud_run;
pub mod documents;
pub mod endpoints;
pub mod gcs;
pub mod impersonate;
pub mod key;
pub mod oauth;
pub mod percent;
pub mod pubsub;
pub mod scheduler;
pub mod store;

pub use auth::{AuthError, AuthSpec, GcpCredentials};
pub use cache::ClientCache;
pub use endpoints::Endpoints;
pub use key::{KeyError, ServiceAccountKey};

/// The scope Kestra's GCP tasks ask for by default.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

pub use baton_backend::causes;
