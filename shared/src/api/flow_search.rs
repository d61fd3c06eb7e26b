//! `GET /flows/search`'s conditions: the older parameters (`namespace` —
//! the namespace and its children —, `q`, `labels`) and Kestra's
//! `filters[field][OPERATION]` on `namespace`, `id`/`flowId`, `q` and
//! `labels`, as Kestra 1.x and 2.0 clients send them. Pure: checked on the
//! parsed flows.

use super::error::{ApiError, ApiResult};
use super::query::{Params, in_namespace, label_from_str};
use super::search::{Text, text, unsupported};
use crate::model::{Flow, Label};

/// The parameters `GET /flows/search` takes.
pub const PARAMS: &[&str] = &["page", "size", "q", "namespace", "sort", "labels", "filters["];

/// The conditions of one flow search.
#[derive(Debug, Default)]
pub struct FlowSearch {
    /// Older `namespace=`: the namespace or one of its children.
    under: Option<String>,
    namespace: Vec<Text>,
    id: Vec<Text>,
    q: Option<String>,
    labels: Vec<Label>,
}

impl FlowSearch {
    pub fn from_params(p: &Params) -> ApiResult<FlowSearch> {
        let mut s = FlowSearch { under: p.get("namespace").map(str::to_string), ..FlowSearch::default() };
        s.q = p.get("q").map(str::to_lowercase);
        s.labels = p.labels("labels")?;
        for (k, parts, v) in super::query::filters(p) {
            let (field, op) = match parts.as_slice() {
                [f, o] | [f, o, _] => (*f, *o),
                _ => return Err(ApiError::bad_request(format!("'{k}' is not written filters[field][OPERATION]"))),
            };
            match field {
                "namespace" => s.namespace.push(text(field, op, v)?),
                "id" | "flowId" => s.id.push(text(field, op, v)?),
                "q" | "query" if op == "EQUALS" => s.q = Some(v.to_lowercase()),
                "labels" => match (op, parts.get(2)) {
                    ("EQUALS", Some(key)) => s.labels.push(Label { key: key.to_string(), value: v.clone() }),
                    ("EQUALS", None) => s.labels.push(label_from_str(v).map_err(ApiError::bad_request)?),
                    _ => return Err(unsupported(field, op, "EQUALS")),
                },
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "filters[{field}][{op}] is not supported by GET /flows/search in Baton (fields: namespace, id, q, labels)"
                    )));
                }
            }
        }
        Ok(s)
    }

    pub fn matches(&self, f: &Flow) -> bool {
        self.under.as_ref().is_none_or(|ns| in_namespace(&f.namespace, ns))
            && self.namespace.iter().all(|t| t.matches(&f.namespace))
            && self.id.iter().all(|t| t.matches(&f.id))
            && self.q.as_ref().is_none_or(|q| f.id.to_lowercase().contains(q) || f.namespace.to_lowercase().contains(q))
            && self.labels.iter().all(|l| f.labels.contains(l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(ns: &str, id: &str) -> Flow {
        let src = format!(
            "id: {id}\nnamespace: {ns}\nlabels:\n  team: data\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
        );
        let registry = crate::plugins::Registry::builtin();
        let (f, d) = crate::validate::validate_source("f.yaml", &src, &registry, &crate::template::Renderer::new());
        assert!(d.is_empty(), "{d:?}");
        f.expect("flow")
    }

    fn search(q: &str) -> ApiResult<FlowSearch> {
        FlowSearch::from_params(&Params::parse(Some(q), "GET /flows/search", PARAMS)?)
    }

    #[test]
    fn kestras_filters_and_the_older_parameters_select_flows() {
        let (a, b) = (flow("company.team", "load"), flow("company.team.sub", "other"));
        let s = search("filters%5Bnamespace%5D%5BEQUALS%5D=company.team").expect("parse");
        assert!(s.matches(&a) && !s.matches(&b), "EQUALS is exact");
        let s = search("namespace=company.team").expect("parse");
        assert!(s.matches(&a) && s.matches(&b), "the older parameter takes children");
        let s = search("filters[namespace][STARTS_WITH]=company&filters[id][EQUALS]=other").expect("parse");
        assert!(!s.matches(&a) && s.matches(&b));
        let s = search("filters[q][EQUALS]=LOA").expect("parse");
        assert!(s.matches(&a) && !s.matches(&b));
        let s = search("filters[labels][EQUALS][team]=data").expect("parse");
        assert!(s.matches(&a) && s.matches(&b));
        let s = search("filters[labels][EQUALS]=team:ops").expect("parse");
        assert!(!s.matches(&a));
    }

    #[test]
    fn an_unsupported_filter_is_named() {
        let e = search("filters[scope][EQUALS]=USER").expect_err("refused");
        assert!(e.message.contains("filters[scope][EQUALS]"), "{}", e.message);
        let e = search("filters[labels][CONTAINS]=x").expect_err("refused");
        assert!(e.message.contains("EQUALS"), "{}", e.message);
    }
}
