//! Docs of the Google Cloud tasks (`io.kestra.plugin.gcp.*`).

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

/// The properties the GCP tasks share (auth, BigQuery jobs, buckets).
pub(super) const POOL: &[PropDoc] = &[
    PropDoc::new("projectId", "The Google Cloud project; the runtime's when absent."),
    PropDoc::new("serviceAccount", "A service account key (JSON); the runtime's credentials when absent."),
    PropDoc::new("scopes", "OAuth scopes.").default("[\"https://www.googleapis.com/auth/cloud-platform\"]"),
    PropDoc::new("impersonatedServiceAccount", "Act as this service account."),
    PropDoc::new("location", "The BigQuery location (EU, US, europe-west1…)."),
    PropDoc::new("retryReasons", "BigQuery error reasons that retry the job."),
    PropDoc::new("retryMessages", "BigQuery error messages that retry the job."),
    PropDoc::new("name", "The dataset's or bucket's name."),
    PropDoc::new("ifExists", "What to do when it already exists.").values(&["ERROR", "UPDATE", "SKIP"]).default("\"ERROR\""),
    PropDoc::new("friendlyName", "A display name."),
    PropDoc::new("labels", "Labels set on the resource."),
    PropDoc::new("dataset", "The dataset."),
    PropDoc::new("table", "The table."),
    PropDoc::new("from", "Where to read from (a gs:// URI or a kestra:// file)."),
    PropDoc::new("to", "Where to write to (a gs:// URI)."),
    PropDoc::new("destinationTable", "The table written: project.dataset.table."),
    PropDoc::new("format", "The input format.").values(&["CSV", "JSON", "AVRO", "PARQUET", "ORC"]),
    PropDoc::new("csvOptions", "CSV options: fieldDelimiter, skipLeadingRows, quote, allowJaggedRows…"),
    PropDoc::new("avroOptions", "Avro options: useAvroLogicalTypes."),
    PropDoc::new("schema", "The table schema: {fields: [{name, type, mode}]}."),
    PropDoc::new("autodetect", "Let BigQuery infer the schema.").default("false"),
    PropDoc::new("writeDisposition", "How rows are written to an existing table.").values(&["WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"]),
    PropDoc::new("createDisposition", "Whether the table may be created.").values(&["CREATE_IF_NEEDED", "CREATE_NEVER"]),
    PropDoc::new("ignoreUnknownValues", "Ignore values not in the schema.").default("false"),
    PropDoc::new("maxBadRecords", "Bad records tolerated before failing.").default("0"),
    PropDoc::new("timePartitioningField", "The column the table is partitioned on."),
    PropDoc::new("timePartitioningType", "The partition granularity.").values(&["DAY", "HOUR", "MONTH", "YEAR"]),
    PropDoc::new("clusteringFields", "Columns the table is clustered on."),
    PropDoc::new("schemaUpdateOptions", "Schema changes allowed by the job.").values(&["ALLOW_FIELD_ADDITION", "ALLOW_FIELD_RELAXATION"]),
    PropDoc::new("regExp", "Only objects whose path matches this regular expression."),
    PropDoc::new("listingType", "List one folder, or recursively.").values(&["DIRECTORY", "RECURSIVE"]).default("\"DIRECTORY\""),
    PropDoc::new("allVersions", "Include older versions of objects.").default("false"),
    PropDoc::new("errorOnMissing", "Fail when the object does not exist.").default("false"),
    PropDoc::new("delete", "Delete the source after copying.").default("false"),
];
const BQ_OUT: &[OutDoc] = &[
    OutDoc::new("jobId", PropKind::String, "The BigQuery job's id."),
    OutDoc::new("rows", PropKind::Integer, "Rows written or loaded."),
];

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.gcp.bigquery.Query", "Run a BigQuery SQL query.", "Runs a query job; writes to a destination table or fetches the rows, as Kestra's fetchType says.")
        .example("id: bq\ntype: io.kestra.plugin.gcp.bigquery.Query\nsql: SELECT count(*) AS n FROM `my-project.zoomcamp.trips`\nfetchType: FETCH_ONE\n")
        .outputs(&[
            OutDoc::new("jobId", PropKind::String, "The BigQuery job's id."),
            OutDoc::new("row", PropKind::Map, "The first row (FETCH_ONE)."),
            OutDoc::new("rows", PropKind::List, "The rows (FETCH)."),
            OutDoc::new("uri", PropKind::String, "A file of the rows (STORE)."),
            OutDoc::new("size", PropKind::Integer, "The number of rows."),
            OutDoc::new("destinationTable", PropKind::Map, "The table written, if any."),
        ])
        .props(&[
            PropDoc::new("sql", "The SQL (standard SQL unless legacySql)."),
            PropDoc::new("legacySql", "Use BigQuery's legacy SQL.").default("false"),
            PropDoc::new("useLegacySql", "The older name of legacySql.").default("false"),
            PropDoc::new("dryRun", "Only validate and estimate the query.").default("false"),
            PropDoc::new("defaultDataset", "The dataset of unqualified table names."),
            PropDoc::new("priority", "The job's priority.").values(&["INTERACTIVE", "BATCH"]).default("\"INTERACTIVE\""),
            PropDoc::new("useQueryCache", "Use cached results.").default("true"),
            PropDoc::new("allowLargeResults", "Legacy SQL: allow large results.").default("false"),
            PropDoc::new("flattenResults", "Legacy SQL: flatten nested results.").default("true"),
            PropDoc::new("maximumBytesBilled", "Fail the job above this many bytes billed."),
            PropDoc::new("maximumBillingTier", "Legacy billing tier limit."),
            PropDoc::new("jobTimeout", "Cancel the job after this long."),
            PropDoc::new("fetchType", "What to do with the rows.").values(&["STORE", "FETCH", "FETCH_ONE", "NONE"]).default("\"NONE\""),
            PropDoc::new("fetch", "Legacy: fetchType FETCH.").default("false"),
            PropDoc::new("fetchOne", "Legacy: fetchType FETCH_ONE.").default("false"),
            PropDoc::new("store", "Legacy: fetchType STORE.").default("false"),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.bigquery.Load", "Load a stored file into BigQuery.", "Uploads a file of the execution into a table with a load job.")
        .example("id: load\ntype: io.kestra.plugin.gcp.bigquery.Load\nfrom: \"{{ outputs.extract.uri }}\"\ndestinationTable: my-project.zoomcamp.trips\nformat: CSV\ncsvOptions:\n  skipLeadingRows: 1\nautodetect: true\n")
        .outputs(BQ_OUT)
        .props(&[PropDoc::new("failedOnEmpty", "Fail when the file is empty.").default("true")]),
    TypeDoc::new("io.kestra.plugin.gcp.bigquery.LoadFromGcs", "Load GCS files into BigQuery.", "Loads gs:// objects into a table with a load job.")
        .example("id: load_gcs\ntype: io.kestra.plugin.gcp.bigquery.LoadFromGcs\nfrom:\n  - gs://my-bucket/trips/*.parquet\ndestinationTable: my-project.zoomcamp.trips\nformat: PARQUET\n")
        .outputs(BQ_OUT),
    TypeDoc::new("io.kestra.plugin.gcp.bigquery.CreateDataset", "Create a BigQuery dataset.", "Creates (or updates, or skips) a dataset.")
        .example("id: dataset\ntype: io.kestra.plugin.gcp.bigquery.CreateDataset\nname: zoomcamp\nifExists: SKIP\n")
        .outputs(&[OutDoc::new("dataset", PropKind::String, "The dataset's id.")])
        .props(&[
            PropDoc::new("defaultTableLifetime", "Default lifetime of new tables, in seconds."),
            PropDoc::new("defaultPartitionExpirationMs", "Default partition expiration, in milliseconds."),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.bigquery.DeleteDataset", "Delete a BigQuery dataset.", "Deletes a dataset, with its tables when deleteContents.")
        .example("id: drop\ntype: io.kestra.plugin.gcp.bigquery.DeleteDataset\nname: scratch\ndeleteContents: true\n")
        .props(&[PropDoc::new("deleteContents", "Delete its tables too.").default("false")]),
    TypeDoc::new("io.kestra.plugin.gcp.bigquery.CreateTable", "Create a BigQuery table.", "Creates a table from a table definition (schema, partitioning, clustering).")
        .example("id: table\ntype: io.kestra.plugin.gcp.bigquery.CreateTable\ndataset: zoomcamp\ntable: trips\ntableDefinition:\n  type: TABLE\n  schema:\n    fields:\n      - name: id\n        type: INT64\n")
        .props(&[
            PropDoc::new("tableDefinition", "The table: {type, schema, timePartitioning, clustering…}."),
            PropDoc::new("requirePartitionFilter", "Queries must filter on the partition.").default("false"),
            PropDoc::new("expirationDuration", "Delete the table after this long."),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.bigquery.DeleteTable", "Delete a BigQuery table.", "Deletes one table.")
        .example("id: drop_table\ntype: io.kestra.plugin.gcp.bigquery.DeleteTable\ndataset: zoomcamp\ntable: trips_staging\n"),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.Upload", "Upload a file to GCS.", "Copies a file of the execution to a gs:// URI.")
        .example("id: upload\ntype: io.kestra.plugin.gcp.gcs.Upload\nfrom: \"{{ outputs.extract.uri }}\"\nto: gs://my-bucket/trips/2024-01.csv\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The gs:// URI written.")])
        .props(&[
            PropDoc::new("contentType", "The object's Content-Type."),
            PropDoc::new("contentEncoding", "The object's Content-Encoding."),
            PropDoc::new("contentDisposition", "The object's Content-Disposition."),
            PropDoc::new("cacheControl", "The object's Cache-Control."),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.Download", "Download a GCS object.", "Copies a gs:// object into the execution's files.")
        .example("id: download\ntype: io.kestra.plugin.gcp.gcs.Download\nfrom: gs://my-bucket/trips/2024-01.csv\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The stored file."), OutDoc::new("bucket", PropKind::String, "The bucket."), OutDoc::new("path", PropKind::String, "The object's path.")]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.List", "List GCS objects.", "Lists the objects under a gs:// prefix.")
        .example("id: ls\ntype: io.kestra.plugin.gcp.gcs.List\nfrom: gs://my-bucket/trips/\nregExp: \".*\\\\.csv$\"\n")
        .outputs(&[OutDoc::new("blobs", PropKind::List, "The objects: {uri, name, size, updated…}.")])
        .props(&[
            PropDoc::new("filter", "Only files, only directories, or both.").values(&["FILES", "DIRECTORY", "BOTH"]).default("\"BOTH\""),
            PropDoc::new("maxFiles", "Fail above this many objects.").default("25"),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.Delete", "Delete a GCS object.", "Deletes one gs:// object.")
        .example("id: rm\ntype: io.kestra.plugin.gcp.gcs.Delete\nuri: gs://my-bucket/tmp/file.csv\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The object."), OutDoc::new("deleted", PropKind::Boolean, "Whether it existed.")])
        .props(&[PropDoc::new("uri", "The gs:// object.")]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.DeleteList", "Delete GCS objects under a prefix.", "Deletes every object under a gs:// prefix that matches.")
        .example("id: rm_all\ntype: io.kestra.plugin.gcp.gcs.DeleteList\nfrom: gs://my-bucket/tmp/\n")
        .outputs(&[OutDoc::new("count", PropKind::Integer, "Objects deleted."), OutDoc::new("size", PropKind::Integer, "Bytes deleted.")])
        .props(&[
            PropDoc::new("errorOnEmpty", "Fail when nothing matched.").default("false"),
            PropDoc::new("concurrent", "Deletions run at once."),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.Copy", "Copy (or move) a GCS object.", "Copies one gs:// object to another; deletes the source when delete.")
        .example("id: cp\ntype: io.kestra.plugin.gcp.gcs.Copy\nfrom: gs://my-bucket/in/a.csv\nto: gs://my-bucket/archive/a.csv\n")
        .outputs(&[OutDoc::new("uri", PropKind::String, "The copy.")]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.CreateBucket", "Create a GCS bucket.", "Creates (or updates, or skips) a bucket.")
        .example("id: bucket\ntype: io.kestra.plugin.gcp.gcs.CreateBucket\nname: my-zoomcamp-bucket\nifExists: SKIP\n")
        .outputs(&[OutDoc::new("bucket", PropKind::String, "The bucket's name.")])
        .props(&[
            PropDoc::new("storageClass", "The default storage class.").values(&["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE", "REGIONAL", "MULTI_REGIONAL", "DURABLE_REDUCED_AVAILABILITY"]),
            PropDoc::new("location", "Where the bucket lives (EU, US, europe-west1…)."),
            PropDoc::new("versioningEnabled", "Keep older versions of objects."),
            PropDoc::new("requesterPays", "Requesters pay for access."),
            PropDoc::new("indexPage", "Website index page."),
            PropDoc::new("notFoundPage", "Website 404 page."),
            PropDoc::new("defaultKmsKeyName", "The default KMS key."),
            PropDoc::new("defaultEventBasedHold", "Hold new objects by default."),
            PropDoc::new("retentionPeriod", "Retention in seconds."),
        ]),
    TypeDoc::new("io.kestra.plugin.gcp.gcs.DeleteBucket", "Delete a GCS bucket.", "Deletes an (empty) bucket.")
        .example("id: rm_bucket\ntype: io.kestra.plugin.gcp.gcs.DeleteBucket\nname: my-scratch-bucket\n")
        .outputs(&[OutDoc::new("bucket", PropKind::String, "The bucket's name.")]),
];
