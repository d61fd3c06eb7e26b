//! `io.kestra.plugin.core.namespace.DeleteFiles`: deletes the files of
//! `namespace` that `files` (a pattern or a list, see [`super::matcher`])
//! selects, with their kept revisions. Kestra's task has no outputs: it
//! records the counter `deleted`, as here.
//!
//! `deleteParentFolder` (default false, as Kestra): the folders enclosing
//! a deleted file that are left empty — no file, no kept sub-folder — are
//! kept as empty folders with `false` (they still show in the folder view)
//! and removed with `true`, deepest first, so a parent emptied by that
//! removal goes too (see [`baton_backend::nsfiles::folders`]).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::matcher::PathMatcher;
use super::{check_bound, failed, list_all, namespace_prop, patterns, store};
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::{NamespaceFiles, folders};

pub const TYPE: &str = "io.kestra.plugin.core.namespace.DeleteFiles";

/// Delete namespace files.
///
/// Deletes the files of `namespace` matching `files`, with their revisions. Counter `deleted`; no outputs.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: delete\ntype: io.kestra.plugin.core.namespace.DeleteFiles\nnamespace: tutorial\nfiles:\n  - \"**.upl\"\n",
)]
struct Props {
    /// The namespace whose files are changed or read (any namespace).
    #[serde(deserialize_with = "de::string_lenient")]
    namespace: String,
    /// A pattern or a list of patterns on the namespace files: a glob (`**` crosses folders; one starting with a letter matches that name in any folder), or `glob:…` / `regex:…` on the path with its leading `/`.
    #[prop(kind = "StringOrList")]
    files: Value,
    /// Remove the folders the deletions leave empty (deepest first); false keeps them as empty folders.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    delete_parent_folder: Option<bool>,
}

/// `namespace.DeleteFiles`.
#[derive(Debug)]
struct DeleteFiles {
    namespace: String,
    matcher: PathMatcher,
    delete_parent_folder: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let namespace = namespace_prop(&p.namespace)?;
    let matcher = PathMatcher::for_namespace("files", &patterns("files", &p.files)?)?;
    Ok(Box::new(DeleteFiles { namespace, matcher, delete_parent_folder: p.delete_parent_folder.unwrap_or(false) }))
}

impl DeleteFiles {
    /// Keeps (`deleteParentFolder: false`) or removes (`true`) the emptied
    /// folders among `parents`, deepest first.
    async fn settle_folders(
        &self,
        cx: &RunContext,
        store: &dyn NamespaceFiles,
        parents: std::collections::BTreeSet<String>,
    ) -> Result<(), TaskError> {
        let ns = &self.namespace;
        let mut parents: Vec<String> = parents.into_iter().collect();
        parents.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
        for folder in &parents {
            let files = store.list(ns, folder).await.map_err(|e| failed(ns, e))?;
            let kept = store.folders(ns, folder).await.map_err(|e| failed(ns, e))?;
            // empty: no file, and no kept folder but itself
            if !files.is_empty() || kept.iter().any(|k| k != folder) {
                continue;
            }
            if self.delete_parent_folder {
                if store.forget_folder(ns, folder).await.map_err(|e| failed(ns, e))? || kept.is_empty() {
                    cx.log("DEBUG", &format!("Deleted empty folder: {folder}"));
                }
            } else {
                store.keep_folder(ns, folder).await.map_err(|e| failed(ns, e))?;
            }
        }
        Ok(())
    }
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
        let mut parents = std::collections::BTreeSet::new();
        for path in &matched {
            if !store.delete(ns, path).await.map_err(|e| failed(ns, e))?.is_empty() {
                cx.log("DEBUG", &format!("Deleted {path}"));
                deleted += 1;
                parents.extend(folders::ancestors(path));
            }
        }
        self.settle_folders(cx, store.as_ref(), parents).await?;
        cx.counter("deleted", deleted as f64, &[]);
        cx.info(&format!("deleted {deleted} files from namespace {ns}"));
        Ok(TaskOutput::empty())
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::nsfiles::StoredNamespaceFiles;

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
        assert!(files.folders("tutorial", "").await.unwrap().is_empty(), "dir still holds a file");
        env.run(&DEF, json!({"namespace": "tutorial", "files": "/dir/**", "deleteParentFolder": true})).await.unwrap();
        assert_eq!(paths(&files).await, ["keep.txt"]);
        assert!(files.folders("tutorial", "").await.unwrap().is_empty(), "emptied folders removed");
        assert!(env.logs.text().contains(&"INFO deleted 1 files from namespace tutorial".to_string()));
        env.run(&DEF, json!({"namespace": "elsewhere", "files": "**"})).await.unwrap();
    }

    #[tokio::test]
    async fn emptied_folders_are_kept_by_default_and_removed_on_request() {
        let env = Env::new();
        let files = seeded(&env).await;
        files.put("tutorial", "dir/other/d.txt", Box::pin(&b"x"[..])).await.unwrap();
        // Kestra's default: dir/sub, emptied, stays; dir still holds files
        env.run(&DEF, json!({"namespace": "tutorial", "files": "dir/sub/c.txt"})).await.unwrap();
        assert_eq!(files.folders("tutorial", "").await.unwrap(), ["dir/sub"]);
        let kept = files.folders("tutorial", "").await.unwrap();
        let view = baton_backend::nsfiles::directory_entries(&files.list("tutorial", "").await.unwrap(), &kept, "dir");
        assert!(view.contains(&("sub".to_string(), None)), "the empty folder shows: {view:?}");
        // emptying dir: dir keeps its kept sub-folder, so only dir/other is kept besides
        env.run(
            &DEF,
            json!({"namespace": "tutorial", "files": ["dir/b.upl", "dir/other/d.txt"],
                              "deleteParentFolder": "false"}),
        )
        .await
        .unwrap();
        assert_eq!(files.folders("tutorial", "").await.unwrap(), ["dir/other", "dir/sub"]);
        // true: a deleted file's emptied folders go, deepest first, parents with them
        files.put("tutorial", "dir/sub/e.txt", Box::pin(&b"x"[..])).await.unwrap();
        env.run(&DEF, json!({"namespace": "tutorial", "files": "dir/sub/e.txt", "deleteParentFolder": true}))
            .await
            .unwrap();
        assert_eq!(files.folders("tutorial", "").await.unwrap(), ["dir/other"], "dir/sub removed, dir not empty");
        assert!(env.logs.text().iter().any(|l| l.contains("Deleted empty folder: dir/sub")));
        files.put("tutorial", "dir/other/f.txt", Box::pin(&b"x"[..])).await.unwrap();
        env.run(&DEF, json!({"namespace": "tutorial", "files": "dir/other/*", "deleteParentFolder": true}))
            .await
            .unwrap();
        assert!(files.folders("tutorial", "").await.unwrap().is_empty(), "dir/other then dir removed");
        assert_eq!(paths(&files).await, ["a.upl", "keep.txt"]);
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
