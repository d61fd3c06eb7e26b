//! Format conversion tasks (`io.kestra.plugin.serdes.*`): CSV, JSON, Avro,
//! Parquet, Excel and XML to and from Ion, Kestra's row format in internal storage. Each converter
//! runs on a blocking thread between two storage streams
//! ([`common::convert`]), so a file of any size passes with a bounded
//! footprint; run by the `core` worker group.

mod avro;
mod avro_value;
mod charset;
mod common;
mod csv_read;
mod csv_write;
mod exact;
mod excel_read;
mod excel_write;
mod ion_dates;
mod java_time;
mod json;
mod parquet_read;
mod parquet_schema;
#[cfg(test)]
mod parquet_tests;
mod parquet_write;
#[cfg(test)]
mod test_support;
mod xml_number;
mod xml_read;
mod xml_tree;
mod xml_write;

use super::Registry;

/// Registers this family's plugins.
pub fn register(r: &mut Registry) {
    r.register(*csv_read::CSV_TO_ION);
    r.register(*csv_write::ION_TO_CSV);
    r.register(*json::JSON_TO_ION);
    r.register(*json::ION_TO_JSON);
    r.register(*avro::AVRO_TO_ION);
    r.register(*avro::ION_TO_AVRO);
    r.register(*parquet_read::PARQUET_TO_ION);
    r.register(*parquet_write::ION_TO_PARQUET);
    r.register(*excel_write::ION_TO_EXCEL);
    r.register(*excel_read::EXCEL_TO_ION);
    r.register(*xml_read::XML_TO_ION);
    r.register(*xml_write::ION_TO_XML);
}
