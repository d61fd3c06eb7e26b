//! `io.kestra.plugin.gcp.firestore.Query` (plugin-gcp
//! `firestore/Query.java`): the documents of `collection` matching every
//! one of `filters` (`field`, `value` — a string, as Kestra's only kind —
//! and `operator`, EQUAL_TO by default), ordered by `orderBy` in
//! `orderDirection`, from `offset`, at most `limit`. `fetchType` (STORE by
//! default) says what becomes of them: FETCH_ONE `row`, FETCH `rows`, STORE
//! an Ion file `uri` (streamed as the documents arrive), NONE nothing; each
//! with `size`. Metric `records` (tag `collection`).

use std::sync::LazyLock;

use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::FirestoreProps;
use crate::gcp::common::docs_error;
use crate::jdbc::fetch::{FetchType, collect, fetch_type_ok};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_gcp::documents::{StructuredQuery, structured_query as sq, to_value};

/// Kestra's `QueryOperator`s, with Firestore's operator for each.
const OPERATORS: &[(&str, sq::field_filter::Operator)] = &[
    ("EQUAL_TO", sq::field_filter::Operator::Equal),
    ("NOT_EQUAL_TO", sq::field_filter::Operator::NotEqual),
    ("LESS_THAN", sq::field_filter::Operator::LessThan),
    ("LESS_THAN_OR_EQUAL_TO", sq::field_filter::Operator::LessThanOrEqual),
    ("GREATER_THAN", sq::field_filter::Operator::GreaterThan),
    ("GREATER_THAN_OR_EQUAL_TO", sq::field_filter::Operator::GreaterThanOrEqual),
];

/// One of `filters`: a where clause.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Filter {
    #[serde(deserialize_with = "de::string_lenient")]
    field: String,
    #[serde(deserialize_with = "de::string_lenient")]
    value: String,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    operator: Option<String>,
}

fn operator(s: Option<&str>) -> Result<sq::field_filter::Operator, String> {
    let name = s.map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty());
    let name = name.as_deref().unwrap_or("EQUAL_TO");
    OPERATORS.iter().find(|(n, _)| *n == name).map(|(_, op)| *op).ok_or_else(|| {
        let names: Vec<&str> = OPERATORS.iter().map(|(n, _)| *n).collect();
        format!("'{name}' is not an operator: use one of {}", names.join(", "))
    })
}

/// The filters as Firestore's where clause.
fn where_clause(filters: &[Filter]) -> Result<Option<sq::Filter>, TaskError> {
    let mut out = Vec::with_capacity(filters.len());
    for (i, f) in filters.iter().enumerate() {
        let op =
            operator(f.operator.as_deref()).map_err(|e| TaskError::property(&format!("filters[{i}].operator"), e))?;
        if f.field.trim().is_empty() {
            return Err(TaskError::property(&format!("filters[{i}].field"), "the field is empty"));
        }
        out.push(sq::Filter {
            filter_type: Some(sq::filter::FilterType::FieldFilter(sq::FieldFilter {
                field: Some(sq::FieldReference { field_path: f.field.trim().to_string() }),
                op: op as i32,
                value: Some(to_value(&Value::String(f.value.clone()))),
            })),
        });
    }
    Ok(match out.len() {
        0 => None,
        1 => out.pop(),
        _ => Some(sq::Filter {
            filter_type: Some(sq::filter::FilterType::CompositeFilter(sq::CompositeFilter {
                op: sq::composite_filter::Operator::And as i32,
                filters: out,
            })),
        }),
    })
}

/// `filters` as written (when not a template): a list of {field, value, operator}.
fn filters_ok(v: &Value) -> Result<(), String> {
    let Value::Array(items) = v else {
        return match v {
            Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
            Value::Null => Ok(()),
            other => Err(format!("expected a list of {{field, value, operator}}, found {other}")),
        };
    };
    for (i, item) in items.iter().enumerate() {
        if item.as_str().is_some_and(baton_model::expr::is_template) {
            continue;
        }
        let f: Filter = serde_json::from_value(item.clone()).map_err(|e| format!("filter {}: {e}", i + 1))?;
        match f.operator.as_deref() {
            Some(op) if baton_model::expr::is_template(op) => {}
            op => operator(op).map(|_| ()).map_err(|e| format!("filter {}: {e}", i + 1))?,
        }
    }
    Ok(())
}

fn direction_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => descending(Some(s)).map(|_| ()),
        _ => Ok(()),
    }
}

fn descending(s: Option<&str>) -> Result<bool, String> {
    match s.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        None | Some("") | Some("ASCENDING") => Ok(false),
        Some("DESCENDING") => Ok(true),
        Some(other) => Err(format!("'{other}' is not one of ASCENDING, DESCENDING")),
    }
}

/// Query Firestore documents.
///
/// Runs a query on a collection with filters, an order, an offset and a limit; fetchType says whether the documents become row, rows or an Ion file.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.firestore.Query",
    group = "gcp",
    example = "id: query\ntype: io.kestra.plugin.gcp.firestore.Query\ncollection: persons\nfilters:\n  - field: lastname\n    value: Doe\nfetchType: FETCH\n",
    outputs(
        row(Map, "The first document (fetchType FETCH_ONE)."),
        rows(List, "The documents (fetchType FETCH)."),
        uri(String, "An Ion file of the documents, one a line (fetchType STORE)."),
        size(Integer, "How many documents were fetched.")
    )
)]
struct Props {
    #[serde(flatten)]
    fs: FirestoreProps,
    /// What to do with the documents.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STORE", "FETCH", "FETCH_ONE", "NONE"], default = "\"STORE\"", check = fetch_type_ok)]
    fetch_type: Option<String>,
    /// Where clauses, all of which a document matches: {field, value (a string), operator}; operator is one of EQUAL_TO (the default), NOT_EQUAL_TO, LESS_THAN, LESS_THAN_OR_EQUAL_TO, GREATER_THAN, GREATER_THAN_OR_EQUAL_TO.
    #[serde(default)]
    #[prop(kind = "List", check = filters_ok)]
    filters: Option<Vec<Filter>>,
    /// The field to order by.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    order_by: Option<String>,
    /// The order.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ASCENDING", "DESCENDING"], default = "\"ASCENDING\"", check = direction_ok)]
    order_direction: Option<String>,
    /// Documents skipped first.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    offset: Option<u64>,
    /// The most documents returned.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    limit: Option<u64>,
}

struct Query {
    p: Props,
    kind: FetchType,
    query: StructuredQuery,
    parent: String,
    collection: String,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let kind = match p.fetch_type.as_deref() {
        None => FetchType::Store,
        Some(s) => FetchType::parse(s).map_err(|e| TaskError::property("fetchType", e))?,
    };
    let (parent, collection) = p.fs.collection()?;
    let desc = descending(p.order_direction.as_deref()).map_err(|e| TaskError::property("orderDirection", e))?;
    let int = |name: &str, v: Option<u64>| {
        v.map(|n| i32::try_from(n).map_err(|_| TaskError::property(name, format!("{n} is more than {}", i32::MAX))))
            .transpose()
    };
    let order_by = p.order_by.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(|f| sq::Order {
        field: Some(sq::FieldReference { field_path: f.to_string() }),
        direction: (if desc { sq::Direction::Descending } else { sq::Direction::Ascending }) as i32,
    });
    let query = StructuredQuery {
        select: None,
        from: vec![sq::CollectionSelector { collection_id: collection.clone(), all_descendants: false }],
        r#where: where_clause(p.filters.as_deref().unwrap_or_default())?,
        order_by: order_by.into_iter().collect(),
        start_at: None,
        end_at: None,
        offset: int("offset", p.offset)?.unwrap_or(0),
        limit: int("limit", p.limit)?,
        find_nearest: None,
    };
    Ok(Box::new(Query { p, kind, query, parent, collection }))
}

#[async_trait]
impl RunnableTask for Query {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (_, docs) = self.p.fs.connect(cx).await?;
        let mut query = self.query.clone();
        if self.kind == FetchType::FetchOne {
            // only the first is kept: ask for no more
            query.limit = Some(query.limit.map_or(1, |l| l.min(1)));
        }
        let rows = docs.query(&self.parent, query).await.map_err(docs_error)?;
        let rows = rows.map(|r| r.map_err(docs_error));
        let out = if self.kind == FetchType::None {
            // NONE: the query runs, its documents are counted, nothing is kept
            let mut rows = std::pin::pin!(rows);
            let mut n = 0u64;
            while let Some(r) = rows.next().await {
                r?;
                n += 1;
            }
            cx.counter("records", n as f64, &[("collection", self.collection.as_str())]);
            Map::new()
        } else {
            let out = collect(cx, self.kind, "result.ion", rows).await?;
            let n = out.get("size").and_then(Value::as_u64).unwrap_or(0);
            cx.counter("records", n as f64, &[("collection", self.collection.as_str())]);
            out
        };
        cx.info(&format!("Query on '{}' done", self.p.fs.collection));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn filters_and_options_are_checked() {
        assert!(
            filters_ok(&json!([{"field": "a", "value": "x"}, {"field": "n", "value": 3, "operator": "less_than"}]))
                .is_ok()
        );
        let e = filters_ok(&json!([{"field": "a", "value": "x", "operator": "IN"}])).unwrap_err();
        assert!(e.contains("filter 1") && e.contains("'IN' is not an operator"), "{e}");
        let e = filters_ok(&json!([{"field": "a", "value": "x", "op": "EQUAL_TO"}])).unwrap_err();
        assert!(e.contains("unknown field `op`"), "{e}");
        let e = build(&props(json!({"collection": "p", "orderDirection": "UP"}))).err().unwrap().to_string();
        assert!(e.contains("'orderDirection'"), "{e}");
        let e = build(&props(json!({"collection": "p", "fetchType": "ALL"}))).err().unwrap().to_string();
        assert!(e.contains("'fetchType'"), "{e}");
        let e = build(&props(json!({"collection": "p", "filters": [{"field": "a", "value": "1", "operator": "X"}]})))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("filters[0].operator"), "{e}");
        assert!(build(&props(json!({"collection": "p", "limit": 2, "offset": 1, "orderBy": "a"}))).is_ok());
    }

    #[test]
    fn the_where_clause_ands_the_filters() {
        let f = |field: &str, op: Option<&str>| Filter {
            field: field.into(),
            value: "v".into(),
            operator: op.map(Into::into),
        };
        assert!(where_clause(&[]).unwrap().is_none());
        match where_clause(&[f("a", None)]).unwrap().and_then(|w| w.filter_type) {
            Some(sq::filter::FilterType::FieldFilter(ff)) => {
                assert_eq!(ff.op, sq::field_filter::Operator::Equal as i32)
            }
            other => panic!("{other:?}"),
        }
        match where_clause(&[f("a", None), f("b", Some("greater_than"))]).unwrap().and_then(|w| w.filter_type) {
            Some(sq::filter::FilterType::CompositeFilter(c)) => assert_eq!(c.filters.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
