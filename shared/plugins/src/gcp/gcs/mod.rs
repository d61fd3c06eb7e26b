//! The GCS tasks (`io.kestra.plugin.gcp.gcs.*`): objects (Upload,
//! Download, Delete, DeleteList, List, Copy) and buckets (CreateBucket,
//! DeleteBucket).

pub mod blob;
pub mod bucket;
pub mod copy;
pub mod delete;
pub mod delete_list;
pub mod download;
pub mod list;
pub mod upload;

use crate::Registry;

/// Registers the GCS tasks.
pub fn register(r: &mut Registry) {
    r.register(*upload::DEF);
    r.register(*download::DEF);
    r.register(*delete::DEF);
    r.register(*delete_list::DEF);
    r.register(*list::DEF);
    r.register(*copy::DEF);
    r.register(*bucket::CREATE);
    r.register(*bucket::DELETE);
}
