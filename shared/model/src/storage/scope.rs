//! Which internal-storage files an execution may read: those of its own
//! namespace (its files, its inputs, its namespace files — not a child
//! namespace's), and those of the
//! execution that started it (a `Subflow` or `ForEachItem` parent, named by
//! the `trigger` variables `namespace`, `flowId`, `executionId`, as Kestra
//! sets them). Kestra refuses any other `kestra://` URI; so does every
//! reader here — `read()`, `inputFiles` and each task's `from`. Pure.

use super::{StorageUriError, execution_prefix, storage_path};

/// The execution that started this one, as its trigger names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Starter {
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
}

impl Starter {
    /// From a template context's `trigger` object, when it names an execution.
    pub fn from_trigger(trigger: &serde_json::Value) -> Option<Starter> {
        let s = |k: &str| trigger.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        Some(Starter { namespace: s("namespace")?, flow_id: s("flowId")?, execution_id: s("executionId")? })
    }
}

fn namespace_prefix(namespace: &str) -> String {
    format!("/{}/", namespace.replace('.', "/"))
}

/// The storage path of `uri` if an execution of `namespace`, started by
/// `starter`, may read it; an error naming the file and the rule otherwise.
pub fn readable_path(uri: &str, namespace: &str, starter: Option<&Starter>) -> Result<String, StorageUriError> {
    let path = storage_path(uri)?;
    check(&path, namespace, starter)?;
    Ok(path)
}

/// Whether an execution of `namespace`, started by `starter`, may read the
/// storage path `path` (as [`storage_path`] returns it).
pub fn check(path: &str, namespace: &str, starter: Option<&Starter>) -> Result<(), StorageUriError> {
    // `{namespace}/{flow}/executions/…` or `{namespace}/_files/…`, exactly:
    // a parent namespace does not read its children's files
    if let Some(rest) = path.strip_prefix(&namespace_prefix(namespace)) {
        let mut segs = rest.split('/');
        let (first, second) = (segs.next(), segs.next());
        if first == Some("_files") || second == Some("executions") {
            return Ok(());
        }
    }
    if let Some(s) = starter {
        let prefix = execution_prefix(&s.namespace, &s.flow_id, &s.execution_id);
        if path.starts_with(&format!("{prefix}/")) {
            return Ok(());
        }
    }
    Err(StorageUriError(format!(
        "Unable to read the file 'kestra://{path}': it belongs neither to namespace '{namespace}' nor to the \
         execution that started this one (an execution reads only its namespace's files)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_reads_its_namespace_and_its_starter_only() {
        let own = "kestra:///company/team/f/executions/e1/tasks/t/tr/out.csv";
        assert_eq!(
            readable_path(own, "company.team", None).unwrap(),
            "/company/team/f/executions/e1/tasks/t/tr/out.csv"
        );
        // a sibling flow of the same namespace, and namespace files
        assert!(readable_path("kestra:///company/team/g/executions/e2/x", "company.team", None).is_ok());
        assert!(readable_path("kestra:///company/team/_files/a.sql", "company.team", None).is_ok());
        // another namespace, the parent namespace, a name sharing a prefix
        for other in [
            "kestra:///other/f/executions/e/x",
            "kestra:///company/f/executions/e/x",
            "kestra:///company/teamx/f/executions/e/x",
            "kestra:///company/team/sub/f/executions/e/x",
        ] {
            let e = readable_path(other, "company.team", None).unwrap_err().to_string();
            assert!(e.contains(other) && e.contains("'company.team'"), "{e}");
        }
        // the parent of a subflow in another namespace: its execution's files only
        let starter = Starter { namespace: "other".into(), flow_id: "parent".into(), execution_id: "p1".into() };
        assert!(
            readable_path("kestra:///other/parent/executions/p1/tasks/s/x.ion", "company.team", Some(&starter)).is_ok()
        );
        assert!(readable_path("kestra:///other/parent/executions/p2/x", "company.team", Some(&starter)).is_err());
        assert!(readable_path("kestra:///other/parent/executions/p1x/x", "company.team", Some(&starter)).is_err());
        // traversal stays refused
        assert!(readable_path("kestra:///company/team/../../other/x", "company.team", None).is_err());
    }

    #[test]
    fn the_starter_comes_from_the_trigger_variables() {
        let t = serde_json::json!({"id": "call", "type": "io.kestra.plugin.core.flow.Subflow",
            "namespace": "a.b", "flowId": "p", "executionId": "e"});
        let s = Starter::from_trigger(&t).unwrap();
        assert_eq!((s.namespace.as_str(), s.flow_id.as_str(), s.execution_id.as_str()), ("a.b", "p", "e"));
        assert_eq!(Starter::from_trigger(&serde_json::json!({"date": "2024-01-01"})), None);
    }
}
