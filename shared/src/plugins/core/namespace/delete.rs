//! `io.kestra.plugin.core.namespace.DeleteFiles`: deletes the files of
//! `namespace` that `files` (a pattern or a list, see [`super::matcher`])
//! selects, with their kept revisions. Kestra's task has no outputs: it
//! records the counter `deleted`, as here.
//!
//! `deleteParentFolder` (default false) removes the folders the deletions
//! leave empty in Kestra. Baton's namespace folders exist only through the
//! files inside them (a listing shows a folder while it holds a file), so
//! an emptied folder is gone either way: with `false` Kestra would still
//! list it, empty, and Baton does not.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::matcher::PathMatcher;
use super::{check_bound, failed, list_all, namespace_prop, patterns, store};
use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

pub const TYPE: &str = "io.kestra.plugin.core.namespace.DeleteFiles";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Props {
    #[serde(deserialize_with = "de::string_lenient")]
    namespace: String,
    files: Value,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    delete_parent_folder: Option<bool>,
}

/// `namespace.DeleteFiles`.
#[derive(Debug)]
struct DeleteFiles {
    namespace: String,
    matcher: PathMatcher,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let namespace = namespace_prop(&p.namespace)?;
    let matcher = PathMatcher::for_namespace("files", &patterns("files", &p.files)?)?;
    // folders hold files or do not exist: an emptied one is gone whatever the value
    let _ = p.delete_parent_folder;
    Ok(Box::new(DeleteFiles { namespace, matcher }))
}

#[async_trait]
impl RunnableTask for DeleteFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = store(cx);
        let ns = &self.namespace;
        let matched: Vec<String> = list_all(store.as_ref(), ns)
            .await?
            .into_iter()
            .map(|f| f.path)
            .filter(|p| self.matcher.matches_ns(p))
            .collect();
        check_bound("files", matched.len(), "deletes")?;
        let mut deleted = 0usize;
        for path in &matched {
            if !store.delete(ns, path).await.map_err(|e| failed(ns, e))?.is_empty() {
                cx.log("DEBUG", &format!("Deleted {path}"));
                deleted += 1;
            }
        }
        cx.counter("deleted", deleted as f64, &[]);
        cx.info(&format!("deleted {deleted} files from namespace {ns}"));
        Ok(TaskOutput::empty())
    }
}

pub const DEF: PluginDef = PluginDef {
    type_name: TYPE,
    aliases: &[],
    group: "core",
    props: &[
        PropSpec::required("namespace", PropKind::String),
        PropSpec::required("files", PropKind::StringOrList),
        PropSpec::optional("deleteParentFolder", PropKind::Boolean),
    ],
    build,
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::backend::nsfiles::{NamespaceFiles, StoredNamespaceFiles};
    use crate::plugins::core::test_support::Env;

    async fn seeded(env: &Env) -> StoredNamespaceFiles {
        let files = StoredNamespaceFiles::new(env.storage.clone());
        for p in ["a.upl", "keep.txt", "dir/b.upl", "dir/sub/c.txt"] {
            files.put("tutorial", p, Box::pin(&b"x"[..])).await.unwrap();
        }
        files
    }

    async fn paths(files: &StoredNamespaceFiles) -> Vec<String> {
        files.list("tutorial", "").await.unwrap().into_iter().map(|f| f.path).collect()
    }

    #[tokio::test]
    async fn deletes_the_selected_files_only() {
        let env = Env::new();
        let files = seeded(&env).await;
        let out = env.run(&DEF, json!({"namespace": "tutorial", "files": ["**.upl"]})).await.unwrap();
        assert!(out.outputs.is_empty());
        assert_eq!(paths(&files).await, ["dir/sub/c.txt", "keep.txt"]);
        env.run(&DEF, json!({"namespace": "tutorial", "files": "/dir/**", "deleteParentFolder": true})).await.unwrap();
        assert_eq!(paths(&files).await, ["keep.txt"]);
        assert!(env.logs.text().contains(&"INFO deleted 1 files from namespace tutorial".to_string()));
        env.run(&DEF, json!({"namespace": "elsewhere", "files": "**"})).await.unwrap();
    }

    #[tokio::test]
    async fn refusals_name_the_property() {
        let env = Env::new();
        let e = env.run(&DEF, json!({"namespace": "a b", "files": "**"})).await.unwrap_err();
        assert!(e.to_string().contains("'namespace'"), "{e}");
        let e = env.run(&DEF, json!({"namespace": "a", "files": {"x": 1}})).await.unwrap_err();
        assert!(e.to_string().contains("'files'"), "{e}");
        let e = env.run(&DEF, json!({"namespace": "a"})).await.unwrap_err();
        assert!(e.to_string().contains("files"), "{e}");
    }
}
