//! The Firestore tasks (`io.kestra.plugin.gcp.firestore.*`, plugin-gcp
//! `firestore/`): [`document`] (Set, Get, Delete: one document by its
//! `childPath` in `collection`) and [`query`] (Query: filters, order,
//! offset, limit, Kestra's `fetchType`). What they share — Kestra's
//! `AbstractFirestore` properties `collection` and `databaseId`, and the
//! checks of the paths — is here; the client is `baton_gcp::documents`.

pub mod document;
pub mod query;

use serde::Deserialize;

use super::common::{GcpProps, Resolved};
use crate::{Declare, RunContext, TaskError, de};
use baton_gcp::documents::Documents;

/// Registers the Firestore tasks.
pub fn register(r: &mut crate::Registry) {
    r.register(*document::SET);
    r.register(*document::GET);
    r.register(*document::DELETE);
    r.register(*query::DEF);
}

/// Kestra's default database.
pub const DEFAULT_DATABASE: &str = "(default)";

/// The properties every Firestore task has, `#[serde(flatten)]`ed into each one's.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct FirestoreProps {
    #[serde(flatten)]
    pub gcp: GcpProps,
    /// The collection: its name, or its path under a document (`users/alice/orders`).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = collection_ok)]
    pub collection: String,
    /// The Firestore database.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"(default)\"")]
    pub database_id: Option<String>,
}

/// The segments of a slash-separated path, none empty.
fn segments<'a>(property: &str, path: &'a str) -> Result<Vec<&'a str>, String> {
    let parts: Vec<&str> = path.trim().trim_matches('/').split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("'{path}' has an empty segment in {property}"));
    }
    if let Some(p) = parts.iter().find(|p| **p == "." || **p == ".." || (p.starts_with("__") && p.ends_with("__"))) {
        return Err(format!("'{p}' is a reserved Firestore id"));
    }
    Ok(parts)
}

/// `collection` as written: a collection's path has an odd number of segments.
fn collection_ok(v: &serde_json::Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => parse_collection(s).map(|_| ()),
        _ => Ok(()),
    }
}

/// `collection` → (the parent document's path, `""` at the root; the collection id).
pub fn parse_collection(path: &str) -> Result<(String, String), String> {
    let parts = segments("collection", path)?;
    if parts.len() % 2 == 0 {
        return Err(format!(
            "'{path}' is a document path, not a collection: a collection path has an odd number of segments"
        ));
    }
    match parts.split_last() {
        Some((id, parent)) => Ok((parent.join("/"), id.to_string())),
        None => Err(format!("'{path}' is empty")),
    }
}

/// `childPath` as written: a document id, or a path to a document under a subcollection.
fn child_ok(v: &serde_json::Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => parse_child(s).map(|_| ()),
        _ => Ok(()),
    }
}

/// `childPath` → its normalized path (an odd number of segments: `id` or `id/sub/id`).
pub fn parse_child(path: &str) -> Result<String, String> {
    let parts = segments("childPath", path)?;
    if parts.len() % 2 == 0 {
        return Err(format!(
            "'{path}' names a collection, not a document: a child path has an odd number of segments (id, or id/subcollection/id)"
        ));
    }
    Ok(parts.join("/"))
}

impl FirestoreProps {
    /// The collection's path, checked (its parent path and id).
    pub fn collection(&self) -> Result<(String, String), TaskError> {
        parse_collection(&self.collection).map_err(|e| TaskError::property("collection", e))
    }

    /// The path of the document `child` of the collection.
    pub fn document_path(&self, child: &str) -> Result<String, TaskError> {
        let (parent, id) = self.collection()?;
        let child = parse_child(child).map_err(|e| TaskError::property("childPath", e))?;
        Ok(if parent.is_empty() { format!("{id}/{child}") } else { format!("{parent}/{id}/{child}") })
    }

    /// The database (credentials and project resolved as every GCP task's).
    pub async fn connect(&self, cx: &RunContext) -> Result<(Resolved, Documents), TaskError> {
        let r = self.gcp.resolve(cx)?;
        let database = self.database_id.as_deref().map(str::trim).filter(|d| !d.is_empty()).unwrap_or(DEFAULT_DATABASE);
        let docs = r.firestore(cx, database).await?;
        Ok((r, docs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_and_child_paths() {
        assert_eq!(parse_collection("persons").unwrap(), (String::new(), "persons".into()));
        assert_eq!(parse_collection("/users/alice/orders").unwrap(), ("users/alice".into(), "orders".into()));
        assert!(parse_collection("users/alice").unwrap_err().contains("odd number"));
        assert!(parse_collection("users//x").unwrap_err().contains("empty segment"));
        assert_eq!(parse_child("1").unwrap(), "1");
        assert_eq!(parse_child("a/b/c").unwrap(), "a/b/c");
        assert!(parse_child("a/b").unwrap_err().contains("names a collection"));
        assert!(parse_child("__x__").unwrap_err().contains("reserved"));
    }
}
