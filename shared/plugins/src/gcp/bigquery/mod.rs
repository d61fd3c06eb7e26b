//! The BigQuery tasks (`io.kestra.plugin.gcp.bigquery.*`): Query,
//! CreateDataset, UpdateDataset, DeleteDataset, CreateTable, DeleteTable, UpdateTable,
//! TableMetadata, Load, LoadFromGcs, Copy, CopyPartitions, DeletePartitions,
//! ExtractToGcs, StorageWrite (the Storage Write API over gRPC) and
//! RunTransferConfig (Data Transfer Service).

pub mod cells;
pub mod copy;
pub mod dataset;
pub mod extract;
pub mod job;
pub mod load;
pub mod partitions;
pub mod query;
pub mod storage_grpc;
pub mod storage_rows;
pub mod storage_values;
pub mod storage_write;
pub mod table;
pub mod table_meta;
pub mod table_ref;
pub mod transfer;

use crate::Registry;

/// Registers the BigQuery tasks.
pub fn register(r: &mut Registry) {
    r.register(*query::DEF);
    r.register(*dataset::CREATE);
    r.register(*dataset::UPDATE);
    r.register(*dataset::DELETE);
    r.register(*table::CREATE);
    r.register(*table::DELETE);
    r.register(*load::LOAD);
    r.register(*load::LOAD_FROM_GCS);
    r.register(*copy::DEF);
    r.register(*partitions::COPY);
    r.register(*partitions::DELETE);
    r.register(*extract::DEF);
    r.register(*storage_write::DEF);
    r.register(*table_meta::METADATA);
    r.register(*table_meta::UPDATE);
    r.register(*transfer::DEF);
}
