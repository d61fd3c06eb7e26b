//! `io.kestra.plugin.gcp.firestore.Set`, `Get` and `Delete` (plugin-gcp
//! `firestore/{Set,Get,Delete}.java`): one document, `childPath` under
//! `collection`.
//! - Set replaces (or creates) the document with `document` — a map, or a
//!   JSON string of one; no `childPath` makes a new document with a random
//!   id, as Google's client does. Output `updatedTime`.
//! - Get outputs its fields as `row` (absent when there is no document).
//! - Delete deletes it (absent is fine) and outputs `updatedTime`, the
//!   commit's time.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{FirestoreProps, child_ok};
use crate::gcp::common::docs_error;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_gcp::documents::auto_id;

fn instant(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// `document` as written: a map, a JSON string of one, or a template.
fn document_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Null | Value::Object(_) => Ok(()),
        Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
        Value::String(s) => fields(s).map(|_| ()),
        other => Err(format!("expected a map or a JSON string of one, found {other}")),
    }
}

/// A rendered JSON string as the document's fields.
fn fields(s: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!("the document must be a JSON object, found {other}")),
        Err(e) => Err(format!("the document is not JSON: {e}")),
    }
}

/// Create or replace a Firestore document.
///
/// Writes a document in the collection: a map, or a JSON string of one; without childPath its id is generated. Outputs updatedTime.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.firestore.Set",
    group = "gcp",
    example = "id: set\ntype: io.kestra.plugin.gcp.firestore.Set\ncollection: persons\nchildPath: \"1\"\ndocument:\n  firstname: John\n  lastname: Doe\n",
    outputs(updatedTime(String, "When the document was written."))
)]
struct SetProps {
    #[serde(flatten)]
    fs: FirestoreProps,
    /// The document: a map, or a JSON string of one.
    #[serde(default)]
    #[prop(kind = "Any", check = document_ok)]
    document: Value,
    /// The document's path under the collection (an id); a random id when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(check = child_ok)]
    child_path: Option<String>,
}

struct Set {
    p: SetProps,
    fields: Map<String, Value>,
}

fn build_set(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SetProps = parse_props(props)?;
    let fields = match &p.document {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        Value::String(s) => fields(s).map_err(|e| TaskError::property("document", e))?,
        other => {
            return Err(TaskError::property("document", format!("expected a map or a JSON string, found {other}")));
        }
    };
    p.fs.collection()?;
    Ok(Box::new(Set { p, fields }))
}

#[async_trait]
impl RunnableTask for Set {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let child = self.p.child_path.clone().filter(|c| !c.trim().is_empty()).unwrap_or_else(auto_id);
        let path = self.p.fs.document_path(&child)?;
        let (_, docs) = self.p.fs.connect(cx).await?;
        let at = docs.set(&path, &self.fields).await.map_err(docs_error)?;
        cx.info(&format!("Set document '{path}' ({} fields)", self.fields.len()));
        let mut out = Map::new();
        out.insert("updatedTime".into(), instant(at));
        Ok(TaskOutput::with(out))
    }
}

pub static SET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SetProps>(build_set));

/// Get a Firestore document.
///
/// Reads one document by its path under the collection; outputs its fields as row.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.firestore.Get",
    group = "gcp",
    example = "id: get\ntype: io.kestra.plugin.gcp.firestore.Get\ncollection: persons\nchildPath: \"1\"\n",
    outputs(row(Map, "The document's fields (absent when there is no such document)."))
)]
struct GetProps {
    #[serde(flatten)]
    fs: FirestoreProps,
    /// The document's path under the collection (an id).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = child_ok)]
    child_path: String,
}

struct Get {
    p: GetProps,
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: GetProps = parse_props(props)?;
    p.fs.document_path(&p.child_path)?;
    Ok(Box::new(Get { p }))
}

#[async_trait]
impl RunnableTask for Get {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let path = self.p.fs.document_path(&self.p.child_path)?;
        let (_, docs) = self.p.fs.connect(cx).await?;
        let mut out = Map::new();
        match docs.get(&path).await.map_err(docs_error)? {
            Some(row) => {
                cx.info(&format!("Got document '{path}'"));
                out.insert("row".into(), Value::Object(row));
            }
            None => cx.warn(&format!("No document '{path}'")),
        }
        Ok(TaskOutput::with(out))
    }
}

pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<GetProps>(build_get));

/// Delete a Firestore document.
///
/// Deletes one document by its path under the collection (a missing one is not an error); outputs updatedTime.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.firestore.Delete",
    group = "gcp",
    example = "id: delete\ntype: io.kestra.plugin.gcp.firestore.Delete\ncollection: persons\nchildPath: \"1\"\n",
    outputs(updatedTime(String, "When the delete was committed."))
)]
struct DeleteProps {
    #[serde(flatten)]
    fs: FirestoreProps,
    /// The document's path under the collection (an id).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = child_ok)]
    child_path: String,
}

struct Delete {
    p: DeleteProps,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeleteProps = parse_props(props)?;
    p.fs.document_path(&p.child_path)?;
    Ok(Box::new(Delete { p }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let path = self.p.fs.document_path(&self.p.child_path)?;
        let (_, docs) = self.p.fs.connect(cx).await?;
        let at = docs.delete(&path).await.map_err(docs_error)?;
        cx.info(&format!("Deleted document '{path}'"));
        let mut out = Map::new();
        out.insert("updatedTime".into(), instant(at));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn documents_are_maps_or_json_strings() {
        assert!(build_set(&props(json!({"collection": "p", "document": "{\"a\": 1}"}))).is_ok());
        assert!(build_set(&props(json!({"collection": "p"}))).is_ok());
        let e = build_set(&props(json!({"collection": "p", "document": "[1]"}))).err().unwrap().to_string();
        assert!(e.contains("'document'") && e.contains("JSON object"), "{e}");
        let e = build_set(&props(json!({"collection": "p", "document": 3}))).err().unwrap().to_string();
        assert!(e.contains("'document'"), "{e}");
        let e = build_get(&props(json!({"collection": "a/b", "childPath": "1"}))).err().unwrap().to_string();
        assert!(e.contains("'collection'") && e.contains("odd number"), "{e}");
        let e = build_delete(&props(json!({"collection": "a", "childPath": "x/y"}))).err().unwrap().to_string();
        assert!(e.contains("'childPath'"), "{e}");
        assert!(document_ok(&json!("{{ inputs.doc }}")).is_ok());
        assert!(document_ok(&json!(true)).is_err());
    }
}
