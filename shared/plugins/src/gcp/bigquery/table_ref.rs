//! Table names as Kestra's BigQuery tasks take them: `dataset.table` (in
//! the task's project) or `project.dataset.table`; backticks and the legacy
//! `project:dataset.table` are accepted too; [`TableProps`], the
//! properties of the tasks on one table.

use serde::Deserialize;
use serde_json::{Value, json};

use super::job::BqProps;
use crate::{Declare, TaskError, de};

/// Kestra's `AbstractTable`: the BigQuery properties and one table.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct TableProps {
    #[serde(flatten)]
    pub bq: BqProps,
    /// The dataset.
    #[serde(deserialize_with = "de::string_lenient")]
    pub dataset: String,
    /// The table.
    #[serde(deserialize_with = "de::string_lenient")]
    pub table: String,
}

/// A fully qualified table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub project: String,
    pub dataset: String,
    pub table: String,
}

impl TableRef {
    /// Parses `name` for `property`, with `project` as the default project.
    pub fn parse(property: &str, name: &str, project: Option<&str>) -> Result<TableRef, TaskError> {
        let clean = name.trim().trim_matches('`').replace(':', ".");
        let parts: Vec<&str> = clean.split('.').map(|p| p.trim().trim_matches('`')).collect();
        let invalid = || TaskError::property(property, format!("Invalid table name '{}'", name.trim()));
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid());
        }
        match parts.as_slice() {
            [d, t] => {
                let project = project.ok_or_else(|| {
                    TaskError::property(
                        property,
                        format!("'{}' names no project and projectId is not set", name.trim()),
                    )
                })?;
                Ok(TableRef { project: project.to_string(), dataset: d.to_string(), table: t.to_string() })
            }
            [p, d, t] => Ok(TableRef { project: p.to_string(), dataset: d.to_string(), table: t.to_string() }),
            _ => Err(invalid()),
        }
    }

    /// BigQuery's `TableReference` JSON.
    pub fn to_json(&self) -> Value {
        json!({"projectId": self.project, "datasetId": self.dataset, "tableId": self.table})
    }

    /// From a `TableReference` JSON.
    pub fn from_json(v: &Value) -> Option<TableRef> {
        Some(TableRef {
            project: v["projectId"].as_str()?.to_string(),
            dataset: v["datasetId"].as_str()?.to_string(),
            table: v["tableId"].as_str()?.to_string(),
        })
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.project, self.dataset, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kestra_table_names() {
        let t = TableRef::parse("destinationTable", "ds.t1", Some("p")).unwrap();
        assert_eq!(t.to_string(), "p.ds.t1");
        assert_eq!(TableRef::parse("x", "`other.ds.t`", Some("p")).unwrap().project, "other");
        assert_eq!(TableRef::parse("x", "other:ds.t", None).unwrap().dataset, "ds");
        assert!(TableRef::parse("x", "t", Some("p")).unwrap_err().to_string().contains("Invalid table name 't'"));
        assert!(TableRef::parse("x", "ds.t", None).unwrap_err().to_string().contains("projectId"));
        assert!(TableRef::parse("x", "a..b", Some("p")).is_err());
    }
}
