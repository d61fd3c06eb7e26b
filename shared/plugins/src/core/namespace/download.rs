//! `io.kestra.plugin.core.namespace.DownloadFiles`: copies the files of
//! `namespace` that `files` (a pattern or a list, see [`super::matcher`])
//! selects into this task's internal storage, streamed → output `files`,
//! a map of each namespace path (with its leading `/`, as Kestra keys it)
//! to the `kestra://` URI of its copy; counter `downloaded`.
//!
//! A copy keeps its namespace path under the task's storage prefix, after
//! `destination` (default none): `destination: out` puts `a/b.sql` at
//! `…/out/a/b.sql`. Kestra glues `destination` and the path without a `/`
//! (`outa/b.sql`); Baton joins them as folders.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::matcher::PathMatcher;
use super::{check_bound, failed, list_all, namespace_prop, patterns, store};
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::normalise_path;

pub const TYPE: &str = "io.kestra.plugin.core.namespace.DownloadFiles";

/// Copy namespace files into the execution's storage.
///
/// Copies the files of `namespace` matching `files` into this task's internal storage, streamed, and outputs each one's kestra:// URI by its namespace path. Counter `downloaded`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: download\ntype: io.kestra.plugin.core.namespace.DownloadFiles\nnamespace: tutorial\nfiles:\n  - \"**input.txt\"\n",
    outputs(
        files(Map, "Namespace path (with its leading /) → kestra:// URI of the copy.")
    ),
)]
struct Props {
    /// The namespace whose files are changed or read (any namespace).
    #[serde(deserialize_with = "de::string_lenient")]
    namespace: String,
    /// A pattern or a list of patterns on the namespace files: a glob (`**` crosses folders; one starting with a letter matches that name in any folder), or `glob:…` / `regex:…` on the path with its leading `/`.
    #[prop(kind = "StringOrList")]
    files: Value,
    /// A folder of the task's storage the copies go under.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"\"")]
    destination: Option<String>,
}

/// `namespace.DownloadFiles`.
#[derive(Debug)]
struct DownloadFiles {
    namespace: String,
    matcher: PathMatcher,
    /// A relative folder (`""` for none).
    destination: String,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let namespace = namespace_prop(&p.namespace)?;
    let matcher = PathMatcher::for_namespace("files", &patterns("files", &p.files)?)?;
    let destination = normalise_path(p.destination.as_deref().unwrap_or(""), true)
        .map_err(|e| TaskError::property("destination", e.to_string()))?;
    Ok(Box::new(DownloadFiles { namespace, matcher, destination }))
}

#[async_trait]
impl RunnableTask for DownloadFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = store(cx);
        let ns = &self.namespace;
        let matched: Vec<String> = list_all(store.as_ref(), ns)
            .await?
            .into_iter()
            .map(|f| f.path)
            .filter(|p| self.matcher.matches_ns(p))
            .collect();
        check_bound("files", matched.len(), "downloads")?;
        let mut files = Map::new();
        for path in &matched {
            let data = store.get(ns, path).await.map_err(|e| failed(ns, e))?;
            let name = if self.destination.is_empty() { path.clone() } else { format!("{}/{path}", self.destination) };
            let (uri, _) = cx.put_file(&name, data).await?;
            cx.log("DEBUG", &format!("Downloaded {uri}"));
            files.insert(format!("/{path}"), Value::String(uri));
        }
        cx.counter("downloaded", files.len() as f64, &[]);
        cx.info(&format!("downloaded {} files from namespace {ns}", files.len()));
        let mut out = Map::new();
        out.insert("files".into(), Value::Object(files));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::Storage;
    use baton_backend::nsfiles::{NamespaceFiles, StoredNamespaceFiles};

    async fn read(env: &Env, uri: &Value) -> String {
        let path = baton_backend::storage_path(uri.as_str().unwrap()).unwrap();
        let mut s = String::new();
        env.storage.get(&path).await.unwrap().read_to_string(&mut s).await.unwrap();
        s
    }

    #[tokio::test]
    async fn copies_the_selected_files_into_the_task_storage() {
        let env = Env::new();
        let files = StoredNamespaceFiles::new(env.storage.clone());
        for (p, c) in [("input.txt", "top"), ("dir/input.txt", "deep"), ("other.sql", "select 1")] {
            files.put("tutorial", p, Box::pin(c.as_bytes())).await.unwrap();
        }
        let out = env.run(&DEF, json!({"namespace": "tutorial", "files": ["input.txt"]})).await.unwrap();
        let got = out.outputs["files"].as_object().unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["/dir/input.txt", "/input.txt"]);
        assert_eq!(read(&env, &got["/dir/input.txt"]).await, "deep");
        let uri = got["/input.txt"].as_str().unwrap();
        assert!(uri.starts_with("kestra:///company/team/my-flow/executions/exec1/tasks/t1/tr1/"), "{uri}");
        assert!(uri.ends_with("/input.txt"), "{uri}");
        let out = env.run(&DEF, json!({"namespace": "tutorial", "files": "**", "destination": "out/"})).await.unwrap();
        let got = out.outputs["files"].as_object().unwrap();
        assert_eq!(got.len(), 3);
        assert!(got["/other.sql"].as_str().unwrap().ends_with("/tr1/out/other.sql"));
        assert_eq!(read(&env, &got["/other.sql"]).await, "select 1");
        let out = env.run(&DEF, json!({"namespace": "tutorial", "files": []})).await.unwrap();
        assert_eq!(out.outputs["files"], json!({}));
    }

    #[tokio::test]
    async fn refusals_name_the_property() {
        let env = Env::new();
        let e = env.run(&DEF, json!({"namespace": "t", "files": "**", "destination": "../x"})).await.unwrap_err();
        assert!(e.to_string().contains("'destination'"), "{e}");
        let e = env.run(&DEF, json!({"namespace": "t", "files": ["[oops"]})).await.unwrap_err();
        assert!(e.to_string().contains("'files'") && e.to_string().contains("[oops"), "{e}");
    }
}
