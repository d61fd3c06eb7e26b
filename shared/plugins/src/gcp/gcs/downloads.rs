//! `io.kestra.plugin.gcp.gcs.Downloads`: downloads the files a listing
//! finds (`from`, `listingType`, `regExp`, `allVersions`, as `List`;
//! directories skipped; at most `maxFiles`, 25 by default, the rest left
//! with a warning as Kestra's List does) into internal storage, streamed,
//! each checked against GCS's CRC32C (or MD5) when `validateChecksum`.
//! Then `action`: NONE (default), DELETE the sources, or MOVE them (a copy
//! to `moveDirectory` + the file name, then a delete). Outputs `blobs`
//! (Kestra's Blob with `uri` the kestra:// file) and `outputFiles` (object
//! name → kestra:// URI); metric `checksum.validated`.

use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_util::io::StreamReader;

use super::super::common::{GcpProps, gcs_error, one_of, parse_gs};
use super::checksum::{Hashing, Sums};
use super::list::{ListProps, Listing};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::ByteStream;

/// Download GCS objects under a prefix.
///
/// Downloads the files under a gs:// prefix into the execution's files; then moves or deletes them if asked.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.Downloads",
    group = "gcp",
    example = "id: downloads\ntype: io.kestra.plugin.gcp.gcs.Downloads\nfrom: gs://my-bucket/incoming/\naction: MOVE\nmoveDirectory: gs://my-bucket/archive/\n",
    outputs(
        blobs(List, "The objects downloaded (Blob, uri: the kestra:// file)."),
        outputFiles(Map, "Object name → kestra:// URI.")
    )
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    #[serde(flatten)]
    list: ListProps,
    /// What to do with the sources after downloading them.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["NONE", "DELETE", "MOVE"], default = "\"NONE\"")]
    action: Option<String>,
    /// Where MOVE puts them (a gs:// prefix).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    move_directory: Option<String>,
    /// Download at most this many files.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "25")]
    max_files: Option<u64>,
    /// Check each file against GCS's checksum.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    validate_checksum: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    None,
    Delete,
    /// To this bucket and prefix (ending in `/` or empty).
    Move(String, String),
}

struct Downloads {
    gcp: GcpProps,
    listing: Listing,
    action: Action,
    max_files: usize,
    validate: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let listing = p.list.check()?;
    let action = match one_of("action", &p.action, &["NONE", "DELETE", "MOVE"])?.as_deref() {
        None | Some("NONE") => Action::None,
        Some("DELETE") => Action::Delete,
        _ => {
            let dir = p.move_directory.as_deref().filter(|d| !d.trim().is_empty()).ok_or_else(|| {
                TaskError::property("moveDirectory", "action MOVE needs moveDirectory (a gs:// prefix)")
            })?;
            let (bucket, prefix) = parse_gs("moveDirectory", dir)?;
            let prefix = prefix.trim_end_matches('/');
            Action::Move(bucket, if prefix.is_empty() { String::new() } else { format!("{prefix}/") })
        }
    };
    Ok(Box::new(Downloads {
        gcp: p.gcp,
        listing,
        action,
        max_files: p.max_files.unwrap_or(25).min(usize::MAX as u64) as usize,
        validate: p.validate_checksum.unwrap_or(false),
    }))
}

/// A storage file name for `object`, unique among `used`.
fn file_name(object: &str, used: &mut std::collections::HashSet<String>) -> String {
    let base = object.rsplit('/').next().filter(|b| !b.is_empty()).unwrap_or("object").to_string();
    let mut name = base.clone();
    let mut n = 1;
    while !used.insert(name.clone()) {
        n += 1;
        name = format!("{n}-{base}");
    }
    name
}

#[async_trait]
impl RunnableTask for Downloads {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let mut files: Vec<Value> =
            self.listing.entries(&gcs).await?.into_iter().filter(|e| !e.directory).map(|e| e.blob).collect();
        if files.len() > self.max_files {
            cx.warn(&format!(
                "Listing returned more than {max} files. Only the first {max} files will be returned. \
                 Increase the maxFiles property if you need more files.",
                max = self.max_files
            ));
            files.truncate(self.max_files);
        }
        let (mut blobs, mut output_files, mut used) = (Vec::new(), Map::new(), std::collections::HashSet::new());
        let mut validated = 0u64;
        let mut sources = Vec::new();
        for blob in files {
            let bucket = blob["bucket"].as_str().unwrap_or_default().to_string();
            let name = blob["name"].as_str().unwrap_or_default().to_string();
            let stream = gcs.download(&bucket, &name).await.map_err(gcs_error)?;
            let sums = Arc::new(Mutex::new(Sums::default()));
            let inner: ByteStream = Box::pin(StreamReader::new(stream));
            let reader: ByteStream = Box::pin(Hashing { inner, sums: sums.clone() });
            let (uri, size) = cx.put_file(&file_name(&name, &mut used), reader).await?;
            if self.validate {
                let object = gcs.get_object(&bucket, &name).await.map_err(gcs_error)?.unwrap_or(Value::Null);
                let sums = sums.lock().map(|s| s.clone()).unwrap_or_default();
                sums.check(&object).map_err(|e| {
                    TaskError::failed(format!("checksum validation of gs://{bucket}/{name} failed: {e}"))
                })?;
                validated += 1;
            }
            cx.info(&format!("Downloaded {size} bytes from 'gs://{bucket}/{name}' to {uri}"));
            let mut b = blob.as_object().cloned().unwrap_or_default();
            b.insert("uri".into(), Value::String(uri.clone()));
            output_files.insert(name.clone(), Value::String(uri));
            blobs.push(Value::Object(b));
            sources.push((bucket, name));
        }
        if self.validate {
            cx.counter("checksum.validated", validated as f64, &[]);
        }
        for (bucket, name) in &sources {
            match &self.action {
                Action::None => {}
                Action::Delete => {
                    gcs.delete_object(bucket, name).await.map_err(gcs_error)?;
                }
                Action::Move(to_bucket, prefix) => {
                    let to = format!("{prefix}{}", name.rsplit('/').next().unwrap_or(name));
                    if (bucket, name) != (to_bucket, &to) {
                        gcs.copy_object((bucket, name), (to_bucket, &to)).await.map_err(gcs_error)?;
                        gcs.delete_object(bucket, name).await.map_err(gcs_error)?;
                    }
                }
            }
        }
        let mut out = Map::new();
        out.insert("blobs".into(), Value::Array(blobs));
        out.insert("outputFiles".into(), Value::Object(output_files));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_stay_apart() {
        let mut used = std::collections::HashSet::new();
        assert_eq!(super::file_name("a/x.csv", &mut used), "x.csv");
        assert_eq!(super::file_name("b/x.csv", &mut used), "2-x.csv");
        assert_eq!(super::file_name("dir/", &mut used), "object");
    }
}
