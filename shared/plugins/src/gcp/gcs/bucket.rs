//! `io.kestra.plugin.gcp.gcs.CreateBucket`, `…gcs.UpdateBucket` and
//! `…gcs.DeleteBucket` (plugin-gcp `AbstractBucket.java` and its tasks).
//! CreateBucket creates `name` with `storageClass`, `location`, `labels`,
//! versioning and the other scalar settings; when it exists, `ifExists`
//! decides: ERROR (default) fails, UPDATE applies the settings, SKIP leaves
//! it as it is. UpdateBucket applies the settings given to an existing
//! bucket (a PATCH: the others stay). Both output Kestra's `bucket`
//! ({name, uri, location, indexPage, notFoundPage}), `created` and
//! `updated`. DeleteBucket deletes a bucket — emptied first with `force`
//! (every object, 8 deletions at a time, as Kestra) — and outputs
//! `bucket` (the name) and `bucketUri`. Kestra's `lifecycleRules`, `cors`,
//! `acl`, `defaultAcl`, `iamConfiguration` and `logging` are not
//! implemented: validation refuses them as unknown properties.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::common::{GcpProps, IfExists, gcs_error, one_of};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

const STORAGE_CLASSES: &[&str] =
    &["REGIONAL", "MULTI_REGIONAL", "NEARLINE", "COLDLINE", "STANDARD", "ARCHIVE", "DURABLE_REDUCED_AVAILABILITY"];

/// Create a GCS bucket.
///
/// Creates (or updates, or skips) a bucket.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.CreateBucket",
    group = "gcp",
    example = "id: bucket\ntype: io.kestra.plugin.gcp.gcs.CreateBucket\nname: my-zoomcamp-bucket\nifExists: SKIP\n",
    outputs(
        bucket(Map, "The bucket: {name, uri, location, indexPage, notFoundPage}."),
        created(Boolean, "Whether it was created."),
        updated(Boolean, "Whether it was updated.")
    )
)]
struct CreateProps {
    #[serde(flatten)]
    gcp: GcpProps,
    #[serde(flatten)]
    bucket: BucketProps,
    /// What to do when it already exists.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "UPDATE", "SKIP"], default = "\"ERROR\"")]
    if_exists: Option<String>,
}

/// A bucket's name and settings, shared by CreateBucket and UpdateBucket.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct BucketProps {
    /// The dataset's or bucket's name.
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// The default storage class.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = [
        "STANDARD",
        "NEARLINE",
        "COLDLINE",
        "ARCHIVE",
        "REGIONAL",
        "MULTI_REGIONAL",
        "DURABLE_REDUCED_AVAILABILITY"
    ])]
    storage_class: Option<String>,
    /// Where the bucket lives (EU, US, europe-west1…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    location: Option<String>,
    /// Labels set on the resource.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    labels: Vec<(String, String)>,
    /// Keep older versions of objects.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    versioning_enabled: Option<bool>,
    /// Requesters pay for access.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    requester_pays: Option<bool>,
    /// Website index page.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    index_page: Option<String>,
    /// Website 404 page.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    not_found_page: Option<String>,
    /// The default KMS key.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    default_kms_key_name: Option<String>,
    /// Hold new objects by default.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    default_event_based_hold: Option<bool>,
    /// Retention in seconds.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    retention_period: Option<u64>,
}

struct CreateBucket {
    gcp: GcpProps,
    name: String,
    if_exists: IfExists,
    /// The JSON API bucket resource (without `name` for updates).
    settings: Map<String, Value>,
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CreateProps = parse_props(props)?;
    let (name, settings) = p.bucket.settings()?;
    Ok(Box::new(CreateBucket { gcp: p.gcp, name, if_exists: IfExists::parse(p.if_exists.as_deref())?, settings }))
}

impl BucketProps {
    /// The checked name and the JSON API bucket resource of the settings given.
    fn settings(self) -> Result<(String, Map<String, Value>), TaskError> {
        let p = self;
        let name = p.name.trim().to_string();
        if name.is_empty() {
            return Err(TaskError::property("name", "the bucket name is empty"));
        }
        let mut s = Map::new();
        if let Some(c) = one_of("storageClass", &p.storage_class, STORAGE_CLASSES)? {
            s.insert("storageClass".into(), Value::String(c));
        }
        if let Some(l) = p.location.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            s.insert("location".into(), Value::String(l.to_string()));
        }
        if !p.labels.is_empty() {
            s.insert(
                "labels".into(),
                Value::Object(p.labels.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
            );
        }
        if let Some(v) = p.versioning_enabled {
            s.insert("versioning".into(), json!({"enabled": v}));
        }
        if let Some(v) = p.requester_pays {
            s.insert("billing".into(), json!({"requesterPays": v}));
        }
        if p.index_page.is_some() || p.not_found_page.is_some() {
            let mut w = Map::new();
            if let Some(i) = p.index_page {
                w.insert("mainPageSuffix".into(), Value::String(i));
            }
            if let Some(n) = p.not_found_page {
                w.insert("notFoundPage".into(), Value::String(n));
            }
            s.insert("website".into(), Value::Object(w));
        }
        if let Some(k) = p.default_kms_key_name {
            s.insert("encryption".into(), json!({"defaultKmsKeyName": k}));
        }
        if let Some(h) = p.default_event_based_hold {
            s.insert("defaultEventBasedHold".into(), Value::Bool(h));
        }
        if let Some(r) = p.retention_period {
            s.insert("retentionPolicy".into(), json!({"retentionPeriod": r.to_string()}));
        }
        Ok((name, s))
    }
}

/// Kestra's `AbstractBucket.Output`: the `Bucket` model, `created`, `updated`.
fn bucket_output(b: &Value, fallback: &str, created: bool, updated: bool) -> TaskOutput {
    let name = b["name"].as_str().unwrap_or(fallback).to_string();
    let mut bucket = Map::new();
    bucket.insert("uri".into(), Value::String(format!("gs://{name}")));
    bucket.insert("name".into(), Value::String(name));
    if let Some(l) = b["location"].as_str() {
        bucket.insert("location".into(), Value::String(l.to_string()));
    }
    if let Some(i) = b["website"]["mainPageSuffix"].as_str() {
        bucket.insert("indexPage".into(), Value::String(i.to_string()));
    }
    if let Some(n) = b["website"]["notFoundPage"].as_str() {
        bucket.insert("notFoundPage".into(), Value::String(n.to_string()));
    }
    let mut out = Map::new();
    out.insert("bucket".into(), Value::Object(bucket));
    out.insert("created".into(), Value::Bool(created));
    out.insert("updated".into(), Value::Bool(updated));
    TaskOutput::with(out)
}

#[async_trait]
impl RunnableTask for CreateBucket {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let existing = gcs.get_bucket(&self.name).await.map_err(gcs_error)?;
        let Some(existing) = existing else {
            let mut body = self.settings.clone();
            body.insert("name".into(), Value::String(self.name.clone()));
            let created = match gcs.insert_bucket(r.project()?, &Value::Object(body)).await {
                Ok(b) => b,
                // Created by someone else in the meantime: same as existing.
                Err(e) if e.status() == Some(409) && self.if_exists != IfExists::Error => {
                    cx.info(&format!("Bucket '{}' already exists, skipping", self.name));
                    return Ok(bucket_output(&json!({}), &self.name, false, false));
                }
                Err(e) => return Err(gcs_error(e)),
            };
            cx.info(&format!("Created bucket '{}'", self.name));
            return Ok(bucket_output(&created, &self.name, true, false));
        };
        match self.if_exists {
            IfExists::Error => Err(TaskError::failed(format!(
                "Bucket {} already exists and ifExists policy is set to ERROR !",
                self.name
            ))),
            IfExists::Skip => {
                cx.info(&format!("Bucket '{}' already exists, skipping", self.name));
                Ok(bucket_output(&existing, &self.name, false, false))
            }
            IfExists::Update => {
                let updated = if self.settings.is_empty() {
                    existing
                } else {
                    gcs.patch_bucket(&self.name, &Value::Object(self.settings.clone())).await.map_err(gcs_error)?
                };
                cx.info(&format!("Updated bucket '{}'", self.name));
                Ok(bucket_output(&updated, &self.name, false, true))
            }
        }
    }
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));

/// Update a GCS bucket.
///
/// Applies the settings given (labels, storage class, versioning…) to an existing bucket.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.UpdateBucket",
    group = "gcp",
    example = "id: labels\ntype: io.kestra.plugin.gcp.gcs.UpdateBucket\nname: my-bucket\nlabels:\n  team: data\n",
    outputs(
        bucket(Map, "The bucket: {name, uri, location, indexPage, notFoundPage}."),
        created(Boolean, "Always false."),
        updated(Boolean, "Always true.")
    )
)]
struct UpdateProps {
    #[serde(flatten)]
    gcp: GcpProps,
    #[serde(flatten)]
    bucket: BucketProps,
}

struct UpdateBucket {
    gcp: GcpProps,
    name: String,
    settings: Map<String, Value>,
}

fn build_update(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: UpdateProps = parse_props(props)?;
    let (name, settings) = p.bucket.settings()?;
    Ok(Box::new(UpdateBucket { gcp: p.gcp, name, settings }))
}

#[async_trait]
impl RunnableTask for UpdateBucket {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let updated = gcs.patch_bucket(&self.name, &Value::Object(self.settings.clone())).await.map_err(gcs_error)?;
        cx.info(&format!("Updated bucket '{}'", self.name));
        Ok(bucket_output(&updated, &self.name, false, true))
    }
}

pub static UPDATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<UpdateProps>(build_update));

/// Delete a GCS bucket.
///
/// Deletes an (empty) bucket.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.DeleteBucket",
    group = "gcp",
    example = "id: rm_bucket\ntype: io.kestra.plugin.gcp.gcs.DeleteBucket\nname: my-scratch-bucket\n",
    outputs(bucket(String, "The bucket's name."), bucketUri(String, "gs://{name}."))
)]
struct DeleteProps {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The dataset's or bucket's name.
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// Delete every object first (else the bucket must be empty).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    force: Option<bool>,
}

struct DeleteBucket {
    gcp: GcpProps,
    name: String,
    force: bool,
}

/// Deletions at once when `force` empties a bucket (Kestra's `CONCURRENT_DELETIONS`).
const FORCE_CONCURRENCY: usize = 8;

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeleteProps = parse_props(props)?;
    Ok(Box::new(DeleteBucket { gcp: p.gcp, name: p.name.trim().to_string(), force: p.force.unwrap_or(false) }))
}

/// Deletes every live object of `bucket` (all pages, as Kestra's DeleteList); returns how many.
async fn empty_bucket(gcs: &baton_gcp::gcs::GcsClient, bucket: &str) -> Result<usize, TaskError> {
    use futures::StreamExt;
    let page = gcs.list_all(bucket, "", None, false).await.map_err(gcs_error)?;
    let names: Vec<String> = page.items.iter().filter_map(|o| o["name"].as_str().map(str::to_string)).collect();
    let n = names.len();
    let results: Vec<Result<bool, TaskError>> = futures::stream::iter(names)
        .map(|name| async move { gcs.delete_object(bucket, &name).await.map_err(gcs_error) })
        .buffer_unordered(FORCE_CONCURRENCY)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(n)
}

#[async_trait]
impl RunnableTask for DeleteBucket {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        if self.force && gcs.get_bucket(&self.name).await.map_err(gcs_error)?.is_some() {
            let n = empty_bucket(&gcs, &self.name).await?;
            cx.info(&format!("Deleted {n} objects of bucket '{}'", self.name));
        }
        if !gcs.delete_bucket(&self.name).await.map_err(gcs_error)? {
            return Err(TaskError::failed(format!("Couldn't find bucket '{}'", self.name)));
        }
        cx.info(&format!("Deleted bucket '{}'", self.name));
        let mut out = Map::new();
        out.insert("bucket".into(), Value::String(self.name.clone()));
        out.insert("bucketUri".into(), Value::String(format!("gs://{}", self.name)));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));
