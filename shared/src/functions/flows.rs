//! Where a function finds its flows: a folder (`BATON_FLOWS`, e.g. baked
//! into the image), or internal storage under `/flows/` (what Terraform
//! uploads to the internal bucket as `flows/<namespace>/<id>.yml`).
//!
//! The engine reads them as they are now (`runtime::flow_files`), through
//! the [`FlowFiles`] this source opens.

use std::path::PathBuf;
use std::sync::Arc;

use crate::backend::Storage;
use crate::backend::flow_files::{BucketFlows, FlowFiles};

/// Where the flows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowSource {
    /// `*.yml`/`*.yaml` files under a folder.
    Dir(PathBuf),
    /// `*.yml`/`*.yaml` objects of internal storage under this prefix (`/flows`).
    Storage(String),
}

impl FlowSource {
    /// The flow files of this source, over `storage` for a bucket prefix.
    pub fn open(&self, storage: Arc<dyn Storage>) -> Arc<dyn FlowFiles> {
        match self {
            FlowSource::Dir(dir) => Arc::new(crate::backend::local::FolderFlows::new(dir)),
            FlowSource::Storage(prefix) => Arc::new(BucketFlows::new(storage, prefix)),
        }
    }
}
