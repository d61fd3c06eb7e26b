//! Kestra's internal-storage file tasks: `io.kestra.plugin.core.storage.Write`
//! (`content` → a new file, output `uri`), `…Size` (`uri` → output `size`
//! in bytes), `…Delete` (`uri`, `errorOnMissing` → outputs `uri`,
//! `deleted`) and `…Concat` (`files`: a list or a JSON list of URIs,
//! `separator` after each file, `extension` `.tmp` by default → output
//! `uri`). Every file read or deleted must be one this execution may read
//! (its namespace's, or its starter's). Concat streams: its memory is
//! bounded whatever the files' sizes.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most files one Concat joins.
pub const MAX_CONCAT_FILES: usize = 10_000;

/// A file name for an output with Kestra's `extension` (with or without
/// its dot).
fn file_name(stem: &str, extension: Option<&str>) -> Result<String, TaskError> {
    let ext = extension.map(str::trim).unwrap_or("");
    if ext.contains('/') || ext.contains("..") {
        return Err(TaskError::property("extension", format!("'{ext}' is not a file extension")));
    }
    Ok(match ext {
        "" => stem.to_string(),
        e if e.starts_with('.') => format!("{stem}{e}"),
        e => format!("{stem}.{e}"),
    })
}

// ---------------------------------------------------------------- Write ---

/// Write text to a file in internal storage.
///
/// Renders `content` and stores it as a file of the execution.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.Write",
    group = "core",
    example = "id: report\ntype: io.kestra.plugin.core.storage.Write\ncontent: \"id,name\\n1,baton\\n\"\nextension: .csv\n",
    outputs(uri(String, "The file written."))
)]
struct WriteProps {
    /// The text to write.
    #[serde(deserialize_with = "de::string_lenient")]
    content: String,
    /// The file's extension.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\".ion\"")]
    extension: Option<String>,
}

/// `storage.Write`.
#[derive(Debug)]
pub struct Write {
    content: String,
    name: String,
}

fn build_write(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: WriteProps = parse_props(props)?;
    let name = file_name("content", p.extension.as_deref())?;
    Ok(Box::new(Write { content: p.content, name }))
}

#[async_trait]
impl RunnableTask for Write {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        // a secret rendered into the content is stored masked, as in outputs
        let bytes = cx.mask_text(&self.content).into_bytes();
        let (uri, _) = cx.put_file(&self.name, Box::pin(std::io::Cursor::new(bytes))).await?;
        let mut out = Map::new();
        out.insert("uri".into(), uri.into());
        Ok(TaskOutput::with(out))
    }
}

pub static WRITE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<WriteProps>(build_write));

// ---------------------------------------------------------- Size/Delete ---

#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct UriProps {
    /// The file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    uri: String,
    /// Fail when there is nothing to read or delete.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_missing: Option<bool>,
}

/// The size of a stored file.
///
/// Gives the size in bytes of a file in internal storage.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.Size",
    aliases = ["io.kestra.core.tasks.storages.Size"],
    group = "core",
    example = "id: size\ntype: io.kestra.plugin.core.storage.Size\nuri: \"{{ outputs.report.uri }}\"\n",
    outputs(
        size(Integer, "The size in bytes.")
    ),
)]
struct SizeProps {
    /// The file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    uri: String,
}

/// `storage.Size`.
#[derive(Debug)]
pub struct Size {
    uri: String,
}

fn build_size(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SizeProps = parse_props(props)?;
    Ok(Box::new(Size { uri: p.uri }))
}

#[async_trait]
impl RunnableTask for Size {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let path = cx.readable_path("uri", &self.uri)?;
        let size = cx
            .services
            .storage
            .size(&path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read the size of {}: {e}", self.uri)))?
            .ok_or_else(|| TaskError::failed(format!("Unable to find file '{}'", self.uri.trim())))?;
        let mut out = Map::new();
        out.insert("size".into(), size.into());
        Ok(TaskOutput::with(out))
    }
}

pub static SIZE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SizeProps>(build_size));

/// Delete a stored file.
///
/// Deletes one file from internal storage.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.core.storage.Delete",
    aliases = ["io.kestra.core.tasks.storages.Delete"],
    group = "core",
    props = UriProps,
    example = "id: rm\ntype: io.kestra.plugin.core.storage.Delete\nuri: \"{{ outputs.report.uri }}\"\n",
    outputs(
        uri(String, "The file deleted."),
        deleted(Boolean, "Whether it existed.")
    ),
)]
pub struct Delete {
    uri: String,
    error_on_missing: bool,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: UriProps = parse_props(props)?;
    Ok(Box::new(Delete { uri: p.uri, error_on_missing: p.error_on_missing.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let path = cx.readable_path("uri", &self.uri)?;
        let storage = &cx.services.storage;
        let fail = |e: baton_backend::BackendError| TaskError::failed(format!("cannot delete {}: {e}", self.uri));
        // only a file: a folder-like prefix is not one of Kestra's URIs
        let exists = storage.size(&path).await.map_err(fail)?.is_some();
        let deleted = exists && storage.delete_prefix(&path).await.map_err(fail)?.contains(&path);
        if self.error_on_missing && !deleted {
            return Err(TaskError::failed(format!("Unable to find file '{}'", self.uri.trim())));
        }
        let mut out = Map::new();
        out.insert("uri".into(), format!("kestra://{path}").into());
        out.insert("deleted".into(), deleted.into());
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Delete>(build_delete).parsed_by::<UriProps>());

// --------------------------------------------------------------- Concat ---

/// Concatenate stored files.
///
/// Joins files of internal storage into one, with an optional separator.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.Concat",
    aliases = ["io.kestra.core.tasks.storages.Concat"],
    group = "core",
    example = "id: all\ntype: io.kestra.plugin.core.storage.Concat\nfiles:\n  - \"{{ outputs.a.uri }}\"\n  - \"{{ outputs.b.uri }}\"\nseparator: \"\\n\"\n",
    outputs(
        uri(String, "The joined file.")
    ),
)]
struct ConcatProps {
    /// The files: a list of URIs, or a JSON list as a string.
    #[prop(kind = "StringOrList")]
    files: Value,
    /// Text put between two files.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    separator: Option<String>,
    /// The joined file's extension.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\".tmp\"")]
    extension: Option<String>,
}

/// `storage.Concat`.
#[derive(Debug)]
pub struct Concat {
    files: Vec<String>,
    separator: Option<String>,
    name: String,
}

fn build_concat(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ConcatProps = parse_props(props)?;
    let list = match p.files {
        Value::Array(a) => a,
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(a)) => a,
            _ => {
                return Err(TaskError::property("files", format!("expected a list of URIs or a JSON list, got '{s}'")));
            }
        },
        other => return Err(TaskError::property("files", format!("expected a list of URIs, got {other}"))),
    };
    if list.len() > MAX_CONCAT_FILES {
        return Err(TaskError::property(
            "files",
            format!("{} files is more than the {MAX_CONCAT_FILES} one Concat joins", list.len()),
        ));
    }
    let files = list.iter().map(de::value_to_string).collect();
    let name = file_name("concat", Some(p.extension.as_deref().unwrap_or(".tmp")))?;
    Ok(Box::new(Concat { files, separator: p.separator, name }))
}

#[async_trait]
impl RunnableTask for Concat {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut paths = Vec::with_capacity(self.files.len());
        for f in &self.files {
            paths.push(cx.readable_path("files", f)?);
        }
        // streamed: each file is opened when the previous one is done
        let storage = cx.services.storage.clone();
        let sep = self.separator.clone().unwrap_or_default().into_bytes();
        let (mut writer, reader) = tokio::io::duplex(64 * 1024);
        let feed = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for p in paths {
                let mut input = storage.get(&p).await.map_err(|e| format!("cannot read kestra://{p}: {e}"))?;
                tokio::io::copy(&mut input, &mut writer).await.map_err(|e| format!("cannot read kestra://{p}: {e}"))?;
                writer.write_all(&sep).await.map_err(|e| e.to_string())?;
            }
            writer.shutdown().await.map_err(|e| e.to_string())
        });
        let put = cx.put_file(&self.name, Box::pin(reader)).await;
        let fed = feed.await.map_err(|e| TaskError::failed(format!("concatenating failed: {e}")))?;
        fed.map_err(TaskError::failed)?;
        let (uri, _) = put?;
        let mut out = Map::new();
        out.insert("uri".into(), uri.into());
        Ok(TaskOutput::with(out))
    }
}

pub static CONCAT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ConcatProps>(build_concat));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::Storage;

    async fn read(env: &Env, uri: &str) -> String {
        let path = uri.trim_start_matches("kestra://");
        let mut s = String::new();
        env.storage.get(path).await.unwrap().read_to_string(&mut s).await.unwrap();
        s
    }

    #[tokio::test]
    async fn write_size_concat_delete() {
        let env = Env::new();
        let out = env.run(&WRITE, json!({"content": "Hello {{ inputs.name }}", "extension": ".txt"})).await.unwrap();
        let a = out.outputs["uri"].as_str().unwrap().to_string();
        assert!(a.starts_with("kestra:///company/team/my-flow/executions/exec1/tasks/t1/tr1/"), "{a}");
        assert!(a.ends_with(".txt"), "{a}");
        assert_eq!(read(&env, &a).await, "Hello world");
        let out = env.run(&SIZE, json!({"uri": a})).await.unwrap();
        assert_eq!(out.outputs["size"], json!(11));

        env.storage.insert("/company/team/my-flow/executions/exec1/b.txt", "B").unwrap();
        let b = "kestra:///company/team/my-flow/executions/exec1/b.txt";
        let files = json!([a.clone(), b]);
        let out = env.run(&CONCAT, json!({"files": files, "separator": "\n"})).await.unwrap();
        let c = out.outputs["uri"].as_str().unwrap().to_string();
        assert!(c.ends_with(".tmp"), "{c}");
        assert_eq!(read(&env, &c).await, "Hello world\nB\n");
        let out = env.run(&CONCAT, json!({"files": files.to_string(), "extension": "csv"})).await.unwrap();
        assert_eq!(read(&env, out.outputs["uri"].as_str().unwrap()).await, "Hello worldB");

        let out = env.run(&DELETE, json!({"uri": b})).await.unwrap();
        assert_eq!(out.outputs["deleted"], json!(true));
        assert_eq!(out.outputs["uri"], json!(b));
        let out = env.run(&DELETE, json!({"uri": b})).await.unwrap();
        assert_eq!(out.outputs["deleted"], json!(false));
        let e = env.run(&DELETE, json!({"uri": b, "errorOnMissing": true})).await.unwrap_err();
        assert!(e.to_string().contains("Unable to find file"), "{e}");
        let e = env.run(&SIZE, json!({"uri": b})).await.unwrap_err();
        assert!(e.to_string().contains("Unable to find file"), "{e}");
        let e = env.run(&CONCAT, json!({"files": [b]})).await.unwrap_err();
        assert!(e.to_string().contains("b.txt"), "{e}");
    }

    #[tokio::test]
    async fn other_namespaces_files_are_refused() {
        let env = Env::new();
        env.storage.insert("/other/ns/f/executions/e/x.txt", "x").unwrap();
        let e = env.run(&DELETE, json!({"uri": "kestra:///other/ns/f/executions/e/x.txt"})).await.unwrap_err();
        assert!(e.to_string().contains("uri"), "{e}");
        let e = env.run(&CONCAT, json!({"files": 3})).await.unwrap_err();
        assert!(e.to_string().contains("files"), "{e}");
    }
}
