//! The GCS tasks (`io.kestra.plugin.gcp.gcs.*`): objects (Upload,
//! Download, Downloads, Delete, DeleteList, List, Copy, Compose) and
//! buckets (CreateBucket, UpdateBucket, DeleteBucket, CreateBucketIamPolicy).

pub mod blob;
pub mod bucket;
pub mod checksum;
pub mod compose;
pub mod copy;
pub mod delete;
pub mod delete_list;
pub mod download;
pub mod downloads;
pub mod iam_policy;
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
    r.register(*compose::DEF);
    r.register(*downloads::DEF);
    r.register(*bucket::UPDATE);
    r.register(*iam_policy::DEF);
}
