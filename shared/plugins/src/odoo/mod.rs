//! Odoo (`io.kestra.plugin.odoo.Query`, plugin-odoo): one operation on a
//! model over Odoo's external API, XML-RPC ([`xmlrpc`]). As Kestra: the
//! user is authenticated first (`common.authenticate` at
//! `{url}/xmlrpc/2/common`; a refusal fails the task), then `execute_kw` at
//! `{url}/xmlrpc/2/object` runs `search_read`, `read`, `create`, `write`,
//! `unlink`, `search` or `search_count` with Kestra's arguments (`filters`
//! as the domain, `fields`, `limit`, `offset` as keyword arguments).
//!
//! Outputs as Kestra's: `size`, and with `fetchType` (NONE by default)
//! FETCH `rows`, FETCH_ONE `row`, STORE `uri`; `SEARCH` gives `{id}` rows;
//! `CREATE` the new record's `ids`, `WRITE` and `UNLINK` the `ids` they
//! touched; `SEARCH_COUNT` the count as `size`. Each operation's required
//! properties (`ids`, `values`) are checked before anything is sent.
//!
//! One difference, on purpose: Kestra's STORE writes no file (its `uri` is
//! always null); Baton writes the rows as an Ion file, one record a line.
//! Each answer is read up to [`MAX_ANSWER`].

pub mod xmlrpc;

use std::sync::LazyLock;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::http;
use crate::jdbc::fetch::{FetchType, fetch_type_ok, write_ion_line};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// The operations, as Kestra names them, and the methods they call.
const OPERATIONS: [(&str, &str); 7] = [
    ("SEARCH_READ", "search_read"),
    ("READ", "read"),
    ("CREATE", "create"),
    ("WRITE", "write"),
    ("UNLINK", "unlink"),
    ("SEARCH", "search"),
    ("SEARCH_COUNT", "search_count"),
];

/// `Query`'s properties.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct QueryProps {
    /// The Odoo server's URL, with scheme and port (https://mycompany.odoo.com).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    url: String,
    /// The database.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    db: String,
    /// The user's login.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    username: String,
    /// The user's password or API key (use a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    password: String,
    /// The model (res.partner, sale.order…).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    model: String,
    /// SEARCH_READ, READ, CREATE, WRITE, UNLINK, SEARCH or SEARCH_COUNT.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required, values = ["SEARCH_READ", "READ", "CREATE", "WRITE", "UNLINK", "SEARCH", "SEARCH_COUNT"])]
    operation: String,
    /// The search domain: [field, operator, value] triples, ANDed (Odoo's '|' and '&' too).
    #[serde(default)]
    #[prop(dynamic, kind = "List")]
    filters: Option<Value>,
    /// The fields READ and SEARCH_READ return (all when unset).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    fields: Vec<String>,
    /// The field values CREATE and WRITE set.
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    values: Option<Value>,
    /// The records READ, WRITE and UNLINK work on.
    #[serde(default)]
    #[prop(dynamic, kind = "List")]
    ids: Option<Value>,
    /// The most records the searches return.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer")]
    limit: Option<u64>,
    /// How many records the searches skip first.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer")]
    offset: Option<u64>,
    /// NONE (default): size only; FETCH: rows; FETCH_ONE: row; STORE: an Ion file (uri).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["FETCH", "FETCH_ONE", "STORE", "NONE"], default = "\"NONE\"", check = fetch_type_ok)]
    fetch_type: Option<String>,
}

/// Run an operation on an Odoo model.
///
/// Authenticates, then runs SEARCH_READ, READ, CREATE, WRITE, UNLINK, SEARCH or SEARCH_COUNT on model over XML-RPC; outputs size and, per fetchType, rows, row or uri, or the ids created or touched.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.odoo.Query",
    group = "core",
    props = QueryProps,
    example = "id: partners\ntype: io.kestra.plugin.odoo.Query\nurl: https://mycompany.odoo.com\ndb: mycompany\nusername: \"{{ secret('ODOO_USERNAME') }}\"\npassword: \"{{ secret('ODOO_PASSWORD') }}\"\nmodel: res.partner\noperation: SEARCH_READ\nfilters:\n  - [is_company, \"=\", true]\nfields: [name, email]\nlimit: 10\nfetchType: FETCH\n",
    outputs(
        size(Integer, "How many records were returned, created or touched (the count for SEARCH_COUNT; 0 with fetchType NONE)."),
        rows(List, "The records (fetchType FETCH; {id} for SEARCH)."),
        row(Map, "The first record (fetchType FETCH_ONE)."),
        uri(String, "An Ion file of the records (fetchType STORE)."),
        ids(List, "The created record's ID (CREATE) or the records touched (WRITE, UNLINK).")
    )
)]
struct Query {
    url: String,
    db: String,
    username: String,
    password: String,
    model: String,
    operation: &'static str,
    method: &'static str,
    /// `execute_kw`'s positional and keyword arguments.
    args: Vec<Value>,
    kwargs: Map<String, Value>,
    ids: Vec<i64>,
    fetch: FetchType,
}

/// A list property that may arrive as a list or as JSON text.
fn list(name: &str, v: Option<Value>) -> Result<Vec<Value>, TaskError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Array(a)) => Ok(a),
            _ => Err(TaskError::property(name, format!("expected a list, found '{s}'"))),
        },
        Some(other) => Err(TaskError::property(name, format!("expected a list, found {other}"))),
    }
}

/// Record IDs: integers, or strings holding one (a rendered `{{ … }}`).
fn ids(v: Option<Value>) -> Result<Vec<i64>, TaskError> {
    list("ids", v)?
        .iter()
        .map(|id| {
            let n = match id {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            n.ok_or_else(|| TaskError::property("ids", format!("{id} is not a record ID")))
        })
        .collect()
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: QueryProps = parse_props(props)?;
    let operation = p.operation.trim().to_ascii_uppercase();
    let Some(&(operation, method)) = OPERATIONS.iter().find(|(o, _)| *o == operation) else {
        return Err(TaskError::property("operation", format!("'{}' is not one of {}", p.operation, names())));
    };
    let fetch = FetchType::parse(p.fetch_type.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("NONE"))
        .map_err(|m| TaskError::property("fetchType", m))?;
    let url = p.url.trim().trim_end_matches('/').to_string();
    http::parse_uri("url", &url)?;
    let ids = ids(p.ids)?;
    let values = match p.values {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        Some(Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(TaskError::property("values", "expected a map of field to value")),
        },
        Some(other) => return Err(TaskError::property("values", format!("expected a map, found {other}"))),
    };
    let domain = Value::Array(list("filters", p.filters)?);
    let need_ids = |what: &str| -> Result<(), TaskError> {
        if ids.is_empty() {
            return Err(TaskError::property("ids", format!("IDs are required for {what} operation")));
        }
        Ok(())
    };
    let need_values = |what: &str| -> Result<(), TaskError> {
        if values.is_empty() {
            return Err(TaskError::property("values", format!("Values are required for {what} operation")));
        }
        Ok(())
    };
    let fields = Value::from(p.fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()).collect::<Vec<_>>());
    let mut kwargs = Map::new();
    let with_fields = |kw: &mut Map<String, Value>| {
        if fields.as_array().is_some_and(|f| !f.is_empty()) {
            kw.insert("fields".into(), fields.clone());
        }
    };
    let paged = |kw: &mut Map<String, Value>| {
        if let Some(l) = p.limit {
            kw.insert("limit".into(), json!(l));
        }
        if let Some(o) = p.offset {
            kw.insert("offset".into(), json!(o));
        }
    };
    let ids_value = Value::from(ids.clone());
    let args = match operation {
        "SEARCH_READ" => {
            with_fields(&mut kwargs);
            paged(&mut kwargs);
            vec![domain]
        }
        "READ" => {
            need_ids("read")?;
            with_fields(&mut kwargs);
            vec![ids_value]
        }
        "CREATE" => {
            need_values("create")?;
            vec![Value::Object(values)]
        }
        "WRITE" => {
            need_ids("write")?;
            need_values("write")?;
            vec![ids_value, Value::Object(values)]
        }
        "UNLINK" => {
            need_ids("unlink")?;
            vec![ids_value]
        }
        "SEARCH" => {
            paged(&mut kwargs);
            vec![domain]
        }
        _ => vec![domain],
    };
    let text = |name: &str, v: String| -> Result<String, TaskError> {
        let v = v.trim().to_string();
        if v.is_empty() { Err(TaskError::property(name, "is required")) } else { Ok(v) }
    };
    Ok(Box::new(Query {
        url,
        db: text("db", p.db)?,
        username: text("username", p.username)?,
        password: p.password,
        model: text("model", p.model)?,
        operation,
        method,
        args,
        kwargs,
        ids,
        fetch,
    }))
}

fn names() -> String {
    OPERATIONS.iter().map(|(o, _)| *o).collect::<Vec<_>>().join(", ")
}

impl Query {
    /// One XML-RPC call to `{url}/xmlrpc/2/{service}`.
    async fn rpc(&self, cx: &RunContext, service: &str, method: &str, params: &[Value]) -> Result<Value, TaskError> {
        let url = Url::parse(&format!("{}/xmlrpc/2/{service}", self.url))
            .map_err(|e| TaskError::property("url", format!("'{}': {e}", self.url)))?;
        let rb = cx
            .services
            .http
            .request(Method::POST, url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/xml")
            .body(xmlrpc::call(method, params));
        let (status, bytes) = http::call(rb, &Method::POST, "Odoo", &url, MAX_ANSWER).await?;
        if !status.is_success() {
            return Err(http::status_error(status, &bytes, &Method::POST, &url));
        }
        xmlrpc::response(&bytes).map_err(|e| match e {
            // as Kestra words it: the model and its method, not execute_kw
            xmlrpc::Answer::Fault(said) if service == "object" => {
                TaskError::failed(format!("Failed to execute {}.{}: {said}", self.model, self.method))
            }
            xmlrpc::Answer::Fault(said) => TaskError::failed(said),
            xmlrpc::Answer::Malformed(why) => {
                TaskError::failed(format!("Odoo's answer to {method} at {} is not XML-RPC: {why}", url.path()))
            }
        })
    }

    /// The user's ID, from `common.authenticate`.
    async fn authenticate(&self, cx: &RunContext) -> Result<i64, TaskError> {
        let params = [json!(self.db), json!(self.username), json!(self.password), json!({})];
        let answer = self
            .rpc(cx, "common", "authenticate", &params)
            .await
            .map_err(|e| TaskError::failed(format!("Failed to authenticate with Odoo: {e}")))?;
        answer.as_i64().ok_or_else(|| {
            TaskError::failed(format!(
                "Failed to authenticate with Odoo: user '{}' was refused on database '{}' (Odoo answered {answer})",
                self.username, self.db
            ))
        })
    }

    /// `size` and the rows' output for `records`.
    async fn rows(&self, cx: &RunContext, records: Vec<Value>) -> Result<Map<String, Value>, TaskError> {
        let mut out = Map::new();
        let size = match self.fetch {
            FetchType::None => 0,
            FetchType::FetchOne => {
                let first = records.into_iter().next();
                let n = usize::from(first.is_some());
                if let Some(r) = first {
                    out.insert("row".into(), r);
                }
                n
            }
            FetchType::Fetch => {
                let n = records.len();
                out.insert("rows".into(), Value::Array(records));
                n
            }
            FetchType::Store => {
                let mut ion = Vec::new();
                for r in &records {
                    if let Value::Object(m) = r {
                        write_ion_line(m, &mut ion)?;
                    }
                }
                let (uri, _) = cx.put_file("rows.ion", Box::pin(std::io::Cursor::new(ion))).await?;
                out.insert("uri".into(), Value::String(uri));
                records.len()
            }
        };
        out.insert("size".into(), json!(size));
        Ok(out)
    }
}

#[async_trait]
impl RunnableTask for Query {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        cx.info(&format!("Connecting to Odoo server: {} with database: {}", self.url, self.db));
        let uid = self.authenticate(cx).await?;
        cx.info(&format!("Authentication successful. Executing {} operation on model {}", self.method, self.model));
        let mut params = vec![
            json!(self.db),
            json!(uid),
            json!(self.password),
            json!(self.model),
            json!(self.method),
            Value::Array(self.args.clone()),
        ];
        if !self.kwargs.is_empty() {
            params.push(Value::Object(self.kwargs.clone()));
        }
        let answer = self.rpc(cx, "object", "execute_kw", &params).await?;
        let records = |a: Value| match a {
            Value::Array(a) => a,
            other => vec![other],
        };
        let out = match self.operation {
            "SEARCH_READ" | "READ" => self.rows(cx, records(answer)).await?,
            "SEARCH" => {
                let rows = records(answer).into_iter().map(|id| json!({ "id": id })).collect();
                self.rows(cx, rows).await?
            }
            "CREATE" => Map::from_iter([("ids".to_string(), json!([answer])), ("size".to_string(), json!(1))]),
            "WRITE" | "UNLINK" => {
                Map::from_iter([("ids".to_string(), json!(self.ids)), ("size".to_string(), json!(self.ids.len()))])
            }
            _ => Map::from_iter([("size".to_string(), json!(answer.as_i64().unwrap_or(0)))]),
        };
        cx.info(&format!(
            "Operation {} completed successfully. Records affected/returned: {}",
            self.method,
            out.get("size").unwrap_or(&Value::Null)
        ));
        Ok(TaskOutput::with(out))
    }
}

pub static QUERY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Query>(build));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    r.register(*QUERY);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn each_operation_s_properties_are_checked() {
        let base =
            json!({"url": "http://127.0.0.1:8069", "db": "d", "username": "u", "password": "p", "model": "crm.lead"});
        let with = |k: &str, v: Value| {
            let mut p = base.clone();
            p[k] = v;
            p
        };
        let mut p = with("operation", json!("WRITE"));
        p["values"] = json!({"name": "x"});
        assert!(build(&props(p.clone())).err().unwrap().to_string().contains("IDs are required for write"));
        p["ids"] = json!(["7", 8]);
        assert!(build(&props(p)).is_ok());
        assert!(build(&props(with("operation", json!("CREATE")))).err().unwrap().to_string().contains("values"));
        assert!(build(&props(with("operation", json!("DELETE")))).err().unwrap().to_string().contains("operation"));
        let mut p = with("operation", json!("READ"));
        p["ids"] = json!(["x"]);
        assert!(build(&props(p)).err().unwrap().to_string().contains("not a record ID"));
        let mut p = with("operation", json!("SEARCH_READ"));
        p["filters"] = json!("[[\"type\", \"=\", \"lead\"]]");
        assert!(build(&props(p)).is_ok());
    }
}
