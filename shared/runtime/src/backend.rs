//! The backends, as this crate and its users name them: the contracts
//! (`baton-backend`), the embedded implementations (`baton-local`, as
//! [`local`]) and the GCP ones (`baton-gcp`'s store, as [`gcp`]).

pub use baton_backend::*;
#[cfg(feature = "gcp")]
pub use baton_gcp::store as gcp;
pub use baton_local as local;
