//! The S3 tasks (`io.kestra.plugin.aws.s3.*`): objects (Upload, Download,
//! Downloads, List, Copy, Delete, DeleteList) and buckets (CreateBucket),
//! with what they share in [`common`] and [`action`]. The S3 `Trigger` is
//! the runtime's (`triggers::s3`), on the same listing and action.

pub mod action;
pub mod bucket;
pub mod common;
pub mod copy;
pub mod delete;
pub mod download;
pub mod downloads;
pub mod list;
pub mod upload;

use crate::Registry;

/// Registers the S3 tasks.
pub fn register(r: &mut Registry) {
    r.register(*upload::DEF);
    r.register(*download::DEF);
    r.register(*downloads::DEF);
    r.register(*list::DEF);
    r.register(*copy::DEF);
    r.register(*delete::DELETE);
    r.register(*delete::DELETE_LIST);
    r.register(*bucket::DEF);
}
